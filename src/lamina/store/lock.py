"""The store lock: one ``flock`` serialising changes to shared metadata.

Held only around short metadata transactions (tag, untag, delete, registering a layer), never
around long data work such as extracting a layer, so concurrent imports extract in parallel.
Readers take no lock: every file they read is replaced by rename, never rewritten in place.
The one exception is (re)writing the image catalog (``store.catalog``), a read model that must
describe one consistent state of the store, so it is built under the lock.
"""

import fcntl
import posix

__all__ = ["store_lock"]


class store_lock:  # noqa: N801 - used as ``with store_lock(path):``, as when it was a function
    """``with store_lock(path):`` holds the flock on ``path`` (created if missing).

    A class rather than a ``contextlib`` generator: ``tag`` and ``rmi`` take the lock on the
    lean CLI path, where ``contextlib`` (with ``collections`` and ``functools``) costs more
    than the change itself.
    """

    __slots__ = ("path", "fd")

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> None:
        fd = posix.open(self.path, posix.O_RDWR | posix.O_CREAT | posix.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            posix.close(fd)
            raise
        self.fd = fd

    def __exit__(self, *exc) -> None:
        fd, self.fd = self.fd, -1
        posix.close(fd)  # closing drops the lock
