import io
import tarfile

from lamina.archive.apply import apply_layer
from lamina.archive.tarsplit import assemble, normalize_name, tar_size


def _tar(entries, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for name, data, kind in entries:
            info = tarfile.TarInfo(name)
            info.type = kind
            if kind == tarfile.SYMTYPE:
                info.linkname = data.decode()
                t.addfile(info)
            elif kind == tarfile.DIRTYPE:
                t.addfile(info)
            else:
                info.size = len(data)
                t.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _record_and_rebuild(raw, tmp_path, fmt_reader=None):
    split = io.BytesIO()
    applied = apply_layer(io.BytesIO(raw), str(tmp_path), whiteouts="delete", same_owner=False, record=split)
    assert applied.tar_size == len(raw)
    split = io.BytesIO(split.getvalue())
    out = io.BytesIO()
    assemble(split, str(tmp_path), out)
    split.seek(0)
    assert tar_size(split) == len(raw)
    return out.getvalue()


def test_roundtrip_pax_and_long_names(tmp_path):
    raw = _tar(
        [
            ("dir", b"", tarfile.DIRTYPE),
            ("dir/" + "n" * 200, b"x" * 1000, tarfile.REGTYPE),
            ("dir/ünïcode", b"data", tarfile.REGTYPE),
            ("link", "dir/ünïcode".encode(), tarfile.SYMTYPE),
            ("./dotted", b"", tarfile.REGTYPE),
            ("big", b"\1" * 70000, tarfile.REGTYPE),
        ]
    )
    assert _record_and_rebuild(raw, tmp_path) == raw


def test_roundtrip_gnu_format(tmp_path):
    raw = _tar([("g" * 150, b"long gnu name", tarfile.REGTYPE), ("f", b"1", tarfile.REGTYPE)], tarfile.GNU_FORMAT)
    assert _record_and_rebuild(raw, tmp_path) == raw


def test_trailing_padding_kept(tmp_path):
    raw = _tar([("a", b"abc", tarfile.REGTYPE)]) + b"\0" * 4096
    assert _record_and_rebuild(raw, tmp_path) == raw


def test_normalize_name():
    assert normalize_name("./a//b/") == "a/b"
    assert normalize_name("/abs/x") == "abs/x"


def test_record_read_in_chunks_across_members_and_truncation_refused(tmp_path):
    import gzip

    import pytest

    from lamina.archive.tarsplit import iter_entries
    from lamina.errors import StoreCorrupt

    lines = [b'{"type":2,"payload":"%s"}\n' % (b"QUJD" * n) for n in range(1, 400)]
    lines += [b'{"type":1,"name":"d/f\\u00e9%d","size":%d}\n' % (n, n) for n in range(400)]
    whole = gzip.compress(b"".join(lines[:500]), mtime=0) + gzip.compress(b"".join(lines[500:]), mtime=0)
    expected = [__import__("json").loads(line) for line in lines]
    for chunk in (7, 4096, 1 << 20):  # lines and gzip members split at every kind of boundary
        assert list(iter_entries(io.BytesIO(whole), chunk)) == expected
    with pytest.raises(StoreCorrupt):
        list(iter_entries(io.BytesIO(whole[:-20])))
    assert list(iter_entries(io.BytesIO(b""))) == []


def test_assemble_refuses_a_symlinked_directory_and_keeps_directories_apart(tmp_path):
    import pytest

    from lamina.errors import StoreCorrupt

    raw = _tar([("a", b"", tarfile.DIRTYPE), ("a/x", b"1", tarfile.REGTYPE), ("b", b"", tarfile.DIRTYPE),
                ("b/x", b"22", tarfile.REGTYPE), ("a/y", b"333", tarfile.REGTYPE), ("top", b"4", tarfile.REGTYPE)])
    (tmp_path / "tree").mkdir()
    (tmp_path / "t2").mkdir()
    assert _record_and_rebuild(raw, tmp_path / "tree") == raw
    # a directory swapped for a symlink after the record was made is not followed
    split = io.BytesIO()
    apply_layer(io.BytesIO(raw), str(tmp_path / "t2"), whiteouts="delete", same_owner=False, record=split)
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "x").write_bytes(b"1")
    (tmp_path / "t2" / "a" / "x").unlink()
    (tmp_path / "t2" / "a" / "y").unlink()
    (tmp_path / "t2" / "a").rmdir()
    (tmp_path / "t2" / "a").symlink_to(outside)
    with pytest.raises(StoreCorrupt):
        assemble(io.BytesIO(split.getvalue()), str(tmp_path / "t2"), io.BytesIO())


def test_tar_size_reads_dockers_record_shape_without_decoding_it():
    import base64
    import gzip
    import json

    raw = [b"x" * 512, b"y" * 1000, b"", b"z" * 7]
    lines = [
        {"type": 2, "payload": base64.b64encode(raw[0]).decode(), "position": 0},
        {"type": 1, "name": 'a "size": 99', "size": 12, "payload": "AAAAAAAAAAA=", "position": 1},
        {"type": 1, "name": "empty", "payload": None, "position": 2},  # docker omits a zero size
        {"type": 2, "payload": base64.b64encode(raw[1]).decode(), "position": 3},
        {"type": 2, "payload": base64.b64encode(raw[3]).decode(), "position": 4},
    ]
    record = gzip.compress(b"".join(json.dumps(e, separators=(",", ":")).encode() + b"\n" for e in lines))
    assert tar_size(io.BytesIO(record)) == 512 + 12 + 1000 + 7
