"""A container's place under the exec root (``container.store.exec_root``): its bundle
directory, its monitor's lock, and whether that monitor is alive (its flock on
``<exec-root>/<id>.monitor`` says; no PID files).

Apart from ``runtime.monitor`` because everything that lists or changes containers asks it
(``engine.containers.refresh``: ``ps``, ``logs``, ``stop``, ``rm`` … on the lean path), and the
monitor's own imports (``json``, which loads ``re`` and ``enum``) are not needed for that.
"""

import os

from ..store.lease import lock_held

__all__ = ["bundle_dir", "lock_path", "alive"]


def bundle_dir(exec_root: str, container_id: str) -> str:
    return os.path.join(exec_root, container_id)


def lock_path(exec_root: str, container_id: str) -> str:
    return os.path.join(exec_root, f"{container_id}.monitor")


def alive(exec_root: str, container_id: str) -> bool:
    """True while a monitor holds the container's lock."""
    return lock_held(lock_path(exec_root, container_id))
