"""A layer's file index: every path the layer tar holds, with its type, mode, owner, size,
mtime and link target, and the whiteouts and opaque directories it applies, sorted by path.

It answers "which layer holds this file" without reading the layer: a lookup is a bisect in a
list of paths. Whiteouts are recorded by what they delete (``etc/motd`` with type ``w``, not
``etc/.wh.motd``); an opaque marker (``.wh..wh..opq``) sets :data:`OPAQUE` on its directory,
creating the directory's entry (flagged :data:`IMPLICIT`) if the tar had none. A path that the
tar holds twice keeps its last entry, as extraction does.

On disk (``FORMAT``) the index is columns, so 100k entries load in milliseconds: a header
(magic, version, entry count, the DiffID described), then length-prefixed sections (paths and
link targets NUL-separated, type and flag bytes, little-endian arrays of modes, uids, gids,
sizes and mtimes), then the sha256 of all that, checked on every load.
"""

from __future__ import annotations

import hashlib
import struct
import sys
from array import array
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass

from ..errors import StoreCorrupt
from .tarentries import TarEntry
from .tarsplit import normalize_name

__all__ = ["FileIndex", "FileEntry", "IndexBuilder", "OPAQUE", "IMPLICIT", "FORMAT"]

FORMAT = 1
MAGIC = b"lamina file index\n"
OPAQUE = 1
IMPLICIT = 2
_WHITEOUT = ".wh."
_OPAQUE_MARKER = ".wh..wh..opq"
_AUFS_META = ".wh..wh."
#: tar type flags to the index's one-letter types
_TYPES = {"0": "f", "7": "f", "5": "d", "2": "l", "1": "h", "3": "c", "4": "b", "6": "p"}
_HEAD = struct.Struct("<18sIIH")
_LEN = struct.Struct("<Q")
_ARRAYS = (("modes", "I"), ("uids", "I"), ("gids", "I"), ("sizes", "Q"), ("mtimes", "q"))


@dataclass(frozen=True, slots=True)
class FileEntry:
    """One path of a layer, for display."""

    path: str
    type: str  # f d l h c b p, or w for a whiteout
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    link: str
    flags: int

    @property
    def opaque(self) -> bool:
        return bool(self.flags & OPAQUE)


@dataclass(slots=True)
class FileIndex:
    """One layer's entries as columns, sorted by path (no leading slash; the root is "")."""

    diff_id: str
    paths: list[str]
    types: bytes
    flags: bytes
    modes: array
    uids: array
    gids: array
    sizes: array
    mtimes: array
    links: list[str]

    def __len__(self) -> int:
        return len(self.paths)

    def find(self, path: str) -> int:
        """The position of ``path``, or -1."""
        i = bisect_left(self.paths, path)
        return i if i < len(self.paths) and self.paths[i] == path else -1

    def under(self, directory: str) -> range:
        """Positions of the paths strictly below ``directory`` ("" for the whole layer)."""
        if not directory:
            start = 1 if self.paths and self.paths[0] == "" else 0
            return range(start, len(self.paths))
        # "/" + 1 is "0": every path with the prefix "dir/" sorts between the two
        return range(bisect_left(self.paths, directory + "/"), bisect_left(self.paths, directory + "0"))

    def entry(self, i: int) -> FileEntry:
        return FileEntry(
            self.paths[i], chr(self.types[i]), self.modes[i], self.uids[i], self.gids[i],
            self.sizes[i], self.mtimes[i], self.links[i], self.flags[i],
        )

    @property
    def file_count(self) -> int:
        """Entries that are not directories or whiteouts."""
        return len(self.types) - self.types.count(b"d") - self.types.count(b"w")

    @property
    def content_bytes(self) -> int:
        return sum(self.sizes)

    # the file format ------------------------------------------------------------------------
    def encode(self) -> bytes:
        diff = self.diff_id.encode()
        parts = [
            _HEAD.pack(MAGIC, FORMAT, len(self.paths), len(diff)),
            diff,
        ]
        sections = [
            "\0".join(self.paths).encode("utf-8", "surrogateescape"),
            "\0".join(self.links).encode("utf-8", "surrogateescape"),
            self.types,
            self.flags,
        ]
        for name, _ in _ARRAYS:
            column = getattr(self, name)
            if sys.byteorder == "big":
                column = array(column.typecode, column)
                column.byteswap()
            sections.append(column.tobytes())
        for section in sections:
            parts.append(_LEN.pack(len(section)))
            parts.append(section)
        body = b"".join(parts)
        return body + hashlib.sha256(body).digest()

    @classmethod
    def decode(cls, data: bytes) -> FileIndex:
        """Raises StoreCorrupt for anything but an intact index of this format."""
        if len(data) < _HEAD.size + 32 or hashlib.sha256(data[:-32]).digest() != data[-32:]:
            raise StoreCorrupt("file index is damaged (checksum mismatch)")
        magic, version, count, diff_len = _HEAD.unpack_from(data)
        if magic != MAGIC or version != FORMAT:
            raise StoreCorrupt("file index has an unknown format")
        pos = _HEAD.size
        diff_id = data[pos : pos + diff_len].decode()
        pos += diff_len
        sections = []
        for _ in range(4 + len(_ARRAYS)):
            (length,) = _LEN.unpack_from(data, pos)
            pos += _LEN.size
            sections.append(data[pos : pos + length])
            pos += length
        paths = _split(sections[0], count)
        links = _split(sections[1], count)
        columns = {}
        for (name, code), raw in zip(_ARRAYS, sections[4:], strict=True):
            column = array(code)
            column.frombytes(raw)
            if sys.byteorder == "big":
                column.byteswap()
            columns[name] = column
        if len(paths) != count or len(links) != count or any(len(c) != count for c in columns.values()) \
                or len(sections[2]) != count or len(sections[3]) != count:
            raise StoreCorrupt("file index is damaged (columns disagree)")
        return cls(diff_id, paths, bytes(sections[2]), bytes(sections[3]), links=links, **columns)


def _split(raw: bytes, count: int) -> list[str]:
    if count == 0:
        return []
    return raw.decode("utf-8", "surrogateescape").split("\0")


class IndexBuilder:
    """Collects a layer's tar entries (in archive order) into a :class:`FileIndex`."""

    def __init__(self) -> None:
        #: path -> [type, mode, uid, gid, size, mtime, link, flags]
        self._entries: dict[str, list] = {}
        #: a path of the layer replaced or whited out by a later entry of the same layer
        self._rewritten = False

    def add(self, entry: TarEntry) -> None:
        path = normalize_name(entry.name)
        head, _, base = path.rpartition("/")
        if base.startswith(_WHITEOUT):
            self._whiteout(head, base, entry)
            return
        kind = _TYPES.get(entry.kind, "f")
        link = entry.linkname
        if kind == "h":
            link = normalize_name(link)
        size = entry.size if kind == "f" else 0
        old = self._entries.get(path)
        if old is not None and (kind != "d" or old[0] != "d"):
            self._rewritten = True
        flags = old[7] & OPAQUE if old is not None and kind == "d" else 0
        self._entries[path] = [kind, entry.mode & 0o7777, entry.uid, entry.gid, size, entry.mtime, link, flags]

    def _whiteout(self, head: str, base: str, entry: TarEntry) -> None:
        if base == _OPAQUE_MARKER:
            current = self._entries.get(head)
            if current is not None and current[0] == "d":
                current[7] |= OPAQUE
            else:
                self._entries[head] = ["d", 0o755, 0, 0, 0, entry.mtime, "", OPAQUE | IMPLICIT]
            return
        if base.startswith(_AUFS_META):
            return  # AUFS bookkeeping (hard-link dirs): nothing a user sees
        victim = base[len(_WHITEOUT) :]
        if victim in ("", ".", ".."):
            return  # refused at extraction; never stored
        path = f"{head}/{victim}" if head else victim
        if path in self._entries:
            self._rewritten = True
        self._entries[path] = ["w", 0, entry.uid, entry.gid, 0, entry.mtime, "", 0]

    def add_all(self, entries: Iterable[TarEntry]) -> IndexBuilder:
        for entry in entries:
            self.add(entry)
        return self

    def disk_size(self) -> int | None:
        """What docker's ``directory.Size`` finds in the layer's overlay2 diff directory once it
        is extracted (st_size of every non-directory, hard links once: regular files' sizes
        and symlinks' target lengths), known without walking it; None when a later entry
        replaced or whited out an earlier one (an inode another name still holds may then
        count), for the walk to answer."""
        if self._rewritten:
            return None
        total = 0
        for row in self._entries.values():
            if row[0] == "f":
                total += row[4]
            elif row[0] == "l":
                total += len(row[6].encode("utf-8", "surrogateescape"))
        return total

    def build(self, diff_id: str) -> FileIndex:
        paths = sorted(self._entries)
        rows = [self._entries[p] for p in paths]
        return FileIndex(
            diff_id=diff_id,
            paths=paths,
            types="".join(r[0] for r in rows).encode(),
            flags=bytes(r[7] for r in rows),
            modes=array("I", [r[1] for r in rows]),
            uids=array("I", [r[2] for r in rows]),
            gids=array("I", [r[3] for r in rows]),
            sizes=array("Q", [r[4] for r in rows]),
            mtimes=array("q", [r[5] for r in rows]),
            links=[r[6] for r in rows],
        )
