"""The Python API end to end: everything the image commands do, through ``lamina.Engine``
(the facade the CLI renders), with two data roots standing in for two machines."""

from __future__ import annotations

import io

import pytest

import lamina
from lamina import Engine


def test_engine_is_the_public_facade():
    assert lamina.Engine is Engine and "Engine" in lamina.__all__


def test_image_lifecycle_through_the_python_api(tmp_path, busybox_tar):
    one = Engine(str(tmp_path / "one"))
    with open(busybox_tar, "rb") as f:
        image_id = one.images.import_tarball(
            f, source_name=busybox_tar, reference="api/busybox:1", changes=["CMD [\"sh\"]", "ENV A=b"], message="from the API"
        )
    one.images.tag("api/busybox:1", "api/busybox:latest")

    listed = one.images.list()
    assert [s.id for s in listed] == [image_id]
    assert set(listed[0].repo_tags) == {"api/busybox:1", "api/busybox:latest"}
    doc = one.images.inspect("api/busybox")
    assert doc["Id"] == str(image_id) and doc["Config"]["Cmd"] == ["sh"] and "A=b" in doc["Config"]["Env"]
    assert doc["GraphDriver"]["Name"] == one.driver_name
    history = one.images.history(str(image_id))
    assert [h.comment for h in history] == ["from the API"]

    # save from one data root, load into another: same image ID, same layers
    for fmt in ("docker", "oci"):
        archive = io.BytesIO()
        one.transfer.save(["api/busybox:1"], archive, fmt=fmt)
        two = Engine(str(tmp_path / f"two-{fmt}"))
        archive.seek(0)
        loaded = two.transfer.load(archive)
        assert [(item.image_id, item.tags) for item in loaded] == [(str(image_id), ("api/busybox:1",))]
        assert two.images.inspect("api/busybox:1")["RootFS"] == doc["RootFS"]
        assert two.check().clean

    usage = one.disk_usage()
    assert usage.total_images == 1 and usage.layers_size == listed[0].size

    events = one.image_remover.remove("api/busybox:1")
    assert [e.line() for e in events] == ["Untagged: api/busybox:1"]
    dry = one.image_remover.prune(all_images=True, dry_run=True)
    assert dry.space_reclaimed == listed[0].size and one.images.list()  # nothing gone yet
    done = one.image_remover.prune(all_images=True)
    assert [e.line() for e in done.events] == [e.line() for e in dry.events]
    assert done.space_reclaimed == dry.space_reclaimed
    assert one.images.list() == [] and one.check().clean
    assert one.info()["Images"] == 0


def test_api_errors_are_lamina_errors(tmp_path):
    engine = Engine(str(tmp_path / "root"))
    with pytest.raises(lamina.NotFound):
        engine.images.inspect("no/such:image")
    with pytest.raises(lamina.NotFound):
        engine.images.tag("no/such:image", "ok:1")
    with pytest.raises(lamina.InvalidReference):
        engine.images.import_tarball(io.BytesIO(b""), reference="team/UPPER:case")
    with pytest.raises(lamina.InvalidArgument):
        engine.images.import_tarball(io.BytesIO(b"not a tar".ljust(600, b"!")), reference="bad:1")
    assert engine.images.list() == [] and engine.check().clean


@pytest.mark.parametrize("compression", ["gzip", "zstd"])
@pytest.mark.parametrize("fmt", ["docker", "oci"])
def test_compressed_saves_round_trip_byte_for_byte(tmp_path, busybox_tar, compression, fmt):
    import json
    import tarfile

    one = Engine(str(tmp_path / "one"))
    with open(busybox_tar, "rb") as f:
        image_id = one.images.import_tarball(f, reference="cmp/busybox:1")
    plain, packed = io.BytesIO(), io.BytesIO()
    one.transfer.save(["cmp/busybox:1"], plain, fmt=fmt)
    one.transfer.save(["cmp/busybox:1"], packed, fmt=fmt, compression=compression)
    assert len(packed.getvalue()) < len(plain.getvalue()) * 0.8  # a static busybox packs to ~half
    with tarfile.open(fileobj=io.BytesIO(packed.getvalue())) as tar:
        index = json.load(tar.extractfile("index.json"))
        manifest = json.load(tar.extractfile("blobs/sha256/" + index["manifests"][0]["digest"][7:]))
    assert manifest["layers"][0]["mediaType"] == f"application/vnd.oci.image.layer.v1.tar+{compression}"

    two = Engine(str(tmp_path / "two"))
    packed.seek(0)
    assert [item.image_id for item in two.transfer.load(packed)] == [str(image_id)]
    again = io.BytesIO()
    two.transfer.save(["cmp/busybox:1"], again, fmt=fmt, compression=compression)
    assert again.getvalue() == packed.getvalue()  # same blobs, same manifest, same archive
    assert two.check().clean


def test_unknown_compression_is_refused(tmp_path):
    engine = Engine(str(tmp_path / "root"))
    with pytest.raises(lamina.InvalidArgument, match="compression"):
        engine.transfer.save([], io.BytesIO(), compression="lz4")
