"""The monitor's idle form: what watches a detached container once it has run a while.

The monitor (``runtime.monitor``) is a fork of ``lamina run``: its heap is the CLI's, plus what
starting the container loaded (the spec, the seccomp profile, a network's modules). For the
container's life it only copies output into the json-file log and waits for the exit, so after
``monitor.IDLE_AFTER`` seconds a detached container's monitor execs ``python3 -I -S`` running
this module: the same process (still the container's parent and subreaper, still holding the
container's flock, its pipes and its log), with nothing loaded but ``os``, ``select``, ``time``
and ``runtime.jsonlog``. When the container exits it imports the monitor again and goes on as
before (``monitor.resume``: record the exit, restart, ``--rm``). bench/containers.py measures
it against containerd-shim and conmon.
"""

import os
import select
import sys
import time

from .jsonlog import JsonLog

__all__ = ["main", "watch"]

#: ``/proc/<pid>/comm``, as the monitor names itself (the exec reset it to the interpreter's)
PROCESS_NAME = "lamina-monitor"


def main() -> None:
    """``python3 -I -S -c … <lamina path> '<state>'``: watch, then hand back; never returns."""
    from ..jsonc import loads

    state = loads(sys.argv[1])
    try:
        with open("/proc/self/comm", "w") as f:
            f.write(PROCESS_NAME)
    except OSError:
        pass
    log = JsonLog(fd=state["log_fd"], partial={k: v.encode("latin-1") for k, v in state["partial"].items()})
    status = watch(state["pid"], {int(fd): stream for fd, stream in state["sources"].items()}, log)
    from .monitor import resume

    resume(state, log, status)


def watch(pid: int, sources: dict[int, str], log: JsonLog) -> int | None:
    """Copy the container's output into the log until it has exited and its pipes are drained
    (``Monitor.pump`` without a client); its wait status."""
    try:
        pidfd = os.pidfd_open(pid)
    except OSError:
        pidfd = -1
    poller = select.poll()
    for fd in sources:
        poller.register(fd, select.POLLIN)
    if pidfd >= 0:
        poller.register(pidfd, select.POLLIN)
    status = exited_at = None
    while sources:
        for fd, _event in poller.poll(100 if pidfd < 0 or exited_at is not None else None):
            if fd == pidfd:
                poller.unregister(pidfd)
                status, exited_at = _reap(pid), time.monotonic()
                continue
            try:
                data = os.read(fd, 65536)
            except OSError:
                data = b""
            if data:
                log.write(sources[fd], data)
            else:
                poller.unregister(fd)
                del sources[fd]
        if status is None and pidfd < 0:
            status = _reap(pid, block=False)
            if status is not None:
                exited_at = time.monotonic()
        if exited_at is not None and time.monotonic() - exited_at > 2:
            break  # a process that escaped the pid namespace's end holds the pipe: stop reading
    if status is None:
        status = _reap(pid)
    if pidfd >= 0:
        os.close(pidfd)
    return status


def _reap(pid: int, block: bool = True) -> int | None:
    try:
        got, status = os.waitpid(pid, 0 if block else os.WNOHANG)
    except ChildProcessError:
        return 255 << 8 if block else None
    return None if got == 0 else status
