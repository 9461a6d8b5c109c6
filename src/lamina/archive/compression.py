"""Compressed layer streams: detect, decompress with a bomb guard, compress.

gzip goes through python-isal's igzip (same format as zlib's, several times faster; DESIGN.md
"Measured choices"), with a reader thread so decompression overlaps with tar extraction.
zstd goes through the ``zstandard`` binding. bzip2 and xz are accepted on input as
``docker import``/``load`` accept them, through the standard library.

Every decompressing reader is wrapped in :class:`BombGuard`, which counts the bytes that come
in and go out and raises :class:`~lamina.errors.UnsafeArchive` once the output passes the
configured size or the ratio passes the limit: a 40 KB gzip that inflates to a terabyte of
zeros is refused rather than filling the disk.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import BinaryIO

from ..errors import UnsafeArchive, Unsupported

__all__ = ["CountingReader", "Limits", "detect", "open_decompressed", "compressor", "compress_stream", "KINDS"]

KINDS = ("gzip", "zstd", "bzip2", "xz", "none")

_MAGIC = [
    (b"\x1f\x8b\x08", "gzip"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
]

#: bytes of input needed to tell the kinds apart
MAGIC_LEN = 6


@dataclass(frozen=True)
class Limits:
    """How far decompression may go before the input counts as a bomb.

    ``max_uncompressed`` caps the output of one stream; ``max_ratio`` caps output/input, checked
    only once ``ratio_after`` bytes are out (small, very compressible files are normal: an empty
    1 MiB file gzips to 1 KiB).
    """

    max_uncompressed: int = 1 << 40
    max_ratio: int = 1000
    ratio_after: int = 64 << 20


def detect(head: bytes) -> str:
    """The compression of a stream from its first bytes (docker's DetectCompression)."""
    for magic, kind in _MAGIC:
        if head.startswith(magic):
            return kind
    return "none"


class CountingReader(io.RawIOBase):
    """Counts the bytes read through it: the compressed bytes a decompressor pulls from its
    source, a tar's length as it is parsed. Reads into the caller's buffer where the source
    can (no copy), else copies what ``read`` returns."""

    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw
        self._readinto = getattr(raw, "readinto", None)
        self.count = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._readinto is not None:
            n = self._readinto(buffer) or 0
        else:
            data = self._raw.read(len(buffer))
            n = len(data)
            buffer[:n] = data
        self.count += n
        return n


class BombGuard(io.RawIOBase):
    """A reader over decompressed output that refuses to inflate past the limits."""

    def __init__(
        self, inner: BinaryIO, source: CountingReader | None, limits: Limits, kind: str
    ) -> None:
        self._inner = inner
        self._source = source
        self._limits = limits
        self._kind = kind
        self.produced = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        try:
            data = self._inner.read(len(buffer))
        except _stream_errors() as exc:
            raise UnsafeArchive(f"corrupt {self._kind} stream: {exc}") from None
        n = len(data)
        buffer[:n] = data
        self.produced += n
        self._check()
        return n

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0:
            return self.readall()
        buf = bytearray(n)
        got = self.readinto(buf)
        return bytes(buf[:got])

    def _check(self) -> None:
        limits = self._limits
        if self.produced > limits.max_uncompressed:
            raise UnsafeArchive(
                f"{self._kind} stream inflates past {limits.max_uncompressed} bytes; refusing it as a decompression bomb"
            )
        if self._source is not None and self.produced > limits.ratio_after:
            consumed = max(self._source.count, 1)
            if self.produced > consumed * limits.max_ratio:
                raise UnsafeArchive(
                    f"{self._kind} stream inflates more than {limits.max_ratio}x "
                    f"({consumed} -> {self.produced} bytes); refusing it as a decompression bomb"
                )

    def close(self) -> None:
        try:
            self._inner.close()
        finally:
            super().close()


def _stream_errors() -> tuple[type[BaseException], ...]:
    # the codecs are imported when a stream is opened, not at start-up: listing images or
    # inspecting one should not pay for loading isal, zstd, bz2 and lzma
    import lzma

    import zstandard

    return (OSError, EOFError, zstandard.ZstdError, lzma.LZMAError)


def _peek(raw: BinaryIO) -> tuple[bytes, BinaryIO]:
    """The first bytes of ``raw`` and a reader that still yields them."""
    if hasattr(raw, "peek"):
        head = raw.peek(MAGIC_LEN)[:MAGIC_LEN]
        return head, raw
    buffered = io.BufferedReader(_Passthrough(raw), buffer_size=1 << 20)
    return buffered.peek(MAGIC_LEN)[:MAGIC_LEN], buffered


class _Passthrough(io.RawIOBase):
    def __init__(self, raw: BinaryIO) -> None:
        self._raw = raw

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if hasattr(self._raw, "readinto"):
            return self._raw.readinto(buffer) or 0
        data = self._raw.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)


def open_decompressed(
    raw: BinaryIO, *, kind: str | None = None, limits: Limits | None = None, threaded: bool = True
) -> BinaryIO:
    """A buffered reader of ``raw``'s uncompressed bytes; ``kind`` None means detect it.

    Uncompressed input is passed through untouched (no guard: it cannot inflate). gzip is
    decompressed in a thread of its own unless ``threaded`` is False (a caller that reads
    from a worker thread already, :class:`.pipeline.LayerFeed`, needs no second one).
    """
    limits = limits or Limits()
    if kind is None:
        head, raw = _peek(raw)
        kind = detect(head)
    if kind == "none":
        return raw
    source = CountingReader(raw)
    counted = io.BufferedReader(source, buffer_size=1 << 20)
    if kind == "gzip" and threaded:
        from isal import igzip_threaded

        inner = igzip_threaded.open(counted, "rb", threads=1, block_size=1 << 20)
    elif kind == "gzip":
        from isal import igzip

        inner = igzip.IGzipFile(fileobj=counted, mode="rb")
    elif kind == "zstd":
        import zstandard

        inner = zstandard.ZstdDecompressor().stream_reader(counted, read_across_frames=True)
    elif kind == "bzip2":
        import bz2

        inner = bz2.BZ2File(counted, "rb")
    elif kind == "xz":
        import lzma

        inner = lzma.LZMAFile(counted, "rb")
    else:
        raise Unsupported(f"unsupported compression {kind!r}")
    return io.BufferedReader(BombGuard(inner, source, limits, kind), buffer_size=1 << 20)


def compressor(out: BinaryIO, kind: str, level: int | None = None, threads: int = 1) -> BinaryIO:
    """A writer that compresses into ``out``; closing it finishes the stream but not ``out``.

    ``threads`` above 1 compresses gzip in blocks on that many threads, pigz's way (a valid
    gzip stream, but not the same bytes as one thread makes: for pushes, whose digest is
    remembered, not for ``save``, whose blobs must come out the same every time)."""
    if kind == "gzip" and threads > 1:
        from isal import igzip_threaded

        return igzip_threaded.open(
            _NoClose(out), "wb", compresslevel=1 if level is None else level, threads=threads
        )
    if kind == "gzip":
        from isal import igzip

        return igzip.IGzipFile(
            fileobj=out, mode="wb", compresslevel=1 if level is None else level, mtime=0
        )
    if kind == "zstd":
        import zstandard

        cctx = zstandard.ZstdCompressor(level=3 if level is None else level)
        return cctx.stream_writer(out, closefd=False)
    if kind == "none":
        return _NoClose(out)
    raise Unsupported(f"cannot compress with {kind!r}: use gzip, zstd or none")


class _NoClose(io.RawIOBase):
    def __init__(self, out: BinaryIO) -> None:
        self._out = out

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        return self._out.write(data)

    def flush(self) -> None:
        pass


def compress_stream(src: BinaryIO, out: BinaryIO, kind: str, chunk: int = 1 << 20) -> None:
    """Copy ``src`` into ``out`` compressed with ``kind``."""
    with compressor(out, kind) as writer:
        while True:
            data = src.read(chunk)
            if not data:
                break
            writer.write(data)
