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
import json
import os
import re
import zlib
from collections.abc import Iterator
from typing import BinaryIO

from ..errors import StoreCorrupt


def normalize_name(name: str) -> str:
    """The path a tar entry lands at, relative to the layer root (as apply_layer resolves it)."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return "/".join(parts)


_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC
_DIR_FLAGS = _FILE_FLAGS | os.O_DIRECTORY


class _Beneath:
    """Opens files below ``root_fd`` without following any symlink on the way, keeping the
    last directory open: a tar lists a directory's files together, so most files cost one
    ``openat`` instead of one per path component (push and save assemble thousands)."""

    def __init__(self, root_fd: int) -> None:
        self.root_fd = root_fd
        self._dir = ""
        self._dir_fd = root_fd

    def open(self, relpath: str) -> int:
        head, _, leaf = relpath.rpartition("/")
        if head != self._dir:
            self.close()
            self._dir_fd = self._walk(head) if head else self.root_fd
            self._dir = head
        return os.open(leaf, _FILE_FLAGS, dir_fd=self._dir_fd)

    def _walk(self, head: str) -> int:
        fd = os.dup(self.root_fd)
        try:
            for part in head.split("/"):
                nxt = os.open(part, _DIR_FLAGS, dir_fd=fd)
                os.close(fd)
                fd = nxt
        except BaseException:
            os.close(fd)
            raise
        return fd

    def close(self) -> None:
        if self._dir_fd != self.root_fd:
            os.close(self._dir_fd)
        self._dir, self._dir_fd = "", self.root_fd


def iter_lines(split: BinaryIO, chunk: int = 1 << 20) -> Iterator[bytes]:
    """The record's non-empty lines. Decompressed in chunks and split by hand (``gzip.GzipFile``'s
    line iteration cost a third of assembling a layer); gzip members may follow each other."""
    inflate = zlib.decompressobj(31)
    fed = False  # whether the current member has begun: a record cut inside one is refused
    pending = b""
    while data := split.read(chunk):
        while data:
            fed = True
            lines = (pending + inflate.decompress(data)).split(b"\n")
            data = inflate.unused_data
            if inflate.eof:
                inflate, fed = zlib.decompressobj(31), False
            pending = lines.pop()
            for line in lines:
                if line:
                    yield line
    if fed:
        raise StoreCorrupt("a layer's tar-split record is truncated; run 'lamina system check'")
    if pending.strip():
        yield pending


def iter_entries(split: BinaryIO, chunk: int = 1 << 20) -> Iterator[dict]:
    """The record's entries, each line decoded by one ``JSONDecoder`` (``json.loads``'s
    per-call checks cost more than the decoding)."""
    decode = json.JSONDecoder().decode
    for line in iter_lines(split, chunk):
        yield decode(line.decode())


def assemble(split: BinaryIO, diff_dir: str, out: BinaryIO, chunk: int = 1 << 20) -> None:
    """Write the original tar stream to ``out`` from the record and the layer's files."""
    root_fd = os.open(diff_dir, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    beneath = _Beneath(root_fd)
    write, read = out.write, os.read
    try:
        for entry in iter_entries(split):
            if entry["type"] == 2:
                write(base64.b64decode(entry["payload"]))
                continue
            name, size = entry["name"], entry["size"]
            try:
                fd = beneath.open(name)
            except OSError as exc:
                raise StoreCorrupt(
                    f"layer file {name} is missing from {diff_dir}: {exc.strerror}"
                ) from None
            try:
                left = size
                while left:
                    data = read(fd, min(chunk, left))
                    if not data:
                        raise StoreCorrupt(
                            f"layer file {name} in {diff_dir} is shorter than recorded"
                        )
                    write(data)
                    left -= len(data)
            finally:
                os.close(fd)
    finally:
        beneath.close()
        os.close(root_fd)


def tar_size(split: BinaryIO) -> int:
    """Length of the tar stream a record rebuilds, without touching the layer's files.

    ``save`` needs it for the layer's tar header before the layer streams, so it is read from
    the lines without decoding them where the two writers' shape allows (both put ``type`` and
    ``payload``, or ``type`` and ``name`` then ``size``, first): a payload's length from its
    base64 text, a file's from its ``size``."""
    total = 0
    for line in iter_lines(split):
        if line.startswith(_RAW_PREFIX):
            end = line.find(b'"', len(_RAW_PREFIX))
            if end > 0:
                text = line[len(_RAW_PREFIX) : end]
                total += len(text) // 4 * 3 - text[-2:].count(b"=")
                continue
        elif line.startswith(_FILE_PREFIX):
            at = line.find(b'"size":')  # quotes inside the name are escaped: the first is the key
            digits = _DIGITS.match(line, at + 7) if at > 0 else None
            if digits is not None:
                total += int(digits.group())
                continue
        entry = json.loads(line)
        total += entry.get("size") or 0 if entry["type"] == 1 else len(base64.b64decode(entry.get("payload") or ""))
    return total


_RAW_PREFIX = b'{"type":2,"payload":"'
_FILE_PREFIX = b'{"type":1,'
_DIGITS = re.compile(rb"\d+")
