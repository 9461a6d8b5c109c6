"""Calling the OCI runtime (runc's command line; crun takes the same one).

Every call names the runtime's state directory (``--root``) under the data root's exec root, so
two data roots never see each other's containers, and asks for a JSON log (``--log``) so that a
failure's message can be read apart from the container's own stderr.
"""

from __future__ import annotations

import os

from ..errors import RuntimeFailure
from ..value import Value

# ``rm`` of a stopped container runs no runtime: subprocess (re, locale, threading …) and json
# load when a command does
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    import subprocess


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

    def run(self, *args: str, check: bool = True, input: bytes | None = None, timeout: float = 60) -> subprocess.CompletedProcess:
        import subprocess

        proc = subprocess.run(self.argv(*args), input=input, capture_output=True, timeout=timeout)
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
