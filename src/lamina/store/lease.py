"""Leases: how a store tells an unfinished write of a live process from a dead one's garbage.

A process that works on something not yet referenced (a layer directory being extracted, a
layer it is about to reference from a new image) holds an exclusive ``flock`` on
``tmp/leases/<name>`` for as long as it lives, and records what it works on in
``tmp/leases/<name>.d/``: ``pending-<cache-id>`` for driver directories it is filling and
``pin-<chain-id hex>`` for layers it depends on. The kernel drops the lock when the process
dies, however it dies (kill -9 included), so:

* cleanup removes an unreferenced directory unless a *live* lease lists it as pending;
* image deletion keeps a layer that a *live* lease pins, so a concurrent import that reuses
  a layer cannot have it deleted under its feet.

No PID files, so no PID-reuse races.
"""

from __future__ import annotations

import fcntl
import os


class Lease:
    """An exclusive lease held until ``close()`` or the process's death."""

    def __init__(self, leases_dir: str) -> None:
        os.makedirs(leases_dir, exist_ok=True)
        self.leases_dir = leases_dir
        self.name = f"{os.getpid()}-{os.urandom(6).hex()}"
        self.path = os.path.join(leases_dir, self.name)
        self.items = self.path + ".d"
        # Lock under a hidden name, then rename: a cleaner never sees an unlocked live lease.
        staging = os.path.join(leases_dir, f".new-{self.name}")
        self._fd = os.open(staging, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        fcntl.flock(self._fd, fcntl.LOCK_EX)
        os.rename(staging, self.path)
        os.makedirs(self.items, exist_ok=True)

    def _touch(self, item: str) -> None:
        with open(os.path.join(self.items, item), "w"):
            pass

    def _drop(self, item: str) -> None:
        try:
            os.unlink(os.path.join(self.items, item))
        except FileNotFoundError:
            pass

    def add_pending(self, cache_id: str) -> None:
        self._touch(f"pending-{cache_id}")

    def drop_pending(self, cache_id: str) -> None:
        self._drop(f"pending-{cache_id}")

    def pin(self, chain_hex: str) -> None:
        self._touch(f"pin-{chain_hex}")

    def close(self) -> None:
        if self._fd < 0:
            return
        _remove_flat_dir(self.items)  # its pending-/pin- marks (shutil is not on run's path)
        try:
            os.unlink(self.path)
        except FileNotFoundError:
            pass
        os.close(self._fd)
        self._fd = -1

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _remove_flat_dir(path: str) -> None:
    """Remove a directory of plain files (a lease's marks), quietly."""
    try:
        names = os.listdir(path)
    except FileNotFoundError:
        return
    for name in names:
        try:
            os.unlink(os.path.join(path, name))
        except FileNotFoundError:
            pass
        except IsADirectoryError:
            import shutil

            shutil.rmtree(os.path.join(path, name), ignore_errors=True)
    try:
        os.rmdir(path)
    except OSError:
        pass


def lock_held(path: str) -> bool:
    """True while some live process holds ``path``'s flock (a lease, an ingest in progress)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def _lease_names(leases_dir: str) -> list[str]:
    try:
        return [
            n for n in os.listdir(leases_dir) if not n.endswith(".d") and not n.startswith(".")
        ]
    except FileNotFoundError:
        return []


def live_items(leases_dir: str, prefix: str) -> set[str]:
    """Names (after ``prefix``) recorded by leases whose owners still run."""
    found: set[str] = set()
    for name in _lease_names(leases_dir):
        if not lock_held(os.path.join(leases_dir, name)):
            continue
        try:
            items = os.listdir(os.path.join(leases_dir, name + ".d"))
        except FileNotFoundError:
            continue
        found.update(i[len(prefix):] for i in items if i.startswith(prefix))
    return found


def live_pending(leases_dir: str) -> set[str]:
    return live_items(leases_dir, "pending-")


def live_pins(leases_dir: str) -> set[str]:
    return live_items(leases_dir, "pin-")


def dead_leases(leases_dir: str) -> list[str]:
    """Paths (file and .d dir) of leases whose owners died without closing them."""
    out = []
    names = set(_lease_names(leases_dir))
    for name in names:
        if not lock_held(os.path.join(leases_dir, name)):
            out.append(os.path.join(leases_dir, name))
            if os.path.isdir(os.path.join(leases_dir, name + ".d")):
                out.append(os.path.join(leases_dir, name + ".d"))
    return out
