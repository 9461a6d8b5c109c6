"""The filesystem storage driver (Distribution's ``filesystem`` driver, same on-disk layout)."""

from __future__ import annotations

import os
import shutil
import tempfile
from typing import BinaryIO

from .driver import FileInfo, FileWriter, PathNotFound, StorageDriver


class _FileWriter(FileWriter):
    """An upload's data file, appended to in place (its size is its state)."""

    def __init__(self, full: str, append: bool) -> None:
        self._full = full
        self._file = open(full, "ab" if append else "wb")
        self._size = self._file.tell()

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes) -> int:
        n = self._file.write(data)
        self._size += n
        return n

    def close(self) -> None:
        self._file.close()

    def commit(self) -> None:
        self._file.flush()
        self._file.close()

    def cancel(self) -> None:
        self._file.close()
        try:
            os.unlink(self._full)
        except FileNotFoundError:
            pass


class FilesystemDriver(StorageDriver):
    name = "filesystem"

    def __init__(self, root: str) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(self.root, exist_ok=True)

    def _full(self, path: str) -> str:
        if not path.startswith("/") or "/../" in path + "/" or "\0" in path:
            raise ValueError(f"invalid storage path {path!r}")
        return self.root + path

    def get_content(self, path: str) -> bytes:
        try:
            with open(self._full(path), "rb") as f:
                return f.read()
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise PathNotFound(path) from None

    def put_content(self, path: str, content: bytes) -> None:
        full = self._full(path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=os.path.dirname(full))
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(content)
                f.flush()
                os.fsync(f.fileno())
            os.replace(tmp, full)
        except BaseException:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise

    def reader(self, path: str, offset: int = 0) -> BinaryIO:
        try:
            f = open(self._full(path), "rb")
        except (FileNotFoundError, NotADirectoryError, IsADirectoryError):
            raise PathNotFound(path) from None
        if offset:
            f.seek(offset)
        return f

    def writer(self, path: str, append: bool = False) -> FileWriter:
        full = self._full(path)
        if append and not os.path.exists(full):
            raise PathNotFound(path)
        os.makedirs(os.path.dirname(full), exist_ok=True)
        return _FileWriter(full, append)

    def stat(self, path: str) -> FileInfo:
        try:
            st = os.stat(self._full(path))
        except (FileNotFoundError, NotADirectoryError):
            raise PathNotFound(path) from None
        return FileInfo(path, st.st_size, st.st_mtime, os.path.isdir(self._full(path)))

    def list(self, path: str) -> list[str]:
        try:
            names = os.listdir(self._full(path))
        except (FileNotFoundError, NotADirectoryError):
            raise PathNotFound(path) from None
        base = path.rstrip("/")
        return [f"{base}/{n}" for n in sorted(names) if not n.startswith(".tmp-")]

    def move(self, source: str, dest: str) -> None:
        full_dest = self._full(dest)
        os.makedirs(os.path.dirname(full_dest), exist_ok=True)
        try:
            os.replace(self._full(source), full_dest)
        except FileNotFoundError:
            raise PathNotFound(source) from None

    def delete(self, path: str) -> None:
        full = self._full(path)
        if os.path.isdir(full) and not os.path.islink(full):
            shutil.rmtree(full, ignore_errors=True)
            return
        try:
            os.unlink(full)
        except FileNotFoundError:
            raise PathNotFound(path) from None

    def touch(self, path: str) -> None:
        try:
            os.utime(self._full(path))
        except FileNotFoundError:
            raise PathNotFound(path) from None

    def local_path(self, path: str) -> str | None:
        return self._full(path)
