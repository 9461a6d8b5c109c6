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
