"""Compressed layer blobs from another tool survive load → save with their digests (kept beside
the layers), and go away with their layers: rmi, prune (dry run included), df and check."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import tarfile

import pytest

from lamina import Engine


def _foreign_gzip_layout(engine: Engine, name: str) -> tuple[bytes, str, int]:
    """Re-pack lamina's OCI save with the layer gzipped by Python's zlib at level 9 and a
    timestamp: bytes lamina's own (isal, level 1) compressor never produces."""
    plain = io.BytesIO()
    engine.transfer.save([name], plain, fmt="oci")
    with tarfile.open(fileobj=io.BytesIO(plain.getvalue())) as tar:
        files = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
    index = json.loads(files["index.json"])
    manifest_name = "blobs/sha256/" + index["manifests"][0]["digest"][7:]
    manifest = json.loads(files.pop(manifest_name))
    layer = manifest["layers"][0]
    packed = gzip.compress(files.pop("blobs/sha256/" + layer["digest"][7:]), compresslevel=9, mtime=1234567)
    digest = "sha256:" + hashlib.sha256(packed).hexdigest()
    layer.update(mediaType="application/vnd.oci.image.layer.v1.tar+gzip", digest=digest, size=len(packed))
    files["blobs/sha256/" + digest[7:]] = packed
    raw_manifest = json.dumps(manifest).encode()
    manifest_digest = "sha256:" + hashlib.sha256(raw_manifest).hexdigest()
    files["blobs/sha256/" + manifest_digest[7:]] = raw_manifest
    index["manifests"][0].update(digest=manifest_digest, size=len(raw_manifest))
    files["index.json"] = json.dumps(index).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for member, data in sorted(files.items()):
            info = tarfile.TarInfo(member)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue(), digest, len(packed)


def _layer_digests(archive: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        index = json.load(tar.extractfile("index.json"))
        manifest = json.load(tar.extractfile("blobs/sha256/" + index["manifests"][0]["digest"][7:]))
    return [layer["digest"] for layer in manifest["layers"]]


@pytest.fixture
def loaded(tmp_path, busybox_tar, lamina) -> tuple[Engine, str, int]:
    """An engine on ``lamina``'s data root that loaded a layout with a foreign gzip layer."""
    source = Engine(str(tmp_path / "source"))
    with open(busybox_tar, "rb") as f:
        source.images.import_tarball(f, reference="kept/busybox:1")
    layout, blob_digest, blob_size = _foreign_gzip_layout(source, "kept/busybox:1")
    engine = Engine(lamina.root)
    engine.transfer.load(io.BytesIO(layout))
    return engine, blob_digest, blob_size


def test_foreign_gzip_blob_round_trips_and_is_accounted(loaded, lamina):
    engine, blob_digest, blob_size = loaded
    again = io.BytesIO()
    engine.transfer.save(["kept/busybox:1"], again, fmt="oci", compression="gzip")
    assert _layer_digests(again.getvalue()) == [blob_digest]  # the bytes it came as
    other = io.BytesIO()
    engine.transfer.save(["kept/busybox:1"], other, fmt="oci", compression="zstd")
    assert _layer_digests(other.getvalue()) != [blob_digest]  # no zstd kept: compressed afresh

    usage = engine.disk_usage()
    assert usage.kept_blobs == 1 and usage.kept_blobs_size == blob_size
    df = lamina.run("system", "df").out
    assert "Kept Blobs" in df
    assert engine.check().clean

    layer_size = engine.images.list()[0].size
    dry = engine.image_remover.prune(all_images=True, dry_run=True)
    assert dry.space_reclaimed == layer_size + usage.kept_blobs_size
    done = engine.image_remover.prune(all_images=True)
    assert done.space_reclaimed == dry.space_reclaimed
    assert not engine.store.blobs.any() and engine.check().clean
    assert "Kept Blobs" not in lamina.run("system", "df").out


def test_rmi_drops_the_blob_and_check_finds_strays(loaded, lamina):
    engine = loaded[0]
    assert engine.store.blobs.any()
    lamina.run("rmi", "kept/busybox:1")
    assert not engine.store.blobs.any()

    stray = os.path.join(engine.store.blobs.base, "blobs", "sha256", "ab" * 32)
    with open(stray, "wb") as f:
        f.write(b"left by a crash between the blob and its index")
    check = lamina.run("system", "check", check=False)
    assert check.returncode == 1 and "orphaned blob" in check.out
    lamina.run("system", "check", "--repair")
    assert not os.path.exists(stray) and engine.check().clean
