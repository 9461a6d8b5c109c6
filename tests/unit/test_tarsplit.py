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
