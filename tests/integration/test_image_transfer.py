"""save and load: archives docker can read, byte-stable round trips, hostile archives refused."""

from __future__ import annotations

import io
import json
import os
import tarfile

import pytest


def _members(path: str) -> dict[str, bytes]:
    with tarfile.open(path) as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers() if m.isfile()}


def test_save_layout_and_round_trip(lamina, busybox_tar, tmp_path):
    image_id = lamina.run("import", "-c", 'CMD ["sh"]', busybox_tar, "busybox:latest").out.strip()
    lamina.run("tag", "busybox", "busybox:1.36")
    out1 = tmp_path / "one.tar"
    lamina.run("save", "-o", str(out1), "busybox")
    files = _members(str(out1))
    manifest = json.loads(files["manifest.json"])
    assert manifest[0]["Config"] == f"blobs/sha256/{image_id[7:]}"
    assert sorted(manifest[0]["RepoTags"]) == ["busybox:1.36", "busybox:latest"]
    diff_id = json.loads(files[manifest[0]["Config"]])["rootfs"]["diff_ids"][0]
    layer = files[manifest[0]["Layers"][0]]
    with open(busybox_tar, "rb") as f:
        assert layer == f.read()  # the exact tar that was imported: DiffID preserved
    assert "index.json" in files and "oci-layout" in files and "repositories" in files
    assert json.loads(files["repositories"]) == {"busybox": {"latest": diff_id[7:], "1.36": diff_id[7:]}}

    lamina.run("rmi", "busybox:latest", "busybox:1.36")
    assert lamina.run("images", "-q").out == ""
    loaded = lamina.run("load", "-i", str(out1)).out.splitlines()
    assert sorted(loaded) == ["Loaded image: busybox:1.36", "Loaded image: busybox:latest"]
    assert lamina.run("images", "-q", "--no-trunc").out.split() == [image_id]
    out2 = tmp_path / "two.tar"
    lamina.run("save", "-o", str(out2), "busybox")
    assert out1.read_bytes() == out2.read_bytes()


def test_save_to_terminal_refused_and_stdout_works(lamina, busybox_tar):
    lamina.run("import", busybox_tar, "b")
    res = lamina.run("save", "b")  # stdout is a pipe here
    assert res.stdout[:512].count(b"\0") > 0 and len(res.stdout) > 1_000_000
    import pty
    import subprocess

    main, child = pty.openpty()
    proc = subprocess.run(lamina.argv("save", "b"), stdout=child, stderr=subprocess.PIPE, timeout=60)
    os.close(child)
    os.close(main)
    assert proc.returncode == 125
    assert proc.stderr.decode() == "Error: Cowardly refusing to save to a terminal. Use the -o flag or redirect.\n"


def test_load_from_stdin_gzip_and_by_id(lamina, busybox_tar, tmp_path):
    image_id = lamina.run("import", busybox_tar, "b").out.strip()
    saved = lamina.run("save", image_id[7:19]).stdout  # by ID: no tags inside
    lamina.run("rmi", "b")
    import gzip

    out = lamina.run("load", input=gzip.compress(saved, 1)).out
    assert out == f"Loaded image ID: {image_id}\n"


def test_oci_format(lamina, busybox_tar, tmp_path):
    image_id = lamina.run("import", busybox_tar, "reg.example/app:v2").out.strip()
    path = tmp_path / "oci.tar"
    lamina.run("save", "--format", "oci", "-o", str(path), "reg.example/app:v2")
    files = _members(str(path))
    assert "manifest.json" not in files
    index = json.loads(files["index.json"])
    assert index["manifests"][0]["annotations"]["io.containerd.image.name"] == "reg.example/app:v2"
    lamina.run("rmi", "reg.example/app:v2")
    assert lamina.run("load", "-i", str(path)).out == "Loaded image: reg.example/app:v2\n"
    assert lamina.run("images", "-q", "--no-trunc").out.strip() == image_id


def _archive(entries: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in entries.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _layer(entries: list[tarfile.TarInfo], data: dict[str, bytes] | None = None) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for info in entries:
            payload = (data or {}).get(info.name)
            if payload is not None:
                info.size = len(payload)
                tar.addfile(info, io.BytesIO(payload))
            else:
                tar.addfile(info)
    return buf.getvalue()


def _docker_archive(layer: bytes, diff_id: str | None = None) -> bytes:
    import hashlib

    diff = diff_id or "sha256:" + hashlib.sha256(layer).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": [diff]}}).encode()
    cfg_name = hashlib.sha256(config).hexdigest() + ".json"
    manifest = json.dumps([{"Config": cfg_name, "RepoTags": ["evil:latest"], "Layers": ["l/layer.tar"]}]).encode()
    return _archive({"manifest.json": manifest, cfg_name: config, "l/layer.tar": layer})


def _file(name, data=b"x"):
    info = tarfile.TarInfo(name)
    info.size = len(data)
    return info


def _symlink(name, target):
    info = tarfile.TarInfo(name)
    info.type, info.linkname = tarfile.SYMTYPE, target
    return info


@pytest.mark.parametrize(
    "layer",
    [
        _layer([_file("../../escape")], {"../../escape": b"x"}),
        _layer([_symlink("evil", "/tmp"), _file("evil/lamina-escape-test")], {"evil/lamina-escape-test": b"x"}),
        _layer([_symlink("up", "../../../../"), _file("up/lamina-escape-test")], {"up/lamina-escape-test": b"x"}),
    ],
    ids=["dotdot", "abs-symlink-parent", "relative-symlink-parent"],
)
def test_hostile_layers_refused_and_store_untouched(lamina, busybox_tar, layer, tmp_path):
    lamina.run("import", busybox_tar, "good")
    before = lamina.run("images", "--no-trunc", "-q").out
    path = tmp_path / "evil.tar"
    path.write_bytes(_docker_archive(layer))
    res = lamina.run("load", "-i", str(path), check=False)
    assert not os.path.exists("/tmp/lamina-escape-test")
    assert not os.path.exists(os.path.join(os.path.dirname(lamina.root), "escape"))
    if res.returncode == 0:
        # neutralised rather than refused: must have stayed inside the layer
        return
    assert res.returncode == 125 and res.err.startswith("Error: ") and "Traceback" not in res.err
    assert lamina.run("images", "--no-trunc", "-q").out == before
    assert lamina.run("system", "check").returncode == 0


def test_wrong_diff_id_refused(lamina, tmp_path):
    layer = _layer([_file("a")], {"a": b"hello"})
    path = tmp_path / "bad.tar"
    path.write_bytes(_docker_archive(layer, diff_id="sha256:" + "0" * 64))
    res = lamina.run("load", "-i", str(path), check=False)
    assert res.returncode == 125 and "does not match" in res.err
    assert lamina.run("images", "-aq").out == ""
    assert lamina.run("system", "check").returncode == 0


@pytest.mark.parametrize(
    "entries",
    [
        {"manifest.json": b"{not json"},
        {"manifest.json": b"[{}]"},
        {"manifest.json": b'[{"Config": "missing.json", "Layers": []}]'},
        {"index.json": b'{"schemaVersion": 2, "manifests": [{"mediaType": "x", "digest": "sha256:../../x", "size": 1}]}'},
        {"nothing": b""},
    ],
)
def test_malformed_archives(lamina, tmp_path, entries):
    path = tmp_path / "m.tar"
    path.write_bytes(_archive(entries))
    res = lamina.run("load", "-i", str(path), check=False)
    assert res.returncode == 125 and res.err.startswith("Error: ") and res.err.count("\n") == 1
