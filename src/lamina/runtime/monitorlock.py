"""Is a container's monitor alive? Its flock on ``<exec-root>/<id>.monitor`` says (no PID files).

Apart from ``runtime.monitor`` because everything that lists or changes containers asks it
(``engine.containers.refresh``: ``ps``, ``logs``, ``stop`` … on the lean path), and the
monitor's own imports (``json``, which loads ``re`` and ``enum``) are not needed for that.
"""

import fcntl
import os

__all__ = ["lock_path", "alive"]


def lock_path(exec_root: str, container_id: str) -> str:
    return os.path.join(exec_root, f"{container_id}.monitor")


def alive(exec_root: str, container_id: str) -> bool:
    """True while a monitor holds the container's lock."""
    try:
        fd = os.open(lock_path(exec_root, container_id), os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False
