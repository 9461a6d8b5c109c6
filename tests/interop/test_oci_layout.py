"""lamina's OCI image layouts against skopeo and umoci, both directions."""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile

import pytest

pytestmark = pytest.mark.timeout(300)


def _need(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        pytest.skip(f"{tool} is not installed (install.sh installs it)")
    return path


def _pack(layout, path) -> None:
    """An OCI layout directory as a tar, the form ``lamina load`` reads."""
    with tarfile.open(path, "w") as tar:
        for child in sorted(layout.iterdir()):
            tar.add(child, arcname=child.name)


def _run(*argv: str) -> str:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 0, f"{' '.join(argv)}: {proc.stderr}"
    return proc.stdout


def test_skopeo_reads_lamina_oci_archive_with_same_digests(lamina, busybox_tar, tmp_path):
    _need("skopeo")
    image_id = lamina.run("import", "-c", "ENV A=1", busybox_tar, "oci/busybox:v1").out.strip()
    archive = tmp_path / "oci.tar"
    lamina.run("save", "--format", "oci", "-o", str(archive), "oci/busybox:v1")
    with tarfile.open(archive) as tar:
        names = tar.getnames()
    assert "manifest.json" not in names and "index.json" in names
    info = json.loads(_run("skopeo", "inspect", "--config", f"oci-archive:{archive}"))
    assert info["config"]["Env"][-1] == "A=1"
    raw_config = _run("skopeo", "inspect", "--raw", "--config", f"oci-archive:{archive}").encode()
    import hashlib

    assert "sha256:" + hashlib.sha256(raw_config).hexdigest() == image_id
    # skopeo copies it into a fresh layout that lamina loads back with the same image ID
    layout = tmp_path / "layout"
    _run("skopeo", "copy", f"oci-archive:{archive}", f"oci:{layout}:copied")
    repacked = tmp_path / "repacked.tar"
    _pack(layout, repacked)
    lamina.run("rmi", "oci/busybox:v1")
    out = lamina.run("load", "-i", str(repacked)).out
    assert "Loaded image" in out
    assert image_id in lamina.run("images", "-q", "--no-trunc").out


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
def test_skopeo_reads_lamina_compressed_layouts(lamina, busybox_tar, tmp_path, compression):
    _need("skopeo")
    image_id = lamina.run("import", busybox_tar, "oci/packed:v1").out.strip()
    archive = tmp_path / "packed.tar"
    lamina.run("save", "--format", "oci", "--compression", compression, "-o", str(archive), "oci/packed:v1")
    manifest = json.loads(_run("skopeo", "inspect", "--raw", f"oci-archive:{archive}"))
    assert manifest["layers"][0]["mediaType"].endswith(compression)
    # skopeo recompresses the layers the other way (so it must decompress lamina's); lamina
    # loads the result, checking every DiffID, as the same image
    other = "zstd" if compression == "gzip" else "gzip"
    layout = tmp_path / "recompressed"
    _run("skopeo", "copy", "--dest-compress-format", other, f"oci-archive:{archive}", f"oci:{layout}:v1")
    copied = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    layers = json.loads((layout / "blobs" / "sha256" / copied[7:]).read_text())["layers"]
    assert all(layer["mediaType"].endswith(other) for layer in layers)
    unpacked = tmp_path / "unpacked.tar"
    _pack(layout, unpacked)
    lamina.run("rmi", "oci/packed:v1")
    lamina.run("load", "-i", str(unpacked))
    assert lamina.run("images", "-q", "--no-trunc").out.split() == [image_id]


def test_gzip_layers_from_skopeo_load_with_same_diff_ids(lamina, busybox_tar, tmp_path):
    _need("skopeo")
    lamina.run("import", busybox_tar, "gz/busybox:v1")
    layers = lamina.run("inspect", "-f", "{{json .RootFS.Layers}}", "gz/busybox:v1").out
    archive = tmp_path / "docker.tar"
    lamina.run("save", "-o", str(archive), "gz/busybox:v1")
    layout = tmp_path / "gz"
    # skopeo recompresses layers with gzip: the layout's blob digests differ, DiffIDs do not
    _run("skopeo", "copy", "--dest-compress", "--dest-compress-format", "gzip",
         f"docker-archive:{archive}", f"oci:{layout}:gz")
    manifest_digest = json.loads((layout / "index.json").read_text())["manifests"][0]["digest"]
    manifest = json.loads((layout / "blobs" / "sha256" / manifest_digest[7:]).read_text())
    assert manifest["layers"][0]["mediaType"].endswith("gzip")
    # skopeo rewrites the config while converting to OCI; lamina must keep its bytes exactly
    config_digest = manifest["config"]["digest"]
    repacked = tmp_path / "gz.tar"
    _pack(layout, repacked)
    lamina.run("rmi", "gz/busybox:v1")
    lamina.run("load", "-i", str(repacked))
    assert lamina.run("images", "-q", "--no-trunc").out.split() == [config_digest]
    assert lamina.run("inspect", "-f", "{{json .RootFS.Layers}}", config_digest).out == layers
    # saved again in gzip, the layers are skopeo's own blobs (kept on load), not recompressed
    again = tmp_path / "again.tar"
    lamina.run("save", "--format", "oci", "--compression", "gzip", "-o", str(again), config_digest)
    with tarfile.open(again) as tar:
        index = json.load(tar.extractfile("index.json"))
        saved = json.load(tar.extractfile("blobs/sha256/" + index["manifests"][0]["digest"][7:]))
    assert [layer["digest"] for layer in saved["layers"]] == [layer["digest"] for layer in manifest["layers"]]


def test_umoci_unpacks_lamina_layout(lamina, busybox_tar, tmp_path):
    _need("umoci")
    lamina.run("import", busybox_tar, "umoci/busybox:v1")
    archive = tmp_path / "oci.tar"
    lamina.run("save", "--format", "oci", "-o", str(archive), "umoci/busybox:v1")
    layout = tmp_path / "layout"
    layout.mkdir()
    with tarfile.open(archive) as tar:
        tar.extractall(layout, filter="tar")
    refs = _run("umoci", "ls", "--layout", str(layout)).split()
    assert refs == ["v1"]
    bundle = tmp_path / "bundle"
    _run("umoci", "unpack", "--image", f"{layout}:v1", str(bundle))
    assert (bundle / "rootfs" / "bin" / "busybox").exists()
