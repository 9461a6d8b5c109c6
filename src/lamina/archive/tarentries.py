"""The entries of a layer tar, read from its headers alone: from a tar stream, or from the
tar-split record a stored layer keeps.

Why a second reader beside :mod:`.tarstream`: indexing a layer needs only each member's name,
type, mode, owner, size and link target, and it reads a *record*, not the archive: a tar-split
holds every header byte but none of the regular files' content (its ``type 1`` entries stand
for that content). :class:`SplitSource` presents the record as the original stream with the
content as holes that cost nothing to skip, so one header scanner serves the record and a real
archive alike. With no TarInfo objects and no checksum on a record (its headers were verified
when the layer was applied), a 100k-file layer scans in a fraction of a second.

Formats as :mod:`.tarstream` reads them: ustar, pax (``x``/``g``), GNU long names (``L``/``K``),
V7 directories (a regular entry whose name ends in ``/``).
"""

from __future__ import annotations

import base64
import gzip
import json
import re
from collections.abc import Iterator
from typing import BinaryIO, NamedTuple

from ..errors import StoreCorrupt, Unsupported
from .tarstream import TarFormatError, _checksum_ok, _octal, _pax_records, _string

__all__ = ["TarEntry", "SplitSource", "StreamSource", "scan", "member_entry"]

BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)
_USTAR_MAGIC = b"ustar\x00"
_META = frozenset(b"xgLK")
_MAX_META = 1 << 20
_SKIP_CHUNK = 1 << 20
#: a regular file's content starts after the header; these types carry none worth reading
_V7_REGULAR = frozenset(b"0\x00")
_SIZE_DIGITS = re.compile(rb"\d+")


class TarEntry(NamedTuple):
    name: str
    #: the tar type flag as one character: "0" regular, "5" dir, "2" symlink, "1" hard link …
    kind: str
    mode: int
    uid: int
    gid: int
    size: int
    mtime: int
    linkname: str


def member_entry(m) -> TarEntry:
    """The entry of a :class:`tarfile.TarInfo` that :class:`.tarstream.TarStream` read (pax
    and long names applied), as :func:`scan` would yield it: extraction indexes a layer from
    the headers it has parsed anyway, instead of reading its record back afterwards."""
    kind = m.type.decode("latin-1")
    return TarEntry(m.name, "0" if kind == "\0" else kind, m.mode, m.uid, m.gid, m.size, int(m.mtime), m.linkname)


class StreamSource:
    """A tar stream read front to back; content is skipped by seeking where the file can."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        try:
            self._seekable = bool(raw.seekable())
        except (AttributeError, ValueError):
            self._seekable = False

    def read(self, n: int) -> bytes:
        data = self._raw.read(n)
        if len(data) == n or not data:
            return data
        parts = [data]
        n -= len(data)
        while n:
            more = self._raw.read(n)
            if not more:
                break
            parts.append(more)
            n -= len(more)
        return b"".join(parts)

    def skip(self, n: int) -> None:
        if self._seekable:
            self._raw.seek(n, 1)
            return
        while n:
            data = self._raw.read(min(n, _SKIP_CHUNK))
            if not data:
                raise TarFormatError("unexpected end of data in file content")
            n -= len(data)


class SplitSource:
    """A tar-split record (lamina's or docker's ``tar-split.json.gz``) read as the tar stream
    it describes, regular files' content being holes: skipped for free, never read."""

    def __init__(self, record: BinaryIO) -> None:
        self._gz = gzip.GzipFile(fileobj=record, mode="rb")
        self._lines: list[bytes] = []
        self._line = 0
        self._tail = b""
        self._buf = b""
        self._pos = 0
        self._hole = 0

    def close(self) -> None:
        self._gz.close()

    def _next_line(self) -> bytes | None:
        """Lines come from the record in 1 MiB chunks: readline() per line costs more than
        all the parsing."""
        while self._line >= len(self._lines):
            chunk = self._gz.read(_SKIP_CHUNK)
            if not chunk:
                tail, self._tail = self._tail, b""
                self._lines, self._line = ([tail] if tail.strip() else []), 0
                if not self._lines:
                    return None
                break
            lines = (self._tail + chunk).split(b"\n")
            self._tail = lines.pop()
            self._lines, self._line = lines, 0
        line = self._lines[self._line]
        self._line += 1
        return line

    def _advance(self) -> bool:
        """Load the next segment (raw bytes or a hole); False at the end of the record."""
        while (line := self._next_line()) is not None:
            if line.startswith(b'{"type":2,"payload":"'):  # both writers put these keys first
                end = line.index(b'"', 21)
                self._buf, self._pos = base64.b64decode(line[21:end]), 0
                return True
            if line.startswith(b'{"type":1,'):
                # only the size matters; inside the JSON name every quote is escaped, so the
                # first '"size":' is the key
                at = line.find(b'"size":')
                if at >= 0:
                    digits = _SIZE_DIGITS.match(line, at + 7)
                    if digits is not None:
                        self._hole = int(digits.group())
                        if self._hole:
                            return True
                        continue
            if not line.strip():
                continue
            try:
                entry = json.loads(line)
            except ValueError:
                raise StoreCorrupt("a layer's tar-split record is damaged") from None
            if entry.get("type") == 2:
                self._buf, self._pos = base64.b64decode(entry.get("payload") or ""), 0
                return True
            if entry.get("size"):
                self._hole = int(entry["size"])
                return True
        return False

    def read(self, n: int) -> bytes:
        avail = len(self._buf) - self._pos
        if avail >= n:
            start = self._pos
            self._pos += n
            return self._buf[start : start + n]
        parts = []
        while n:
            avail = len(self._buf) - self._pos
            if avail:
                take = min(avail, n)
                parts.append(self._buf[self._pos : self._pos + take])
                self._pos += take
                n -= take
            elif self._hole:
                raise StoreCorrupt("a layer's tar-split record does not match its headers")
            elif not self._advance():
                break
        return b"".join(parts)

    def skip(self, n: int) -> None:
        while n:
            avail = len(self._buf) - self._pos
            if avail:
                take = min(avail, n)
                self._pos += take
                n -= take
            elif self._hole:
                take = min(self._hole, n)
                self._hole -= take
                n -= take
            elif not self._advance():
                raise StoreCorrupt("a layer's tar-split record ends inside a file")


def scan(source: StreamSource | SplitSource, verify: bool = True) -> Iterator[TarEntry]:
    """The members of the tar ``source`` presents, in archive order, up to its end marker.

    ``verify`` checks each header's checksum (for archives not yet trusted).
    """
    global_pax: dict[str, str] = {}
    local: dict[str, str] = {}
    long_name = long_link = None
    while True:
        block = source.read(BLOCK)
        if len(block) < BLOCK:
            if not block:
                return
            raise TarFormatError("unexpected end of data in a header")
        if block == _ZERO_BLOCK:
            return
        if verify and not _checksum_ok(block):
            raise TarFormatError("bad header checksum")
        kind = block[156]
        size = _octal(block[124:136])
        if size < 0:
            raise TarFormatError("negative size")
        padding = -size % BLOCK
        if kind in _META:
            if size > _MAX_META:
                raise TarFormatError(f"a {chr(kind)} record of {size} bytes")
            payload = source.read(size)
            if len(payload) != size:
                raise TarFormatError("unexpected end of data in a pax or long-name record")
            source.skip(padding)
            if kind == 0x78:  # x
                local.update(_pax_records(payload))
            elif kind == 0x67:  # g
                global_pax.update(_pax_records(payload))
            elif kind == 0x4C:  # L
                long_name = _string(payload)
            else:
                long_link = _string(payload)
            continue
        if kind == 0x53:  # S
            raise Unsupported("layer holds a GNU sparse file; sparse files in layers are not supported")
        name = block[0:100].split(b"\0", 1)[0].decode("utf-8", "surrogateescape")
        if block[257:263] == _USTAR_MAGIC and block[345]:
            name = f"{_string(block[345:500])}/{name}"
        linkname = block[157:257].split(b"\0", 1)[0].decode("utf-8", "surrogateescape") if block[157] else ""
        uid, gid, mtime = _octal(block[108:116]), _octal(block[116:124]), _octal(block[136:148])
        if long_name is not None:
            name = long_name
        if long_link is not None:
            linkname = long_link
        pax = {**global_pax, **local} if (local or global_pax) else None
        if pax:
            name = pax.get("path", name)
            linkname = pax.get("linkpath", linkname)
            try:
                size = int(pax.get("size", size))
                uid = int(pax.get("uid", uid))
                gid = int(pax.get("gid", gid))
                mtime = int(float(pax.get("mtime", mtime)))
            except ValueError:
                raise TarFormatError(f"bad pax number in the header of {name!r}") from None
            padding = -size % BLOCK
        type_char = chr(kind) if kind else "0"
        if kind in _V7_REGULAR and name.endswith("/"):
            type_char = "5"
        yield TarEntry(name, type_char, _octal(block[100:108]), uid, gid, size, mtime, linkname)
        source.skip(size + padding)
        local = {}
        long_name = long_link = None
