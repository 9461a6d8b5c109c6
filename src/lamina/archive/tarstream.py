"""A streaming tar reader for layers that records the tar-split as it goes.

Why not :mod:`tarfile`: applying a layer is dominated, on the Python side, by tarfile's
per-member work (it parses every header field into an object, copies its buffer on every
small read) and by a second parse of the same headers to record the tar-split. This reader
parses each 512-byte header once, with only the fields a layer needs, hands out
:class:`tarfile.TarInfo` values (so the extractor keeps tarfile's vocabulary), and writes the
tar-split record (:mod:`.tarsplit`'s format) from what it has already parsed.

Formats: POSIX ustar and pax (per-file ``x`` and global ``g`` records: path, linkpath, size,
uid, gid, uname, gname, mtime, ``SCHILY.xattr.*``), GNU (``L``/``K`` long names, base-256
numbers), and V7 (a regular file whose name ends in ``/`` is a directory), as Go's
archive/tar reads them: the ustar ``prefix`` field is only used when the magic says ustar.
GNU sparse files are refused; docker's layers never hold them.

End of archive: the first all-zero block, or end of input on a block boundary (as Go's reader
and tarfile both accept). Everything after it is kept in the record, so the rebuilt stream
has the same bytes, and therefore the same DiffID.
"""

from __future__ import annotations

import base64
import gzip
import json
import tarfile
from typing import BinaryIO

from ..errors import InvalidArgument, Unsupported
from .tarsplit import normalize_name

__all__ = ["TarStream", "TarFormatError"]

BLOCK = 512
_ZERO_BLOCK = bytes(BLOCK)
_USTAR_MAGIC = b"ustar\x00"  # POSIX (ustar and pax); GNU writes b"ustar  \x00"
_REGULAR = frozenset(b"07\x00")
_PAX_NUMERIC = {"size": "size", "uid": "uid", "gid": "gid"}
_MAX_META = 1 << 20  # a pax or long-name record larger than this is not a real header
_SKIP_CHUNK = 1 << 20
_RECORD_BATCH = 256 << 10
#: bounds of what a file system can hold: a header outside them is hostile or corrupt, and
#: saying so here beats an OverflowError from chown(2) or utime(2) later
_MAX_SIZE = (1 << 63) - 1
_MAX_ID = (1 << 32) - 2  # (uid_t)-1 means "unchanged" to chown
_MAX_MTIME = (1 << 63) // 1_000_000_000 - 1


class TarFormatError(InvalidArgument):
    """The stream is not a tar archive (or is truncated)."""

    def __init__(self, why: str) -> None:
        super().__init__(f"layer is not a valid tar archive: {why}")


def _number(field: bytes) -> int:
    if field and field[0] & 0x80:  # GNU base-256 (0x80 positive, 0xff negative)
        value = int.from_bytes(field[1:], "big")
        if field[0] == 0xFF:
            value -= 1 << (8 * (len(field) - 1))
        return value
    text = field.split(b"\x00", 1)[0].strip()
    if not text:
        return 0
    try:
        return int(text, 8)
    except ValueError:
        raise TarFormatError(f"bad number field {field!r}") from None


def _octal(field: bytes) -> int:
    """A numeric header field: the usual octal text in one call, anything else (base-256,
    text after a NUL) through :func:`_number`."""
    try:
        return int(field.rstrip(b" \0") or b"0", 8)
    except ValueError:
        return _number(field)


def _string(field: bytes) -> str:
    return field.split(b"\x00", 1)[0].decode("utf-8", "surrogateescape")


def _checksum_ok(block: bytes) -> bool:
    stored = _number(block[148:156])
    unsigned = 256 + sum(block) - sum(block[148:156])
    if stored == unsigned:
        return True
    signed = 256 + sum(b - 256 if b > 127 else b for b in block[:148] + block[156:])
    return stored == signed


def _pax_records(payload: bytes) -> dict[str, str]:
    records: dict[str, str] = {}
    pos = 0
    end = len(payload)
    while pos < end:
        if payload[pos] == 0:  # some writers pad the record block with NULs
            break
        space = payload.find(b" ", pos)
        if space < 0:
            raise TarFormatError("malformed pax record")
        try:
            length = int(payload[pos:space])
        except ValueError:
            raise TarFormatError("malformed pax record length") from None
        if length <= space - pos or pos + length > end or payload[pos + length - 1] != 0x0A:
            raise TarFormatError("malformed pax record")
        key, sep, value = payload[space + 1 : pos + length - 1].partition(b"=")
        if not sep:
            raise TarFormatError("malformed pax record")
        records[key.decode("utf-8", "surrogateescape")] = value.decode("utf-8", "surrogateescape")
        pos += length
    return records


def _check_ranges(m: tarfile.TarInfo, size: int) -> None:
    if "\x00" in m.name or "\x00" in m.linkname:
        raise TarFormatError(f"entry {m.name!r} has a NUL byte in its name or link target")
    if not 0 <= size <= _MAX_SIZE:
        raise TarFormatError(f"entry {m.name!r} has an impossible size {size}")
    if not (0 <= m.uid <= _MAX_ID and 0 <= m.gid <= _MAX_ID):
        raise TarFormatError(f"entry {m.name!r} has an owner out of range ({m.uid}:{m.gid})")
    if not -_MAX_MTIME <= m.mtime <= _MAX_MTIME:
        raise TarFormatError(f"entry {m.name!r} has a modification time out of range")
    if not (0 <= m.devmajor <= _MAX_ID and 0 <= m.devminor <= _MAX_ID):
        raise TarFormatError(f"entry {m.name!r} has a device number out of range")


class _Record:
    """Writes the tar-split record: raw segments between regular files' contents.

    Lines are gathered and compressed in batches of :data:`_RECORD_BATCH` bytes: a gzip write
    per line (two or three per file) cost more than the rest of the record together."""

    def __init__(self, out: BinaryIO) -> None:
        self._gz = gzip.GzipFile(fileobj=out, mode="wb", compresslevel=1, mtime=0)
        self._lines = bytearray()
        self.pending = bytearray()

    def file(self, name: str, size: int) -> None:
        self.flush()
        self._lines += b'{"type":1,"name":%s,"size":%d}\n' % (json.dumps(normalize_name(name)).encode(), size)
        if len(self._lines) >= _RECORD_BATCH:
            self._spill()

    def flush(self) -> None:
        if self.pending:
            self._lines += b'{"type":2,"payload":"%s"}\n' % base64.b64encode(self.pending)
            self.pending.clear()
            if len(self._lines) >= _RECORD_BATCH:
                self._spill()

    def _spill(self) -> None:
        self._gz.write(self._lines)
        self._lines.clear()

    def close(self) -> None:
        self.flush()
        self._spill()
        self._gz.close()


class TarStream:
    """Iterate members of an uncompressed tar stream; read the current one's content.

    ``for member in stream:`` yields :class:`tarfile.TarInfo`; between yields,
    :meth:`read` returns the member's content. Content not read is skipped. Call
    :meth:`finish` at the end: it reads the rest of the input and closes the record.
    """

    def __init__(self, raw: BinaryIO, record: BinaryIO | None = None) -> None:
        self._raw = raw
        self._record = _Record(record) if record is not None else None
        self._left = 0  # content bytes of the current member not yet read
        self._padding = 0
        self._content_recorded_raw = False  # the current content goes into the raw segment
        self._global: dict[str, str] = {}
        self._done = False
        self.offset = 0

    # reading ---------------------------------------------------------------------------
    def _take(self, n: int) -> bytes:
        data = self._raw.read(n)
        self.offset += len(data)
        return data

    def _exact(self, n: int, what: str) -> bytes:
        data = self._take(n)
        if len(data) != n:
            raise TarFormatError(f"unexpected end of data in {what}")
        return data

    def _keep(self, data: bytes) -> None:
        if self._record is not None:
            self._record.pending += data
            if len(self._record.pending) > _SKIP_CHUNK:  # bound memory: a raw run may be long
                self._record.flush()

    def read(self, n: int) -> bytes:
        """Up to ``n`` bytes of the current member's content (b"" at its end); a bytes-like
        object, a memoryview when the source hands those out (:class:`.pipeline.LayerFeed`
        does, to save a copy of every byte)."""
        n = min(n, self._left)
        if n <= 0:
            return b""
        data = self._exact(n, "file content")
        self._left -= n
        if self._content_recorded_raw:
            self._keep(data)
        return data

    def _skip_rest(self) -> None:
        while self._left:
            self.read(min(self._left, _SKIP_CHUNK))
        if self._padding:
            self._keep(self._exact(self._padding, "padding"))
            self._padding = 0

    # iteration -------------------------------------------------------------------------
    def __iter__(self) -> TarStream:
        return self

    def __next__(self) -> tarfile.TarInfo:
        if self._done:
            raise StopIteration
        self._skip_rest()
        local: dict[str, str] = {}
        long_name = long_link = None
        while True:
            block = bytes(self._take(BLOCK))  # the source may hand out views; parsing wants bytes
            if not block:
                self._done = True
                raise StopIteration
            if len(block) != BLOCK:
                raise TarFormatError("unexpected end of data in a header")
            self._keep(block)
            if block == _ZERO_BLOCK:
                self._done = True
                raise StopIteration
            if not _checksum_ok(block):
                raise TarFormatError(f"bad header checksum at byte {self.offset - BLOCK}")
            kind = block[156:157]
            size = _octal(block[124:136])
            if size < 0:
                raise TarFormatError("negative size")
            padding = -size % BLOCK
            if kind in (b"x", b"g", b"L", b"K"):
                if size > _MAX_META:
                    raise TarFormatError(f"a {kind.decode()} record of {size} bytes")
                payload = bytes(self._exact(size, "a pax or long-name record"))
                self._keep(payload)
                self._keep(self._exact(padding, "padding"))
                if kind == b"x":
                    local.update(_pax_records(payload))
                elif kind == b"g":
                    self._global.update(_pax_records(payload))
                elif kind == b"L":
                    long_name = _string(payload)
                else:
                    long_link = _string(payload)
                continue
            if kind == b"S":
                raise Unsupported("layer holds a GNU sparse file; sparse files in layers are not supported")
            return self._member(block, kind, size, padding, {**self._global, **local}, long_name, long_link)

    def _member(
        self, block: bytes, kind: bytes, size: int, padding: int, pax: dict[str, str],
        long_name: str | None, long_link: str | None,
    ) -> tarfile.TarInfo:
        name = _string(block[0:100])
        if block[257:263] == _USTAR_MAGIC:
            prefix = _string(block[345:500])
            if prefix:
                name = f"{prefix}/{name}"
        if long_name is not None:
            name = long_name
        m = tarfile.TarInfo(name)
        m.type = kind
        m.mode = _octal(block[100:108])
        m.uid = _octal(block[108:116])
        m.gid = _octal(block[116:124])
        m.mtime = _octal(block[136:148])
        m.linkname = long_link if long_link is not None else _string(block[157:257])
        m.uname = _string(block[265:297])
        m.gname = _string(block[297:329])
        if kind in (b"3", b"4"):
            m.devmajor = _octal(block[329:337])
            m.devminor = _octal(block[337:345])
        if pax:
            size = self._apply_pax(m, pax, size)
            padding = -size % BLOCK
            m.pax_headers = pax
        if m.type == tarfile.AREGTYPE and m.name.endswith("/"):
            m.type = tarfile.DIRTYPE
        if m.type == tarfile.DIRTYPE:
            m.name = m.name.rstrip("/") or m.name
        _check_ranges(m, size)
        m.size = size
        self._left = size
        self._padding = padding
        regular = block[156] in _REGULAR and m.type != tarfile.DIRTYPE
        self._content_recorded_raw = not (regular and size)
        if self._record is not None and not self._content_recorded_raw:
            self._record.file(m.name, size)
        return m

    @staticmethod
    def _apply_pax(m: tarfile.TarInfo, pax: dict[str, str], size: int) -> int:
        if any(key.startswith("GNU.sparse.") for key in pax):
            raise Unsupported("layer holds a GNU sparse file; sparse files in layers are not supported")
        if "path" in pax:
            m.name = pax["path"]
        if "linkpath" in pax:
            m.linkname = pax["linkpath"]
        for key in ("uname", "gname"):
            if key in pax:
                setattr(m, key, pax[key])
        try:
            for key, attr in _PAX_NUMERIC.items():
                if key in pax:
                    value = int(pax[key])
                    if key == "size":
                        size = value
                    else:
                        setattr(m, attr, value)
            if "mtime" in pax:
                m.mtime = float(pax["mtime"])
        except ValueError:
            raise TarFormatError(f"bad pax number in the header of {m.name!r}") from None
        if size < 0:
            raise TarFormatError("negative size")
        return size

    # the end ---------------------------------------------------------------------------
    def finish(self) -> None:
        """After the last member: read what follows the archive (the trailer and any padding,
        part of the DiffID and of the record) and complete the record."""
        for _ in self:  # members the caller did not ask for are still part of the stream
            pass
        while True:
            data = self._take(_SKIP_CHUNK)
            if not data:
                break
            self._keep(data)
        self.close()

    def close(self) -> None:
        """Close the record (a stream abandoned on an error leaves it incomplete)."""
        if self._record is not None:
            self._record.close()
            self._record = None
