"""Calling the OCI runtime (runc's command line; crun takes the same one).

Every call names the runtime's state directory (``--root``) under the data root's exec root, so
two data roots never see each other's containers, and asks for a JSON log (``--log``) so that a
failure's message can be read apart from the container's own stderr.
"""

from __future__ import annotations

import os

from ..errors import RuntimeFailure
from ..value import Value


class RuntimeCLI(Value):
    """One OCI runtime's command line over one state directory (``--root``)."""

    __slots__ = ("path", "state_root", "args", "name")

    def __init__(self, path: str, state_root: str, args: tuple[str, ...] = (), name: str = "runc") -> None:
        self._init(path=path, state_root=state_root, args=args, name=name)

    def argv(self, *args: str, log: str | None = None) -> list[str]:
        base = [self.path, *self.args, "--root", self.state_root]
        if log:
            base += ["--log", log, "--log-format", "json"]
        return base + list(args)

    def run(self, *args: str, check: bool = True, input: bytes | None = None, timeout: float = 60) -> Completed:
        proc = run_captured(self.argv(*args), input, timeout)
        if proc.returncode is None:
            raise RuntimeFailure(f"{self.name} {args[0]} did not finish in {timeout:g} s (killed)")
        if check and proc.returncode != 0:
            raise RuntimeFailure(f"{self.name} {args[0]} failed: {_last_line(proc.stderr)}")
        return proc

    def state(self, container_id: str) -> dict | None:
        proc = self.run("state", container_id, check=False)
        if proc.returncode != 0:
            return None
        try:
            from .. import jsonc

            return jsonc.loads(proc.stdout)
        except ValueError:
            return None

    def kill(self, container_id: str, signal: int, all_processes: bool = False) -> bool:
        args = ["kill"] + (["--all"] if all_processes else []) + [container_id, str(signal)]
        return self.run(*args, check=False).returncode == 0

    def has_state(self, container_id: str) -> bool:
        """Whether the runtime keeps state for the container (runc's ``<root>/<id>/``)."""
        return os.path.lexists(os.path.join(self.state_root, container_id))

    def delete(self, container_id: str) -> None:
        self.run("delete", "--force", container_id, check=False)


class Completed(Value):
    """A finished runtime command: what callers read of ``subprocess.CompletedProcess``
    (``returncode`` None: killed at its timeout)."""

    __slots__ = ("args", "returncode", "stdout", "stderr")

    def __init__(self, args: list[str], returncode: int | None, stdout: bytes, stderr: bytes) -> None:
        self._init(args=args, returncode=returncode, stdout=stdout, stderr=stderr)


def run_captured(argv: list[str], input: bytes | None = None, timeout: float | None = 60) -> Completed:
    """``subprocess.run(argv, input=input, capture_output=True)`` by ``os.posix_spawnp`` and two
    pipes: ``import subprocess`` (re, locale, threading, selectors) costs more than runc's own
    run, and ``stop``, ``kill``, ``pause`` make one or two runtime calls each on the lean path.
    stdin is /dev/null unless ``input`` is given; past ``timeout`` the command is killed."""
    import select
    import time

    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    in_r, in_w = os.pipe() if input else (-1, -1)
    actions = [(os.POSIX_SPAWN_DUP2, out_w, 1), (os.POSIX_SPAWN_DUP2, err_w, 2),
               (os.POSIX_SPAWN_DUP2, in_r, 0) if in_r >= 0 else (os.POSIX_SPAWN_OPEN, 0, os.devnull, os.O_RDONLY, 0)]
    actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inheritable_fds()]  # subprocess's close_fds
    try:
        pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
    except BaseException:
        for fd in (out_r, in_w):
            if fd >= 0:
                os.close(fd)
        os.close(err_r)
        raise
    finally:
        for fd in (out_w, err_w, in_r):
            if fd >= 0:
                os.close(fd)
    chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
    readers = [out_r, err_r]
    pending = memoryview(input) if input else memoryview(b"")
    deadline = None if timeout is None else time.monotonic() + timeout
    code = None
    try:
        while readers or in_w >= 0:
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                os.kill(pid, 9)
                break
            readable, writable, _ = select.select(readers, [in_w] if in_w >= 0 else [], [], left)
            for fd in readable:
                data = os.read(fd, 65536)
                if data:
                    chunks[fd].append(data)
                else:
                    readers.remove(fd)
            if writable:
                try:
                    pending = pending[os.write(in_w, pending[:65536]):]
                except BrokenPipeError:
                    pending = pending[:0]
                if not pending:
                    os.close(in_w)
                    in_w = -1
        _, status = os.waitpid(pid, 0)
        if not readers and in_w < 0:
            code = os.waitstatus_to_exitcode(status)
    finally:
        for fd in (out_r, err_r, in_w):
            if fd >= 0:
                os.close(fd)
    return Completed(argv, code, b"".join(chunks[out_r]), b"".join(chunks[err_r]))


def run_with_stdio(argv: list[str], stdin: int, stdout: int, stderr: int) -> int:
    """Run ``argv`` with these descriptors as its 0, 1 and 2 and wait: its exit status.

    ``runc create``/``run --detach`` hand their own stdio to the container, so the monitor
    passes the container's pipes here; ``os.posix_spawnp`` (vfork+exec) instead of
    ``subprocess``, whose import (threading, selectors, signal) the monitor would pay at every
    start."""
    actions = [(os.POSIX_SPAWN_DUP2, stdin, 0), (os.POSIX_SPAWN_DUP2, stdout, 1), (os.POSIX_SPAWN_DUP2, stderr, 2)]
    actions += [(os.POSIX_SPAWN_CLOSE, fd) for fd in _inheritable_fds() if fd not in (stdin, stdout, stderr)]
    pid = os.posix_spawnp(argv[0], argv, os.environ, file_actions=actions)
    while True:
        try:
            _, status = os.waitpid(pid, 0)
            return os.waitstatus_to_exitcode(status)
        except InterruptedError:
            continue


def _inheritable_fds() -> list[int]:
    """This process's descriptors above 2 that a spawned program would inherit (a monitor's
    pipes to its client, passed to it on purpose, must not reach runc)."""
    out = []
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd > 2:
            try:
                if os.get_inheritable(fd):
                    out.append(fd)
            except OSError:
                continue  # the directory's own descriptor, closed by now
    return out


def runtime_cli(exec_root: str, path: str, args: tuple[str, ...] = (), name: str = "runc") -> RuntimeCLI:
    root = os.path.join(exec_root, name)
    os.makedirs(root, mode=0o700, exist_ok=True)
    return RuntimeCLI(path, root, tuple(args), name)


def _last_line(data: bytes) -> str:
    lines = [line for line in data.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def error_from_log(path: str, fallback: bytes = b"") -> str:
    """The last error runc wrote to its JSON log (its words), else its last stderr line."""
    from .. import jsonc

    message = ""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            for line in f:
                try:
                    entry = jsonc.loads(line)
                except ValueError:
                    continue
                if entry.get("level") in ("error", "fatal"):
                    message = entry.get("msg", "")
    except OSError:
        pass
    if not message and fallback:
        text = _last_line(fallback)
        if "msg=" in text:
            text = text.split("msg=", 1)[1].strip().strip('"')
        message = text
    return message


def exit_code_for_start_error(message: str) -> int:
    """docker's CLI mapping of a start failure to run's exit status."""
    if "executable file not found" in message or "no such file or directory" in message:
        return 127
    if "permission denied" in message or "is a directory" in message:
        return 126
    return 125
