"""Sweep marks: how a collection and the servers agree on a blob with no lock between them.

On a filesystem the collector and every server process share a ``flock`` (``GCLock``): a
server links a blob under its shared side, the collector re-checks and deletes under the
exclusive side, so the two never interleave. Instances on an object store — on other hosts —
share no lock. Without one, a server could touch a blob and tell a client "you have it" (a
HEAD, a mount, a manifest's reference) in the instant between the collector's last check of
that blob's times and its delete: the client then skips the upload and its manifest names a
blob that is gone.

The marks close that instant with storage's own read-after-write consistency (S3 has it):

* the collector writes ``blobs/…/<hex>/sweeping`` *before* it re-checks the blob's times,
  then deletes the blob (the mark with it) or, finding it used, removes the mark; it gives up
  (keeps the blob) if more than :data:`WINDOW` seconds passed since it wrote the mark;
* a server touches the blob or its link *first*, then looks at the blob's directory: no mark
  means any later mark comes after the touch, so the collector's re-check will see the touch
  and keep the blob; a mark means a verdict is pending, so the server waits for the mark to
  go and then believes only what storage says (the blob is there, or the client uploads it).

A mark older than :data:`STALE` (a collector killed between its two steps) is ignored, and
the next collection, which sees the blob unused, deletes the blob with it.
"""

from __future__ import annotations

import time

from ...digest import Digest
from . import paths
from .storage import PathNotFound, StorageDriver

#: the longest a collector may take from its mark to its delete; past it, it keeps the blob
WINDOW = 10.0
#: a mark this old is a collector's that died: servers stop waiting for it
STALE = WINDOW + 20.0
#: how often a waiting server looks again
POLL = 0.05


def blob_state(driver: StorageDriver, d: Digest) -> tuple[bool, bool]:
    """(the blob's data is stored, a sweep mark is on it), in one listing of its directory."""
    try:
        names = {child.rsplit("/", 1)[1] for child in driver.list(paths.blob_dir(d))}
    except PathNotFound:
        return False, False
    return "data" in names, "sweeping" in names


def _mark_is_stale(driver: StorageDriver, d: Digest) -> bool:
    try:
        return driver.stat(paths.blob_sweep_mark(d)).mtime < time.time() - STALE
    except PathNotFound:
        return True


def settled_presence(driver: StorageDriver, d: Digest) -> bool:
    """Whether blob ``d`` is stored and no sweep can take it from a caller that touched it
    before asking. Waits while a collection's verdict on it is pending (at most
    :data:`STALE` seconds, for a mark whose collector died)."""
    deadline = time.monotonic() + STALE
    while True:
        present, marked = blob_state(driver, d)
        if not (present and marked):
            return present
        if time.monotonic() > deadline or _mark_is_stale(driver, d):
            return present
        time.sleep(POLL)


class Sweep:
    """The collector's side for one blob: ``mark()``, re-check, then ``delete()`` or
    ``keep()``."""

    def __init__(self, driver: StorageDriver, d: Digest) -> None:
        self.driver = driver
        self.digest = d
        self.marked_at = 0.0

    def mark(self) -> None:
        self.driver.put_content(paths.blob_sweep_mark(self.digest), b"")
        self.marked_at = time.monotonic()

    def in_time(self) -> bool:
        """Whether the delete may still go ahead: servers wait for a verdict this long only."""
        return time.monotonic() - self.marked_at < WINDOW

    def delete(self) -> None:
        try:
            self.driver.delete(paths.blob_dir(self.digest))
        except PathNotFound:
            pass

    def keep(self) -> None:
        try:
            self.driver.delete(paths.blob_sweep_mark(self.digest))
        except PathNotFound:
            pass
