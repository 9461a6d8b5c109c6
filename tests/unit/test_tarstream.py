"""lamina's streaming tar reader against the standard library's, format by format, and its
refusals of malformed input."""

from __future__ import annotations

import io
import tarfile

import pytest

from lamina.archive.tarsplit import iter_entries
from lamina.archive.tarstream import TarFormatError, TarStream
from lamina.errors import InvalidArgument, Unsupported

ATTRS = ("name", "mode", "uid", "gid", "linkname", "size", "uname", "gname")


def _entries(long_link: bool = True) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    out: list[tuple[tarfile.TarInfo, bytes | None]] = []

    def add(name: str, kind: bytes = tarfile.REGTYPE, data: bytes | None = None, **attrs) -> None:
        info = tarfile.TarInfo(name)
        info.type = kind
        info.mtime = 1_700_000_000
        for key, value in attrs.items():
            setattr(info, key, value)
        if data is not None:
            info.size = len(data)
        out.append((info, data))

    add("etc", tarfile.DIRTYPE, mode=0o755)
    add("etc/passwd", data=b"root:x:0:0::/root:/bin/sh\n", mode=0o644, uname="root", gname="root")
    add("usr/" + "deep/" * 30 + "file", data=b"long path")  # > 100 bytes: prefix / pax / GNU L
    add("bin/sh", tarfile.SYMTYPE, linkname="/bin/busybox" + ("x" * 120 if long_link else ""))
    add("bin/ash", tarfile.LNKTYPE, linkname="etc/passwd")
    add("dev/null", tarfile.CHRTYPE, devmajor=1, devminor=3, mode=0o666)
    add("run/fifo", tarfile.FIFOTYPE)
    add("srv/ünïcödé", data=b"x" * 1000, uid=1000, gid=1000, mode=0o4755)
    add("empty", data=b"")
    add("big", data=bytes(range(256)) * 300)
    return out


def _tar(fmt: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        # ustar has no way to hold a link target over 100 bytes (its long paths use prefix)
        for info, data in _entries(long_link=fmt != tarfile.USTAR_FORMAT):
            t.addfile(info, io.BytesIO(data) if data is not None else None)
    return buf.getvalue()


def _read_all(raw: bytes, record: io.BytesIO | None = None) -> list[tuple[tarfile.TarInfo, bytes]]:
    stream = TarStream(io.BufferedReader(io.BytesIO(raw)), record)
    members = [(m, stream.read(m.size) if m.isreg() else b"") for m in stream]
    stream.finish()
    return members


@pytest.mark.parametrize("fmt", [tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT])
def test_members_match_the_standard_library(fmt):
    raw = _tar(fmt)
    ours = _read_all(raw)
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r:") as theirs:
        expected = [(m, theirs.extractfile(m).read() if m.isreg() else b"") for m in theirs]
    assert len(ours) == len(expected)
    for (a, data_a), (b, data_b) in zip(ours, expected, strict=True):
        for attr in ATTRS:
            assert getattr(a, attr) == getattr(b, attr), (b.name, attr)
        assert a.isreg() == b.isreg() and a.isdir() == b.isdir() and a.issym() == b.issym()
        assert a.islnk() == b.islnk() and a.ischr() == b.ischr() and a.isfifo() == b.isfifo()
        assert float(a.mtime) == float(b.mtime)
        if a.ischr():
            assert (a.devmajor, a.devminor) == (b.devmajor, b.devminor)
        assert data_a == data_b


def test_pax_xattrs_global_headers_and_fractional_mtime():
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT, pax_headers={"comment": "global"}) as t:
        info = tarfile.TarInfo("f")
        info.size = 3
        info.pax_headers = {"SCHILY.xattr.user.k": "v\udcff", "mtime": "1700000000.25"}
        t.addfile(info, io.BytesIO(b"abc"))
    (member, data), = _read_all(buf.getvalue())
    assert data == b"abc"
    assert member.pax_headers["SCHILY.xattr.user.k"] == "v\udcff"
    assert member.pax_headers["comment"] == "global"
    assert member.mtime == 1700000000.25


def test_v7_directory_and_base256_numbers():
    info = tarfile.TarInfo("olddir/")
    info.type = tarfile.AREGTYPE
    block = bytearray(info.tobuf(format=tarfile.GNU_FORMAT))
    big = tarfile.TarInfo("huge-uid")
    big.uid = 3_000_000  # past the 7 octal digits of the field: GNU writes base-256
    block += big.tobuf(format=tarfile.GNU_FORMAT)
    members = _read_all(bytes(block) + bytes(1024))
    assert members[0][0].isdir() and members[0][0].name == "olddir"
    assert members[1][0].uid == 3_000_000


@pytest.mark.parametrize("trailing", [4096, 3 << 20])  # the second spans several raw segments
def test_record_rebuilds_the_stream_including_trailing_bytes(trailing):
    raw = _tar(tarfile.PAX_FORMAT) + b"\0" * trailing + b"junk after the archive"
    record = io.BytesIO()
    _read_all(raw, record)
    rebuilt = bytearray()
    contents = {m.name: data for m, data in _read_all(raw)}
    for entry in iter_entries(io.BytesIO(record.getvalue())):
        if entry["type"] == 2:
            import base64

            rebuilt += base64.b64decode(entry["payload"])
        else:
            rebuilt += contents[entry["name"]][: entry["size"]]
    assert bytes(rebuilt) == raw


def test_empty_stream_is_an_empty_archive():
    assert _read_all(b"") == []


def _one_file() -> bytearray:
    info = tarfile.TarInfo("a")
    info.size = 600
    return bytearray(info.tobuf(format=tarfile.USTAR_FORMAT))


def test_bad_checksum_is_refused():
    raw = _one_file()
    raw[0] = ord("b")
    with pytest.raises(TarFormatError, match="checksum"):
        _read_all(bytes(raw) + bytes(1024))


def test_truncated_header_and_content_are_refused():
    raw = _one_file()
    with pytest.raises(TarFormatError, match="end of data"):
        _read_all(bytes(raw[:300]))
    with pytest.raises(TarFormatError, match="end of data"):
        _read_all(bytes(raw) + b"x" * 100)


def test_garbage_is_not_a_tar_and_errors_are_invalid_argument():
    with pytest.raises(InvalidArgument, match="not a valid tar"):
        _read_all(b"this is not a tar archive".ljust(512, b"!"))


def test_sparse_files_are_refused():
    info = tarfile.TarInfo("sparse")
    info.type = tarfile.GNUTYPE_SPARSE
    raw = info.tobuf(format=tarfile.GNU_FORMAT)
    with pytest.raises(Unsupported, match="sparse"):
        _read_all(raw + bytes(1024))


def test_oversized_pax_record_is_refused():
    info = tarfile.TarInfo("././@PaxHeader")
    info.type = tarfile.XHDTYPE
    info.size = 1 << 30
    with pytest.raises(TarFormatError, match="record"):
        _read_all(info.tobuf(format=tarfile.USTAR_FORMAT))


def test_malformed_pax_record_is_refused():
    payload = b"99 path=x\n"
    info = tarfile.TarInfo("././@PaxHeader")
    info.type = tarfile.XHDTYPE
    info.size = len(payload)
    raw = info.tobuf(format=tarfile.USTAR_FORMAT) + payload.ljust(512, b"\0")
    with pytest.raises(TarFormatError, match="pax"):
        _read_all(raw + bytes(1024))


def test_out_of_range_fields_and_nul_names_are_refused():
    huge = tarfile.TarInfo("owner")
    huge.uid = 1 << 40
    with pytest.raises(TarFormatError, match="owner out of range"):
        _read_all(huge.tobuf(format=tarfile.GNU_FORMAT) + bytes(1024))
    nul = tarfile.TarInfo("x")
    nul.pax_headers = {"path": "a\x00b"}
    with pytest.raises(TarFormatError, match="NUL"):
        _read_all(nul.tobuf(format=tarfile.PAX_FORMAT) + bytes(1024))


def _fix_checksum(raw: bytearray, block_start: int) -> None:
    block = raw[block_start : block_start + 512]
    block[148:156] = b" " * 8
    raw[block_start + 148 : block_start + 156] = b"%06o\0 " % sum(block)


def test_mutated_headers_only_ever_raise_lamina_errors():
    """A seeded fuzz of header bytes (checksums repaired, so parsing goes deep): every outcome
    is a parsed archive or a LaminaError, never IndexError, OverflowError, UnicodeError..."""
    import random

    from lamina.errors import LaminaError

    rng = random.Random(20261124)
    bases = [bytearray(_tar(fmt)) for fmt in (tarfile.USTAR_FORMAT, tarfile.GNU_FORMAT, tarfile.PAX_FORMAT)]
    interesting = [0, 0x20, 0x30, 0x37, 0x80, 0xFF, 0x0A, ord("x"), ord("L"), ord("g"), ord("5"), ord("=")]
    outcomes = {"parsed": 0, "refused": 0}
    for _ in range(600):
        raw = bytearray(rng.choice(bases))
        for _ in range(rng.randint(1, 4)):
            pos = rng.randrange(min(len(raw), 8 * 512))
            raw[pos] = rng.choice(interesting + [rng.randrange(256)])
            if pos // 512 * 512 + 512 <= len(raw):
                _fix_checksum(raw, pos // 512 * 512)
        try:
            _read_all(bytes(raw), io.BytesIO())
            outcomes["parsed"] += 1
        except LaminaError:
            outcomes["refused"] += 1
    assert outcomes["parsed"] and outcomes["refused"]
