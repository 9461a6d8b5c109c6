"""Start, stop, kill, pause, remove, exec, top, stats and update of one container.

The monitor (``runtime.monitor``) owns a running container; these functions ask it to start
one (by spawning it) and otherwise speak to the runtime directly (``runc kill``, ``pause``,
``exec``), reading the result back from config.v2.json, which the monitor keeps current.
"""

from __future__ import annotations

import os
import sys
import time

from ..errors import Conflict, ContainerStartFailed, InvalidArgument, RuntimeFailure
from .runc import RuntimeCLI, runtime_cli
from .signals import parse_signal

# stop, kill, rm, pause … run on the lean path (cli/lean): json (re, enum), subprocess (the
# runtime's commands run through ``runc.run_captured``) and dataclasses are not loaded at import
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only (typing costs start-up time: lamina.value says why)
    from typing import Any

    from ..container.service import ContainerHandle


def _runtime(handle: ContainerHandle) -> RuntimeCLI:
    from .select import choose_runtime, daemon_config, known_runtimes

    name = handle.record.host_config.get("Runtime") or ""
    config = daemon_config()
    runtimes = known_runtimes(config)
    chosen = runtimes.get(name) or choose_runtime(None, config)
    return runtime_cli(handle.service.records.exec_root, chosen.path, chosen.args, chosen.name)


class Attach:
    """The client's ends for a foreground container: its stdin (``-i``), stdout, stderr, and
    the read end of a "window changed" pipe (``-t``); -1 for none. (A plain class: ``run``'s
    path does not load ``dataclasses``.)"""

    __slots__ = ("stdin", "stdout", "stderr", "winch")

    def __init__(self, stdin: int = -1, stdout: int = -1, stderr: int = -1, winch: int = -1) -> None:
        self.stdin, self.stdout, self.stderr, self.winch = stdin, stdout, stderr, winch


class MonitorChannel:
    """The status pipe from a monitor: ``started``, then ``exit`` (or ``error``)."""

    def __init__(self, fd: int) -> None:
        self.file = os.fdopen(fd, "rb", buffering=0)
        self.buffer = b""

    def next(self) -> tuple[str, int, str]:
        while b"\n" not in self.buffer:
            try:
                data = self.file.read(4096)
            except InterruptedError:
                continue
            if not data:
                return "lost", 255, "the container's monitor exited unexpectedly"
            self.buffer += data
        line, _, self.buffer = self.buffer.partition(b"\n")
        kind, _, rest = line.decode(errors="replace").partition(" ")
        number, _, message = rest.partition(" ")
        try:
            value = int(number)
        except ValueError:
            value = 255
        return kind, value, message

    def close(self) -> None:
        self.file.close()


def _lamina_path() -> str:
    import lamina

    return os.path.dirname(os.path.dirname(os.path.abspath(lamina.__file__)))


def spawn_monitor(handle: ContainerHandle, attach: Attach | None = None, fork: bool = False) -> MonitorChannel:
    """Start the container's monitor. ``fork``: as a fork of this process, which the lean
    ``run`` asks for (a small process whose imports the monitor needs anyway); a program using
    the library gets a fresh ``python3 -S`` monitor that holds none of its memory."""
    rt = _runtime(handle)
    store = handle.service.store
    status_r, status_w = os.pipe()
    attach = attach or Attach()
    # fresh descriptors: the monitor puts /dev/null on its own 0, 1 and 2
    dups = [os.dup(fd) if fd >= 0 else -1 for fd in (attach.stdin, attach.stdout, attach.stderr)]
    attach = Attach(dups[0], dups[1], dups[2], attach.winch)
    opts = {
        "root": store.root,
        "driver": store.driver.name,
        "id": handle.id,
        "runtime": {"path": rt.path, "args": list(rt.args), "name": rt.name},
        "status_fd": status_w,
        "stdin": attach.stdin,
        "stdout": attach.stdout,
        "stderr": attach.stderr,
        "winch_fd": attach.winch,
    }
    fds = [fd for fd in (status_w, attach.stdin, attach.stdout, attach.stderr, attach.winch) if fd >= 0]
    if fork and _may_fork():
        _fork_monitor(opts, fds)
    else:
        _exec_monitor(opts, fds)
    os.close(status_w)
    for fd in dups:
        if fd >= 0:
            os.close(fd)
    return MonitorChannel(status_r)


def _may_fork() -> bool:
    """Whether this process may become the monitor by ``fork`` alone: only with one thread
    (forking a threaded process can copy a lock another thread holds)."""
    threading = sys.modules.get("threading")
    return threading is None or threading.active_count() == 1


def _fork_monitor(opts: dict, keep: list[int]) -> None:
    """The monitor as a fork of this process: what it runs is loaded already, so the container
    starts without a second interpreter start-up and import (~30-40 ms of every ``run``)."""
    from . import monitor

    sys.stdout.flush()
    sys.stderr.flush()
    pid = os.fork()
    if pid == 0:
        try:
            _close_fds_but(keep)
            monitor.detach_and_run(opts)
        finally:
            os._exit(0)
    os.waitpid(pid, 0)  # the first child forks the monitor and exits at once


def _close_fds_but(keep: list[int]) -> None:
    """Every descriptor but ``keep`` and 0-2 closed: the monitor must not hold the client's
    files, leases or locks (a lock's open file would stay locked while the container runs)."""
    wanted = set(keep) | {0, 1, 2}
    for name in os.listdir("/proc/self/fd"):
        fd = int(name)
        if fd not in wanted:
            try:
                os.close(fd)
            except OSError:
                pass


def _exec_monitor(opts: dict, fds: list[int]) -> None:
    """The monitor as a fresh ``python3 -S`` (from a threaded or a full-CLI process)."""
    import json
    import subprocess

    code = (
        "import sys; sys.path.insert(0, sys.argv.pop(1)); "
        "from lamina.runtime.monitor import main; main()"
    )
    proc = subprocess.Popen(
        [sys.executable, "-S", "-c", code, _lamina_path(), json.dumps(opts)],
        pass_fds=fds, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    proc.wait()  # the monitor forks and its first process exits at once


def start(handle: ContainerHandle, attach: Attach | None = None, fork: bool = False) -> MonitorChannel | None:
    """Start a created or stopped container; returns the monitor's channel once it runs."""
    from ..container.model import ZERO_TIME

    records = handle.service.records
    with records.locked(handle.id):
        c = records.load(handle.id)
        if handle.service.monitor_lost(c):
            # refresh() would take the lock we hold again (a second flock of this process
            # on a new descriptor waits forever): mark it here and save under our hold
            from ..container.service import mark_lost

            mark_lost(c)
            records.save(c)
            _release_after_lost_monitor(handle, c)
        if c.state.running:
            if c.state.paused:
                raise Conflict("cannot start a paused container, try unpause instead")
            return None
        if c.state.removal_in_progress or c.state.dead:
            raise Conflict("container is marked for removal and cannot be started")
        stale = c.has_been_manually_stopped or (c.state.started_at == ZERO_TIME and c.state.error)
        c.has_been_manually_stopped = False
        if c.state.started_at == ZERO_TIME:
            c.state.error = ""
        if stale:  # a fresh container (every ``run``) has nothing to rewrite
            records.save(c)
    channel = spawn_monitor(handle, attach, fork)
    kind, value, message = channel.next()
    if kind == "started":
        return channel
    channel.close()
    if kind == "error":
        raise ContainerStartFailed(message, value)
    raise ContainerStartFailed(message or "the container's monitor exited before the container started", 125)


def _wait_stopped(handle: ContainerHandle, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    delay = 0.005
    while True:
        c = handle.service.refresh(handle.service.records.load(handle.id))
        if not c.state.running:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


def stop(handle: ContainerHandle, timeout: int | None = None) -> None:
    records = handle.service.records

    def manual(rec):
        rec.has_been_manually_stopped = True

    c = records.update(handle.id, manual)
    c = handle.service.refresh(c)
    if not c.state.running:
        return
    if c.state.restarting:
        _wait_stopped(handle, 5)
        return
    rt = _runtime(handle)
    signal_name = c.config.get("StopSignal") or "SIGTERM"
    if timeout is None:
        timeout = c.config.get("StopTimeout")
        if timeout is None:
            timeout = 10
    if c.state.paused:
        rt.run("resume", c.id, check=False)
    rt.kill(c.id, parse_signal(signal_name))
    if timeout >= 0 and _wait_stopped(handle, timeout):
        return
    rt.kill(c.id, 9, all_processes=True)
    if not _wait_stopped(handle, 30):
        raise RuntimeFailure(f"container {c.id[:12]} did not stop after SIGKILL")


def kill(handle: ContainerHandle, signal: str | int = "KILL") -> None:
    c = handle.service.refresh(handle.service.records.load(handle.id))
    number = parse_signal(signal)
    if not c.state.running or c.state.restarting:
        raise Conflict(f"cannot kill container: {c.bare_name}: container {c.id} is not running")
    rt = _runtime(handle)
    if not rt.kill(c.id, number):
        raise RuntimeFailure(f"cannot kill container: {c.bare_name}: the runtime refused signal {number}")
    if number == 9:
        _wait_stopped(handle, 10)


def pause(handle: ContainerHandle, paused: bool) -> None:
    records = handle.service.records
    c = handle.service.refresh(records.load(handle.id))
    if not c.state.running:
        raise Conflict(f"Container {c.id} is not running")
    if paused and c.state.paused:
        raise Conflict(f"Container {c.id} is already paused")
    if not paused and not c.state.paused:
        raise Conflict(f"Container {c.id} is not paused")
    rt = _runtime(handle)
    rt.run("pause" if paused else "resume", c.id)

    def mark(rec):
        rec.state.paused = paused

    records.update(c.id, mark)


def remove(handle: ContainerHandle, force: bool = False, volumes: bool = False) -> None:
    records = handle.service.records
    c = handle.service.refresh(records.load(handle.id))
    if c.state.running:
        if not force:
            raise Conflict(
                f'cannot remove container "{c.name}": container is running: stop the container before removing or force remove'
            )
        def manual(rec):
            rec.has_been_manually_stopped = True
            rec.host_config["AutoRemove"] = False  # this remove does it; the monitor must not race it

        records.update(c.id, manual, host_config=True)  # AutoRemove lives in hostconfig.json
        rt = _runtime(handle)
        if c.state.paused:
            rt.run("resume", c.id, check=False)
        rt.kill(c.id, 9, all_processes=True)
        if not _wait_stopped(handle, 30):
            raise RuntimeFailure(f"could not kill container {c.id[:12]}")
    from .execroot import alive

    deadline = time.monotonic() + 10
    while alive(records.exec_root, c.id) and time.monotonic() < deadline:
        time.sleep(0.01)  # the monitor is unmounting and writing the exit; let it finish
    _release_after_lost_monitor(handle, c)  # what a dead monitor could not (no-op otherwise)
    records.remove(c.id)
    if volumes:
        _remove_anonymous_volumes(handle, c)


def _release_after_lost_monitor(handle: ContainerHandle, c: Any) -> None:
    """What a dead monitor held and could not give back: runc's state, the mounted root, the
    network endpoint (``remove`` does the same before it deletes)."""
    _cleanup_runtime(handle)
    from ..network.containers import detach_container

    detach_container(handle.service.records.store, c)


def _cleanup_runtime(handle: ContainerHandle) -> None:
    """What a dead monitor may have left: runc's state and the mounted root."""
    import shutil

    from ..mount import is_mountpoint, unmount

    records = handle.service.records
    rt = _runtime(handle)
    if rt.has_state(handle.id) and rt.state(handle.id) is not None:
        rt.delete(handle.id)
    try:
        _, merged, _ = records.rootfs(handle.id)
        if records.store.driver.name == "overlay2" and os.path.isdir(merged):
            if is_mountpoint(merged):
                unmount(merged, detach=True)
            os.rmdir(merged)
    except Exception:
        pass
    from .execroot import bundle_dir, lock_path

    shutil.rmtree(bundle_dir(records.exec_root, handle.id), ignore_errors=True)
    try:
        os.unlink(lock_path(records.exec_root, handle.id))
    except FileNotFoundError:
        pass


def _remove_anonymous_volumes(handle: ContainerHandle, c: Any) -> None:
    from ..volume import remove_anonymous_for_container

    remove_anonymous_for_container(handle.service.store, c)


# exec ------------------------------------------------------------------------------------
def exec_process(handle: ContainerHandle, cmd: list[str], detach: bool = False, stdin: bool = False,
                 tty: bool = False, environment: list[str] | None = None, user: str = "",
                 workdir: str = "", privileged: bool = False, capture: bool = False) -> Any:
    """Run ``cmd`` in the running container (``runc exec``); its exit status (or, with
    ``capture``, ``(status, output)``)."""
    import json
    import subprocess

    from .spec import build_spec

    records = handle.service.records
    c = handle.service.refresh(records.load(handle.id))
    if not c.state.running or c.state.restarting:
        raise Conflict(f"Container {c.id} is not running")
    if c.state.paused:
        raise Conflict(f"Container {c.id} is paused, unpause the container before exec")
    if not cmd:
        raise InvalidArgument("No exec command specified")
    _, merged, _ = records.rootfs(c.id)
    exec_config = json.loads(json.dumps(c.to_json()))
    from ..container.model import Container

    shadow = Container.from_json(exec_config, dict(c.host_config))
    if user:
        shadow.config["User"] = user
    shadow.config["Tty"] = tty
    shadow.path, shadow.args = cmd[0], list(cmd[1:])
    shadow.host_config["Init"] = False
    if privileged:
        shadow.host_config["Privileged"] = True
    try:
        spec = build_spec(shadow, merged, records.paths.container(c.id), [], None)
    except InvalidArgument:
        raise
    process = spec["process"]
    if environment:
        from ..container.options import merge_env

        process["env"] = merge_env(process["env"], list(environment))
    if workdir:
        process["cwd"] = workdir
    process["terminal"] = bool(tty and not detach)
    from .execroot import bundle_dir

    bundle = bundle_dir(records.exec_root, c.id)
    os.makedirs(bundle, exist_ok=True)
    import secrets

    tag = secrets.token_hex(6)
    process_file = os.path.join(bundle, f"exec-{tag}.json")
    log_file = os.path.join(bundle, f"exec-{tag}.log")
    with open(process_file, "w") as f:
        json.dump(process, f)
    rt = _runtime(handle)
    args = ["exec", "--process", process_file]
    if detach:
        args.append("--detach")
    try:
        argv = rt.argv(*args, c.id, log=log_file)
        if capture:
            proc = subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True)
        else:
            proc = subprocess.run(argv, stdin=None if stdin or tty else subprocess.DEVNULL)
        from .runc import error_from_log, exit_code_for_start_error

        message = error_from_log(log_file)
        if message and proc.returncode == 255:
            code = exit_code_for_start_error(message)
            raise ContainerStartFailed(f"OCI runtime exec failed: {message}: unknown", 126 if code == 125 else code)
        return (proc.returncode, proc.stdout + proc.stderr) if capture else proc.returncode
    finally:
        for path in (process_file, log_file):
            try:
                os.unlink(path)
            except FileNotFoundError:
                pass


# top, stats, update -----------------------------------------------------------------------
def top(handle: ContainerHandle, ps_args: str = "-ef") -> dict[str, Any]:
    c = handle.service.refresh(handle.service.records.load(handle.id))
    if not c.state.running:
        raise Conflict(f"Container {c.id} is not running")
    rt = _runtime(handle)
    proc = rt.run("ps", c.id, *ps_args.split())
    lines = proc.stdout.decode(errors="replace").splitlines()
    if not lines:
        return {"Titles": [], "Processes": []}
    titles = lines[0].split()
    rows = []
    for line in lines[1:]:
        parts = line.split(None, len(titles) - 1)
        if parts:
            rows.append(parts)
    return {"Titles": titles, "Processes": rows}


def stats(handle: ContainerHandle) -> dict[str, Any]:
    """One sample of the container's cgroup counters (``runc events --stats``)."""
    import json

    c = handle.service.refresh(handle.service.records.load(handle.id))
    if not c.state.running:
        return {"id": c.id, "name": c.name, "running": False}
    rt = _runtime(handle)
    proc = rt.run("events", "--stats", c.id, check=False)
    try:
        data = json.loads(proc.stdout).get("data") or {}
    except ValueError:
        data = {}
    return {"id": c.id, "name": c.name, "running": True, "read": time.time(), "data": data}


def update(handle: ContainerHandle, **changes: Any) -> None:
    """``docker update``: new limits in hostconfig.json, applied to a running container at once."""
    import json

    from .spec import resources

    records = handle.service.records
    keys = {
        "mem_limit": "Memory", "mem_reservation": "MemoryReservation", "memswap_limit": "MemorySwap",
        "nano_cpus": "NanoCpus", "cpu_shares": "CpuShares", "pids_limit": "PidsLimit",
        "cpu_quota": "CpuQuota", "cpu_period": "CpuPeriod", "cpuset_cpus": "CpusetCpus",
        "restart_policy": "RestartPolicy",
    }
    unknown = [k for k in changes if k not in keys]
    if unknown:
        raise InvalidArgument(f"cannot update {unknown[0]}")
    with records.locked(handle.id):
        c = records.load(handle.id)
        for key, value in changes.items():
            if value is None:
                continue
            c.host_config[keys[key]] = value
        if changes.get("mem_limit") and not changes.get("memswap_limit"):
            c.host_config["MemorySwap"] = changes["mem_limit"] * 2
        if c.host_config.get("Memory") and c.host_config.get("MemoryReservation", 0) > c.host_config["Memory"]:
            raise InvalidArgument("Minimum memory limit can not be less than memory reservation limit, see usage")
        records.save(c, host_config=True)
    c = handle.service.refresh(records.load(handle.id))
    if c.state.running and not c.state.restarting:
        res = resources(c.host_config)
        res.pop("devices", None)
        rt = _runtime(handle)
        proc = rt.run("update", "--resources", "-", c.id, input=json.dumps(res).encode(), check=False)
        if proc.returncode != 0:
            raise RuntimeFailure(f"Cannot update container {c.id}: {proc.stderr.decode(errors='replace').strip()}")
