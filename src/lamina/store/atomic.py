"""Crash-safe file writes: write a temp file beside the target, fsync, rename into place.

A reader therefore sees either the old content or the new, never a torn file; a process
killed mid-write leaves only a ``.tmp-*`` file, which ``system check`` removes.
"""

from __future__ import annotations

import os

TMP_PREFIX = ".tmp-"


def temp_name(path: str) -> str:
    head, tail = os.path.split(path)
    return os.path.join(head, f"{TMP_PREFIX}{tail}-{os.getpid()}-{os.urandom(4).hex()}")


def write_file(path: str, data: bytes, mode: int = 0o644, durable: bool = True) -> None:
    """Atomically replace ``path`` with ``data``."""
    tmp = temp_name(path)
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        if durable:
            os.fsync(fd)
    except BaseException:
        os.close(fd)
        unlink_quietly(tmp)
        raise
    os.close(fd)
    try:
        os.replace(tmp, path)
    except BaseException:
        unlink_quietly(tmp)
        raise
    if durable:
        fsync_dir(os.path.dirname(path) or ".")


def write_text(path: str, text: str, durable: bool = True) -> None:
    write_file(path, text.encode(), durable=durable)


def read_text(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read().strip()


def fsync_dir(path: str) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unlink_quietly(path: str) -> None:
    """Remove ``path`` if it is there (debris may already be gone)."""
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
