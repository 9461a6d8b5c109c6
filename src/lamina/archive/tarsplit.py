"""Tar-split: remember a layer tar's exact bytes without keeping a second copy of its files.

A layer's DiffID is the hash of its tar stream, so ``save`` and ``push`` must reproduce the
stream byte for byte. Rebuilding a tar from the extracted directory would change header
details (ordering, PAX records, padding), so, as Docker does with ``tar-split.json.gz``,
we record everything that is *not* regular-file content (headers, PAX and long-name records,
padding, the trailer) while the layer streams in, and point at file content by path. Saving
then interleaves the recorded bytes with the files read back from the layer's diff dir.

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

BLOCK = 512
_META_TYPES = frozenset(b"LKxgX")
_FILE_TYPES = frozenset(b"07\0")


def _parse_size(field: bytes) -> int:
    if field[0] & 0x80:  # GNU base-256 for sizes >= 8 GiB
        value = int.from_bytes(field[1:], "big")
        return value
    text = field.split(b"\0", 1)[0].strip(b" \0")
    return int(text, 8) if text else 0


def _pax_path(payload: bytes) -> str | None:
    path = None
    pos = 0
    while pos < len(payload):
        space = payload.find(b" ", pos)
        if space < 0:
            break
        try:
            length = int(payload[pos:space])
        except ValueError:
            break
        record = payload[space + 1 : pos + length - 1]
        key, _, value = record.partition(b"=")
        if key == b"path":
            path = value.decode("utf-8", "surrogateescape")
        pos += length
    return path


def normalize_name(name: str) -> str:
    """The path a tar entry lands at, relative to the layer root (as apply_layer resolves it)."""
    parts = [p for p in name.split("/") if p not in ("", ".")]
    return "/".join(parts)


class TarSplitRecorder:
    """A reader wrapper: pass the uncompressed layer stream through it into the extractor."""

    def __init__(self, raw: BinaryIO, out: BinaryIO) -> None:
        self._raw = raw
        self._out = gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1, mtime=0)
        self._pending = bytearray()  # raw bytes not yet written as a segment
        self._header = bytearray()
        self._remaining = 0  # payload bytes left in the current entry
        self._padding = 0
        self._mode = "header"  # header | meta | file | raw
        self._meta = bytearray()
        self._meta_type = 0
        self._long_name: str | None = None
        self._pax_name: str | None = None

    # file-object surface used by tarfile / the extractor
    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if data:
            self._feed(memoryview(data))
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self.finish()

    def finish(self) -> None:
        """Flush the record; call after the stream was read to its end."""
        if self._out is None:
            return
        self._flush_raw()
        self._out.close()
        self._out = None

    # the state machine
    def _feed(self, view: memoryview) -> None:
        while view:
            if self._remaining:
                take = min(self._remaining, len(view))
                chunk, view = view[:take], view[take:]
                self._remaining -= take
                if self._mode == "meta":
                    self._meta += chunk
                    self._pending += chunk
                    if not self._remaining:
                        self._end_meta()
                elif self._mode == "raw":
                    self._pending += chunk
                continue
            if self._padding:
                take = min(self._padding, len(view))
                self._pending += view[:take]
                view = view[take:]
                self._padding -= take
                continue
            need = BLOCK - len(self._header)
            self._header += view[:need]
            view = view[need:]
            if len(self._header) == BLOCK:
                self._on_header(bytes(self._header))
                self._header.clear()

    def _on_header(self, block: bytes) -> None:
        self._pending += block
        if block.count(0) == BLOCK:
            return
        kind = block[156]
        try:
            size = _parse_size(block[124:136])
        except ValueError:
            # not a tar header: keep the rest verbatim; the extractor reports the bad archive
            self._mode, self._remaining = "raw", 1 << 62
            return
        self._padding = (-size) % BLOCK
        if kind in _META_TYPES:
            self._mode, self._meta_type, self._remaining = "meta", kind, size
            self._meta.clear()
            if size == 0:
                self._end_meta()
            return
        name = self._pax_name or self._long_name or self._header_name(block)
        self._pax_name = self._long_name = None
        if kind in _FILE_TYPES and size:
            self._flush_raw()
            self._write({"type": 1, "name": normalize_name(name), "size": size})
            self._remaining = size
            self._mode = "file"
        else:
            self._remaining = size
            self._mode = "raw"

    def _end_meta(self) -> None:
        if self._meta_type == ord("L"):
            self._long_name = (
                bytes(self._meta).split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
            )
        elif self._meta_type == ord("x"):
            path = _pax_path(bytes(self._meta))
            if path is not None:
                self._pax_name = path
        self._mode = "header"

    @staticmethod
    def _header_name(block: bytes) -> str:
        name = block[0:100].split(b"\0", 1)[0]
        if block[257:262] == b"ustar":
            prefix = block[345:500].split(b"\0", 1)[0]
            if prefix:
                name = prefix + b"/" + name
        return name.decode("utf-8", "surrogateescape")

    def _flush_raw(self) -> None:
        if self._pending:
            self._write({"type": 2, "payload": base64.b64encode(bytes(self._pending)).decode()})
            self._pending.clear()

    def _write(self, entry: dict) -> None:
        self._out.write(json.dumps(entry, separators=(",", ":")).encode() + b"\n")


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
