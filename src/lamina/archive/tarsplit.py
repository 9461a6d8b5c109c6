"""Tar-split: remember a layer tar's exact bytes without keeping a second copy of its files.

A layer's DiffID is the hash of its tar stream, so ``save`` and ``push`` must reproduce the
stream byte for byte. Rebuilding a tar from the extracted directory would change header
details (ordering, PAX records, padding), so, as Docker does with ``tar-split.json.gz``,
we record everything that is *not* regular-file content (headers, PAX and long-name records,
padding, the trailer) while the layer streams in, and point at file content by path. Saving
then interleaves the recorded bytes with the files read back from the layer's diff dir.

The record is written by :class:`.tarstream.TarStream` while a layer is applied.

Format: gzip-compressed JSON lines, ``{"type":2,"payload":"<base64>"}`` for raw bytes and
``{"type":1,"name":"<path>","size":N}`` for a file's content.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
from collections.abc import Iterator
from typing import BinaryIO

from ..errors import StoreCorrupt


def normalize_name(name: str) -> str:
    """The path a tar entry lands at, relative to the layer root (as apply_layer resolves it)."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return "/".join(parts)


def _open_beneath(root_fd: int, relpath: str) -> int:
    """Open a file below ``root_fd`` without following any symlink on the way."""
    parts = relpath.split("/")
    fd = os.dup(root_fd)
    try:
        for part in parts[:-1]:
            nxt = os.open(
                part, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd
            )
            os.close(fd)
            fd = nxt
        return os.open(parts[-1], os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=fd)
    finally:
        os.close(fd)


def iter_entries(split: BinaryIO) -> Iterator[dict]:
    with gzip.GzipFile(fileobj=split, mode="rb") as f:
        for line in f:
            yield json.loads(line)


def assemble(split: BinaryIO, diff_dir: str, out: BinaryIO, chunk: int = 1 << 20) -> None:
    """Write the original tar stream to ``out`` from the record and the layer's files."""
    root_fd = os.open(diff_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        for entry in iter_entries(split):
            if entry["type"] == 2:
                out.write(base64.b64decode(entry["payload"]))
                continue
            name, size = entry["name"], entry["size"]
            try:
                fd = _open_beneath(root_fd, name)
            except OSError as exc:
                raise StoreCorrupt(
                    f"layer file {name} is missing from {diff_dir}: {exc.strerror}"
                ) from None
            with os.fdopen(fd, "rb", buffering=0) as f:
                left = size
                while left:
                    data = f.read(min(chunk, left))
                    if not data:
                        raise StoreCorrupt(
                            f"layer file {name} in {diff_dir} is shorter than recorded"
                        )
                    out.write(data)
                    left -= len(data)
    finally:
        os.close(root_fd)


def tar_size(split: BinaryIO) -> int:
    """Length of the tar stream a record rebuilds, without touching the layer's files."""
    total = 0
    for entry in iter_entries(split):
        total += entry["size"] if entry["type"] == 1 else len(base64.b64decode(entry["payload"]))
    return total
