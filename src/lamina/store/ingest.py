"""The ingest area: blobs being downloaded, kept across a killed pull so the next one resumes.

``<root>/ingest/sha256/<hex>`` holds the first bytes of the blob named ``sha256:<hex>`` (named
by the digest it must have, which the manifest gave). A pull holds an exclusive ``flock`` on
the file while it writes, so two pulls of the same blob take turns and the second finds it
complete; when the process dies, however it dies, the kernel drops the lock and the next pull
re-hashes what is there and asks the registry for the rest with ``Range``. A pull removes its
files once the image is stored. Content is verified against the digest at the end, as ever:
what the area holds is never trusted, only resumed.

``system check`` reports (and ``--repair`` removes) files nobody holds that are older than a
day: a resumable pull younger than that is work, not debris.
"""

from __future__ import annotations

import fcntl
import os
import time
from dataclasses import dataclass

from ..digest import Digest
from .atomic import unlink_quietly
from .lease import lock_held

__all__ = ["Ingest", "IngestFile", "STALE_SECONDS"]

STALE_SECONDS = 24 * 3600


@dataclass
class IngestFile:
    """An open, locked partial blob: write at the end, read from anywhere."""

    digest: Digest
    path: str
    fd: int

    def size(self) -> int:
        return os.fstat(self.fd).st_size

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # drops the flock
            self.fd = -1


class Ingest:
    def __init__(self, directory: str) -> None:
        self.directory = directory

    def path(self, digest: Digest) -> str:
        return os.path.join(self.directory, digest.algorithm, digest.hex)

    def acquire(self, digest: Digest) -> IngestFile:
        """Open (creating) the partial file for ``digest`` and lock it; waits while another
        process downloads the same blob."""
        path = self.path(digest)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            fcntl.flock(fd, fcntl.LOCK_EX)
            # the holder may have finished and removed the file while we waited: start afresh
            try:
                if os.stat(path).st_ino == os.fstat(fd).st_ino:
                    return IngestFile(digest, path, fd)
            except FileNotFoundError:
                pass
            os.close(fd)

    def remove(self, digest: Digest) -> None:
        unlink_quietly(self.path(digest))

    def stale(self, older_than: float = STALE_SECONDS) -> list[str]:
        """Partial files no live process holds, untouched for ``older_than`` seconds."""
        out = []
        for algorithm in _listdir(self.directory):
            base = os.path.join(self.directory, algorithm)
            for name in _listdir(base):
                path = os.path.join(base, name)
                try:
                    if time.time() - os.lstat(path).st_mtime < older_than or lock_held(path):
                        continue
                except FileNotFoundError:
                    continue
                out.append(path)
        return out


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except (FileNotFoundError, NotADirectoryError):
        return []
