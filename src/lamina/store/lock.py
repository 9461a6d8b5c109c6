"""The store lock: one ``flock`` serialising changes to shared metadata.

Held only around short metadata transactions (tag, untag, delete, registering a layer), never
around long data work such as extracting a layer, so concurrent imports extract in parallel.
Readers take no lock: every file they read is replaced by rename, never rewritten in place.
The one exception is (re)writing the image catalog (``store.catalog``), a read model that must
describe one consistent state of the store, so it is built under the lock.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def store_lock(path: str) -> Iterator[None]:
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing drops the lock
