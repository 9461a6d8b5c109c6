"""The storage driver interface (Distribution's ``storagedriver.StorageDriver``).

Paths are absolute, ``/``-separated and relative to the driver's root (``/docker/registry/v2/…``).
The registry only ever talks to storage through this interface, so another backend (an
object store) is one new class. ``local_path`` lets the HTTP layer hand a blob to sendfile
when the backend is a local filesystem.
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


class StorageDriver(abc.ABC):
    name: str

    @abc.abstractmethod
    def get_content(self, path: str) -> bytes: ...

    @abc.abstractmethod
    def put_content(self, path: str, content: bytes) -> None:
        """Write the whole file atomically (readers see the old or the new content)."""

    @abc.abstractmethod
    def reader(self, path: str, offset: int = 0) -> BinaryIO: ...

    @abc.abstractmethod
    def writer(self, path: str, append: bool = False) -> BinaryIO:
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
