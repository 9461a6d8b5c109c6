"""Layer tars: safe extraction, whiteouts as deletions, creation from diffs, compression."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import tarfile

import pytest
import zstandard

from lamina.archive.apply import apply_layer
from lamina.archive.compression import Limits, compress_stream, detect, open_decompressed
from lamina.archive.create import write_layer_from_dirs, write_tree
from lamina.archive.safepath import clean_member_name
from lamina.errors import InvalidArgument, UnsafeArchive
from lamina.testing.tars import make_tar


def apply(data: bytes, dest, **kw):
    kw.setdefault("whiteouts", "delete")
    kw.setdefault("same_owner", os.geteuid() == 0)
    return apply_layer(io.BytesIO(data), str(dest), **kw)


def test_diff_id_is_hash_of_whole_stream_including_padding(tmp_path):
    data = make_tar([("etc", "dir", None), ("etc/hostname", "file", "box\n")]) + b"\0" * 4096
    applied = apply(data, tmp_path)
    assert str(applied.diff_id) == "sha256:" + hashlib.sha256(data).hexdigest()
    assert applied.tar_size == len(data)
    assert (tmp_path / "etc/hostname").read_text() == "box\n"


def test_modes_links_and_mtimes_are_kept(tmp_path):
    data = make_tar(
        [
            ("bin", "dir", None),
            ("bin/busybox", "file", b"\x7fELF"),
            ("bin/sh", "sym", "busybox"),
            ("bin/ash", "link", "bin/busybox"),
        ]
    )
    apply(data, tmp_path)
    assert os.readlink(tmp_path / "bin/sh") == "busybox"
    assert os.stat(tmp_path / "bin/ash").st_ino == os.stat(tmp_path / "bin/busybox").st_ino
    assert os.stat(tmp_path / "bin").st_mtime == 1_600_000_000
    assert oct(os.stat(tmp_path / "bin/busybox").st_mode & 0o777) == oct(0o644)


@pytest.mark.parametrize("name", ["../evil", "a/../../evil", "/../../evil"])
def test_entries_climbing_out_are_refused(tmp_path, name):
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UnsafeArchive):
        apply(make_tar([(name, "file", "x")]), dest)
    assert not (tmp_path / "evil").exists()


def test_absolute_names_land_inside(tmp_path):
    apply(make_tar([("/etc/passwd", "file", "root")]), tmp_path)
    assert (tmp_path / "etc/passwd").read_text() == "root"


def test_symlink_then_write_through_it_is_refused(tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir()
    dest = tmp_path / "dest"
    dest.mkdir()
    data = make_tar([("escape", "sym", str(outside)), ("escape/pwned", "file", "x")])
    with pytest.raises(UnsafeArchive):
        apply(data, dest)
    assert not (outside / "pwned").exists()


def test_relative_symlink_escape_is_refused(tmp_path):
    dest = tmp_path / "dest"
    dest.mkdir()
    data = make_tar([("up", "sym", "../.."), ("up/pwned", "file", "x")])
    with pytest.raises(UnsafeArchive):
        apply(data, dest)
    assert not (tmp_path / "pwned").exists()


def test_hardlink_to_outside_is_refused(tmp_path):
    secret = tmp_path / "secret"
    secret.write_text("s")
    dest = tmp_path / "dest"
    dest.mkdir()
    with pytest.raises(UnsafeArchive):
        apply(make_tar([("stolen", "link", "../secret")]), dest)
    with pytest.raises((UnsafeArchive, InvalidArgument)):
        apply(make_tar([("lnk", "sym", str(tmp_path)), ("stolen", "link", "lnk/secret")]), dest)
    assert not (dest / "stolen").exists()


def test_whiteouts_delete_under_vfs(tmp_path):
    apply(make_tar([("a", "dir", None), ("a/keep", "file", "1"), ("a/gone", "file", "2"), ("b", "dir", None), ("b/old", "file", "3")]), tmp_path)
    apply(make_tar([("a/.wh.gone", "file", ""), ("b", "dir", None), ("b/.wh..wh..opq", "file", ""), ("b/new", "file", "4")]), tmp_path)
    assert sorted(os.listdir(tmp_path / "a")) == ["keep"]
    assert sorted(os.listdir(tmp_path / "b")) == ["new"]


def test_whiteout_with_dotdot_target_is_refused(tmp_path):
    with pytest.raises(UnsafeArchive):
        apply(make_tar([("a/.wh...", "file", "")]), tmp_path)


def test_truncated_tar_is_invalid(tmp_path):
    data = make_tar([("big", "file", b"x" * 100_000)])
    with pytest.raises(InvalidArgument):
        apply(data[:20_000], tmp_path)


def test_entries_the_filesystem_refuses_are_one_line_errors(tmp_path):
    with pytest.raises(InvalidArgument, match="cannot be extracted: File name too long"):
        apply(make_tar([("a" * 300, "file", "x")]), tmp_path)
    dest = tmp_path / "two"
    dest.mkdir()
    with pytest.raises(UnsafeArchive, match="non-directory"):
        apply(make_tar([("f", "file", "x"), ("f/g", "file", "y")]), dest)


def test_clean_member_name():
    assert clean_member_name("./a//b/./c") == "a/b/c"
    assert clean_member_name("a/x/../b") == "a/b"
    assert clean_member_name("/") == ""
    with pytest.raises(UnsafeArchive):
        clean_member_name("a/../../b")


def test_detect_and_decompress_each_kind():
    raw = b"layer bytes " * 1000
    assert detect(gzip.compress(raw)) == "gzip"
    assert detect(zstandard.ZstdCompressor().compress(raw)) == "zstd"
    assert detect(raw) == "none"
    for kind in ("gzip", "zstd"):
        out = io.BytesIO()
        compress_stream(io.BytesIO(raw), out, kind)
        assert open_decompressed(io.BytesIO(out.getvalue())).read() == raw


def test_decompression_bomb_is_refused():
    bomb = gzip.compress(b"\0" * (8 << 20))
    reader = open_decompressed(io.BytesIO(bomb), limits=Limits(max_ratio=10, ratio_after=1 << 20))
    with pytest.raises(UnsafeArchive):
        reader.read()
    reader = open_decompressed(io.BytesIO(bomb), limits=Limits(max_uncompressed=1 << 20))
    with pytest.raises(UnsafeArchive):
        reader.read()


def test_corrupt_gzip_is_a_clear_error():
    data = bytearray(gzip.compress(os.urandom(50_000)))
    data[200:260] = b"\xff" * 60
    with pytest.raises(UnsafeArchive):
        open_decompressed(io.BytesIO(bytes(data))).read()


def test_write_tree_round_trips_and_is_deterministic(tmp_path):
    src = tmp_path / "src"
    apply(make_tar([("etc", "dir", None), ("etc/a", "file", "A"), ("etc/l", "sym", "a"), ("etc/h", "link", "etc/a")]), src.mkdir() or src)
    one, two = io.BytesIO(), io.BytesIO()
    first, second = write_tree(str(src), one), write_tree(str(src), two)
    assert first.diff_id == second.diff_id and one.getvalue() == two.getvalue()
    copy = tmp_path / "copy"
    copy.mkdir()
    apply(one.getvalue(), copy)
    assert (copy / "etc/a").read_text() == "A"
    assert os.readlink(copy / "etc/l") == "a"
    assert os.stat(copy / "etc/h").st_ino == os.stat(copy / "etc/a").st_ino


def test_diff_of_two_trees_replays_to_the_new_tree(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    old.mkdir(), new.mkdir()
    base = make_tar([("d", "dir", None), ("d/same", "file", "s"), ("d/edit", "file", "1"), ("d/drop", "file", "x")])
    apply(base, old)
    apply(base, new)
    (new / "d/edit").write_text("22")
    (new / "d/drop").unlink()
    (new / "d/add").write_text("n")
    out = io.BytesIO()
    write_layer_from_dirs(str(old), str(new), out)
    names = tarfile.open(fileobj=io.BytesIO(out.getvalue())).getnames()
    assert "d/same" not in names
    assert {"d", "d/.wh.drop", "d/add", "d/edit"} <= set(names)
    apply(out.getvalue(), old)
    assert sorted(os.listdir(old / "d")) == ["add", "edit", "same"]
    assert (old / "d/edit").read_text() == "22"
