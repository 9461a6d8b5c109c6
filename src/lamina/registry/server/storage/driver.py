"""The storage driver interface (Distribution's ``storagedriver.StorageDriver``).

Paths are absolute, ``/``-separated and relative to the driver's root (``/docker/registry/v2/…``).
The registry only ever talks to storage through this interface, so another backend (an
object store) is one new class. ``local_path`` lets the HTTP layer hand a blob to sendfile
when the backend is a local filesystem; ``redirect_url`` lets it send a client straight to an
object store. ``blocking`` says the calls wait on a network: the server then runs them in
threads so one slow request never stalls the others.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO


class PathNotFound(Exception):
    def __init__(self, path: str) -> None:
        super().__init__(f"path not found: {path}")
        self.path = path


@dataclass(frozen=True)
class FileInfo:
    path: str
    size: int
    mtime: float
    is_dir: bool


class FileWriter(abc.ABC):
    """An upload's data being written (Distribution's ``storagedriver.FileWriter``).

    Its state lives in storage, not in the process: :meth:`close` leaves what was written
    resumable by ``writer(path, append=True)`` in any process; :meth:`commit` makes the file
    readable at its path; :meth:`cancel` throws everything away.
    """

    @property
    @abc.abstractmethod
    def size(self) -> int: ...

    @abc.abstractmethod
    def write(self, data: bytes) -> int: ...

    @abc.abstractmethod
    def close(self) -> None: ...

    @abc.abstractmethod
    def commit(self) -> None: ...

    @abc.abstractmethod
    def cancel(self) -> None: ...

    def __enter__(self) -> FileWriter:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class StorageDriver(abc.ABC):
    name: str
    #: calls wait on a network (run them in threads from an event loop)
    blocking: bool = False
    #: a moved file counts as just written (an object store's move is a copy)
    move_renews_mtime: bool = False
    #: touch() is a metadata update, not a copy of the data
    cheap_touch: bool = True

    @abc.abstractmethod
    def get_content(self, path: str) -> bytes: ...

    @abc.abstractmethod
    def put_content(self, path: str, content: bytes) -> None:
        """Write the whole file atomically (readers see the old or the new content)."""

    @abc.abstractmethod
    def reader(self, path: str, offset: int = 0) -> BinaryIO: ...

    @abc.abstractmethod
    def writer(self, path: str, append: bool = False) -> FileWriter:
        """A writer for an upload's data; ``append`` resumes at the current end."""

    @abc.abstractmethod
    def stat(self, path: str) -> FileInfo: ...

    @abc.abstractmethod
    def list(self, path: str) -> list[str]:
        """The direct children of a directory, as full paths, sorted."""

    @abc.abstractmethod
    def move(self, source: str, dest: str) -> None: ...

    @abc.abstractmethod
    def delete(self, path: str) -> None:
        """Remove a file or a whole directory tree."""

    @abc.abstractmethod
    def touch(self, path: str) -> None:
        """Set a file's modification time to now (garbage collection uses it)."""

    def walk(self, path: str) -> Iterator[FileInfo]:
        """Every file below ``path``, depth first, sorted."""
        for child in self.list(path):
            info = self.stat(child)
            if info.is_dir:
                yield from self.walk(child)
            else:
                yield info

    def local_path(self, path: str) -> str | None:
        return None

    def redirect_url(self, path: str) -> str | None:
        """A URL a client can GET the file from directly (an object store's presigned URL)."""
        return None

    def health_check(self) -> None:
        """Raise if the storage cannot be reached (the debug server's /debug/health)."""
        self.list("/")
