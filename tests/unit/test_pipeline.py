"""The layer pipeline: a worker reads, decompresses and hashes while the caller extracts."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile
import threading

import pytest
import zstandard

from lamina.archive.apply import apply_layer
from lamina.archive.compression import Limits
from lamina.archive.fileindex import IndexBuilder
from lamina.archive.pipeline import CHUNK, LayerFeed
from lamina.archive.tarentries import SplitSource, scan
from lamina.errors import InvalidArgument, UnsafeArchive
from lamina.testing.tars import make_tar


def _big_tar() -> bytes:
    """Several chunks' worth, so the worker and the reader really take turns."""
    entries = [("data", "dir", None)]
    entries += [(f"data/f{i}", "file", os.urandom(300_000)) for i in range(12)]
    return make_tar(entries)


COMPRESS = {
    "none": lambda raw: raw,
    "gzip": lambda raw: gzip.compress(raw, 1),
    "zstd": lambda raw: zstandard.ZstdCompressor().compress(raw),
}


@pytest.mark.parametrize("kind", sorted(COMPRESS))
@pytest.mark.parametrize("declared", [True, False])
def test_feed_yields_the_uncompressed_bytes_and_their_digest(kind, declared):
    raw = _big_tar()
    feed = LayerFeed(io.BytesIO(COMPRESS[kind](raw)), kind if declared else None)
    out = io.BufferedReader(feed, CHUNK).read()
    feed.close()
    assert out == raw
    assert feed.count == len(raw)
    assert str(feed.digest()) == "sha256:" + hashlib.sha256(raw).hexdigest()


def test_a_truncated_gzip_fails_the_extraction_and_stores_nothing_whole(tmp_path):
    blob = gzip.compress(_big_tar(), 1)
    with pytest.raises((UnsafeArchive, InvalidArgument)):
        apply_layer(io.BytesIO(blob[: len(blob) // 2]), str(tmp_path), compression=None, same_owner=False)


def test_the_size_limit_is_enforced_by_the_worker(tmp_path):
    with pytest.raises(UnsafeArchive, match="limit"):
        apply_layer(io.BytesIO(_big_tar()), str(tmp_path), limits=Limits(max_uncompressed=1 << 20), same_owner=False)


class _Failing(io.RawIOBase):
    """A source that fails after a few chunks (a dropped download)."""

    def __init__(self, data: bytes, fail_at: int) -> None:
        self._data = io.BytesIO(data)
        self._fail_at = fail_at

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._data.tell() >= self._fail_at:
            raise OSError("connection reset")
        return self._data.readinto(buffer)


def test_a_source_failure_reaches_the_reader(tmp_path):
    raw = _big_tar()
    with pytest.raises((OSError, InvalidArgument), match="connection reset"):
        apply_layer(_Failing(raw, len(raw) // 2), str(tmp_path), same_owner=False)


def test_a_reader_that_gives_up_stops_the_worker(tmp_path):
    before = threading.active_count()
    hostile = make_tar([("ok", "file", os.urandom(3 * CHUNK)), ("../evil", "file", "x")]) + _big_tar() * 4
    with pytest.raises(UnsafeArchive):
        apply_layer(io.BytesIO(hostile), str(tmp_path), same_owner=False)
    assert threading.active_count() == before


def test_the_index_built_while_extracting_is_the_one_the_record_gives(tmp_path):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for name, kind, data in [
            ("./", tarfile.DIRTYPE, b""), ("etc/", tarfile.DIRTYPE, b""), ("etc/hostname", tarfile.REGTYPE, b"box\n"),
            ("etc/" + "é" * 120, tarfile.REGTYPE, b"long"), ("etc/link", tarfile.LNKTYPE, b"etc/hostname"),
            ("etc/sym", tarfile.SYMTYPE, b"hostname"), ("etc/.wh.gone", tarfile.REGTYPE, b""),
            ("var/.wh..wh..opq", tarfile.REGTYPE, b""), ("etc/hostname", tarfile.REGTYPE, b"again\n"),
        ]:
            info = tarfile.TarInfo(name)
            info.type, info.mtime, info.uid, info.mode = kind, 1_600_000_000.5, 1000, 0o4755
            if kind in (tarfile.LNKTYPE, tarfile.SYMTYPE):
                info.linkname = data.decode()
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    split = io.BytesIO()
    built = IndexBuilder()
    applied = apply_layer(io.BytesIO(buf.getvalue()), str(tmp_path), whiteouts="delete", same_owner=False,
                          record=split, index=built)
    source = SplitSource(io.BytesIO(split.getvalue()))
    from_record = IndexBuilder().add_all(scan(source, verify=False)).build(str(applied.diff_id))
    assert built.build(str(applied.diff_id)) == from_record


def test_reads_across_chunks_and_to_the_end():
    raw = os.urandom(3 * CHUNK + 123)
    feed = LayerFeed(io.BytesIO(raw))
    got = [bytes(feed.read(CHUNK - 7)), bytes(feed.read(2 * CHUNK)), feed.readall()]
    feed.close()
    assert b"".join(got) == raw
    assert feed.read(10) == b""
