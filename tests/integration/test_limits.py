"""Decompression-bomb limits set from the command line: a refused layer leaves nothing behind."""

from __future__ import annotations

import gzip
import io
import os
import tarfile

import pytest


def _tar_of_zeros(size: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        info = tarfile.TarInfo("zeros")
        info.size = size
        t.addfile(info, io.BytesIO(bytes(size)))
    return buf.getvalue()


def _store_files(root: str) -> list[str]:
    """Every file of the image store but the catalog, a cache that `images` may (re)write."""
    files = (os.path.relpath(os.path.join(d, f), root) for d, _, fs in os.walk(root) for f in fs)
    return sorted(f for f in files if os.path.basename(f) != "catalog")


@pytest.mark.timeout(120)
def test_max_layer_size_and_compression_ratio_flags(lamina, busybox_tar, data_root, tmp_path, monkeypatch):
    lamina.run("import", busybox_tar, "keep")
    before = _store_files(os.path.join(data_root, "image"))

    big = tmp_path / "big.tar"
    big.write_bytes(_tar_of_zeros(3 << 20))
    refused = lamina.run("--max-layer-size", "1m", "import", str(big), "big", check=False)
    assert refused.returncode == 125 and "limit" in refused.err and "Traceback" not in refused.err
    assert len(refused.err.strip().splitlines()) == 1
    assert lamina.run("--max-layer-size", "8m", "import", str(big), "big").returncode == 0
    lamina.run("rmi", "big")

    # 80 MiB of zeros gzip to ~80 KiB: past the ratio check's 64 MiB threshold at ~1000x
    bomb = tmp_path / "bomb.tar.gz"
    bomb.write_bytes(gzip.compress(_tar_of_zeros(80 << 20), compresslevel=9))
    monkeypatch.setenv("LAMINA_MAX_COMPRESSION_RATIO", "50")
    refused = lamina.run("import", str(bomb), "bomb", check=False)
    assert refused.returncode == 125 and "decompression bomb" in refused.err
    assert lamina.run("images", "--format", "{{.Repository}}").out.split() == ["keep"]
    assert _store_files(os.path.join(data_root, "image")) == before
    assert lamina.run("system", "check").out.strip() == "The data root is consistent."

    bad = lamina.run("--max-layer-size", "lots", "images", check=False)
    assert bad.returncode == 125 and "invalid size" in bad.err


@pytest.mark.timeout(180)
def test_layer_limits_hold_inside_archives_for_load_and_explore(lamina, data_root, tmp_path, monkeypatch):
    """A gzip layer inside a saved archive is held to the user's limits too: by `load`, and by
    `image layers --archive`, which indexes the layers without storing them."""
    big = tmp_path / "zeros.tar"
    big.write_bytes(_tar_of_zeros(80 << 20))
    lamina.run("import", str(big), "zeros")
    archive = tmp_path / "zeros-gzip.tar"
    lamina.run("save", "--compression", "gzip", "-o", str(archive), "zeros")
    lamina.run("rmi", "zeros")
    before = _store_files(os.path.join(data_root, "image"))

    assert lamina.run("image", "layers", "--archive", str(archive)).returncode == 0
    monkeypatch.setenv("LAMINA_MAX_COMPRESSION_RATIO", "50")
    for args in (("image", "layers", "--archive", str(archive)), ("load", "-i", str(archive))):
        refused = lamina.run(*args, check=False)
        assert refused.returncode == 125 and "decompression bomb" in refused.err, (args, refused.err)
        assert "Traceback" not in refused.err
    assert _store_files(os.path.join(data_root, "image")) == before
    assert lamina.run("system", "check").out.strip() == "The data root is consistent."
