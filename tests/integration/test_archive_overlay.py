"""Overlay whiteouts need root (mknod of 0:0 and trusted.* xattrs): applied and written back."""

from __future__ import annotations

import io
import os
import stat
import tarfile

from lamina.archive.apply import apply_layer
from lamina.archive.create import write_layer_from_overlay_upper
from lamina.testing.tars import make_tar


def test_overlay_whiteouts_round_trip(tmp_path):
    upper = tmp_path / "upper"
    upper.mkdir()
    layer = make_tar([("a", "dir", None), ("a/.wh.gone", "file", ""), ("b", "dir", None), ("b/.wh..wh..opq", "file", ""), ("b/new", "file", "n")])
    apply_layer(io.BytesIO(layer), str(upper), whiteouts="overlay")
    st = os.lstat(upper / "a/gone")
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    assert os.getxattr(upper / "b", "trusted.overlay.opaque") == b"y"
    out = io.BytesIO()
    write_layer_from_overlay_upper(str(upper), out)
    names = tarfile.open(fileobj=io.BytesIO(out.getvalue())).getnames()
    assert names == ["a", "a/.wh.gone", "b", "b/.wh..wh..opq", "b/new"]


def test_overlay_whiteout_replaces_lower_copy_in_same_layer(tmp_path):
    upper = tmp_path / "upper"
    upper.mkdir()
    apply_layer(io.BytesIO(make_tar([("x", "file", "1"), (".wh.x", "file", "")])), str(upper), whiteouts="overlay")
    assert stat.S_ISCHR(os.lstat(upper / "x").st_mode)


def _sizes(tmp_path, entries):
    from lamina.archive.fileindex import IndexBuilder
    from lamina.store.store import tree_size

    upper = tmp_path / "upper"
    upper.mkdir()
    index = IndexBuilder()
    apply_layer(io.BytesIO(make_tar(entries)), str(upper), whiteouts="overlay", index=index)
    return index.disk_size(), tree_size(str(upper))


def test_layer_size_from_the_headers_is_what_a_walk_of_the_diff_dir_finds(tmp_path):
    known, walked = _sizes(tmp_path, [
        ("bin", "dir", None), ("bin/busybox", "file", b"x" * 5000), ("bin/sh", "sym", "busybox"),
        ("bin/ash", "link", "bin/busybox"), ("etc", "dir", None), ("etc/.wh.motd", "file", ""),
        ("etc/é", "sym", "/usr/share/é-cible"), ("var", "dir", None), ("var/.wh..wh..opq", "file", ""),
        ("var/empty", "file", ""),
    ])
    assert known == walked == 5000 + len("busybox") + len("/usr/share/é-cible".encode())


def test_a_layer_that_rewrites_its_own_paths_is_measured_by_walking(tmp_path):
    known, walked = _sizes(tmp_path, [
        ("a", "file", "1" * 10), ("b", "link", "a"), ("a", "file", "2" * 20), (".wh.b", "file", ""),
    ])
    assert known is None and walked == 20
