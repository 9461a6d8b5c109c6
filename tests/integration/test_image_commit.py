"""``lamina.image.commit``: child images from a parent, a layer (an overlay upper directory or a
tar) and a config, registered through the store like import and load."""

from __future__ import annotations

import io
import os
import tarfile

import pytest

from lamina import Engine
from lamina.errors import InvalidArgument, NotFound
from lamina.image.commit import EMPTY_TAR_DIFF_ID, CommitSpec, TarLayer, UpperDirLayer, commit_image


@pytest.fixture
def engine(data_root, busybox_tar):
    eng = Engine(data_root, "overlay2")
    with open(busybox_tar, "rb") as f:
        eng.images.import_tarball(f, reference="base:1", changes=['CMD ["sh"]', "ENV A=1"])
    return eng


def _upper(tmp_path) -> str:
    """An upper dir as overlayfs leaves it: a new file, a changed dir, a whiteout of /etc/group,
    an opaque /var/log."""
    upper = tmp_path / "upper"
    (upper / "etc").mkdir(parents=True)
    (upper / "etc" / "motd").write_text("hello\n")
    os.mknod(upper / "etc" / "group", 0o600 | 0o020000, os.makedev(0, 0))
    (upper / "var" / "log").mkdir(parents=True)
    os.setxattr(upper / "var" / "log", "trusted.overlay.opaque", b"y")
    (upper / "var" / "log" / "new.log").write_text("x")
    return str(upper)


def test_commit_of_an_upper_dir_adds_one_layer_with_whiteouts(engine, tmp_path):
    parent = engine.images.resolve("base:1")
    spec = CommitSpec(author="me", comment="a change", created_by="sh -c edit", container="c" * 64)
    image_id = commit_image(engine.images, parent, UpperDirLayer(_upper(tmp_path)), spec, reference="child:2")
    doc = engine.images.inspect("child:2")
    base = engine.images.inspect("base:1")
    assert doc["Id"] == str(image_id)
    assert doc["RootFS"]["Layers"][:-1] == base["RootFS"]["Layers"] and len(doc["RootFS"]["Layers"]) == 2
    assert doc["Parent"] == str(parent)
    assert doc["Author"] == "me" and doc["Comment"] == "a change" and doc["Container"] == "c" * 64
    assert doc["Config"]["Cmd"] == ["sh"] and "A=1" in doc["Config"]["Env"]  # the parent's config kept
    history = engine.images.history("child:2")
    assert [h.comment for h in history] == ["a change", "Imported from -"]
    assert history[0].id == str(image_id) and history[1].id == str(parent)

    # the layer's own directory holds the change in overlay form again
    record = engine.store.layer_chain(engine.store.images.get(image_id).diff_ids)[-1]
    diff = engine.store.driver.diff_dir(record.cache_id)
    assert open(os.path.join(diff, "etc/motd")).read() == "hello\n"
    st = os.lstat(os.path.join(diff, "etc/group"))
    assert (st.st_mode & 0o170000) == 0o020000 and st.st_rdev == 0
    assert os.getxattr(os.path.join(diff, "var/log"), "trusted.overlay.opaque") == b"y"

    # and its tar (save) says it in .wh. entries
    archive = io.BytesIO()
    engine.transfer.save(["child:2"], archive)
    archive.seek(0)
    names = set()
    with tarfile.open(fileobj=archive) as outer:
        for member in outer.getmembers():
            data = outer.extractfile(member).read() if member.isfile() else b""
            if data[257:262] == b"ustar":  # a layer blob
                with tarfile.open(fileobj=io.BytesIO(data)) as inner:
                    names |= set(inner.getnames())
    assert {"etc/.wh.group", "var/log/.wh..wh..opq", "var/log/new.log", "etc/motd"} <= names
    assert engine.check().clean


def test_same_inputs_same_image_id(engine, tmp_path):
    parent = engine.images.resolve("base:1")
    spec = CommitSpec(created="2024-01-02T03:04:05Z", comment="fixed")
    upper = _upper(tmp_path)
    first = commit_image(engine.images, parent, UpperDirLayer(upper), spec)
    second = commit_image(engine.images, parent, UpperDirLayer(upper), spec)
    assert first == second
    assert engine.check().clean


def test_empty_changes_make_an_empty_layer_history_entry(engine, tmp_path):
    parent = engine.images.resolve("base:1")
    empty = tmp_path / "empty"
    empty.mkdir()
    image_id = commit_image(engine.images, parent, UpperDirLayer(str(empty)), CommitSpec(changes=["CMD echo hi"]))
    config = engine.store.images.get(image_id)
    assert list(config.diff_ids) == list(engine.store.images.get(parent).diff_ids)
    assert config.history[-1]["empty_layer"] is True
    assert config.config["Cmd"] == ["/bin/sh", "-c", "echo hi"]
    # an empty tar stream is the same empty layer, and no layer is left registered for it
    layers_before = {r.chain_id for r in engine.store.layers.list()}
    image2 = commit_image(engine.images, parent, TarLayer(io.BytesIO(bytes(1024))), CommitSpec(comment="x"))
    assert engine.store.images.get(image2).history[-1]["empty_layer"] is True
    assert {r.chain_id for r in engine.store.layers.list()} == layers_before
    assert EMPTY_TAR_DIFF_ID.hex == __import__("hashlib").sha256(bytes(1024)).hexdigest()
    assert engine.check().clean


def test_tar_layer_without_parent_and_with_config(engine):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        info = tarfile.TarInfo("hello.txt")
        data = b"hi\n"
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    raw = buf.getvalue()
    spec = CommitSpec(config={"Cmd": ["/hello"], "Env": ["PATH=/bin"]}, created_by="COPY hello.txt /")
    image_id = commit_image(engine.images, None, TarLayer(io.BytesIO(raw)), spec)
    config = engine.store.images.get(image_id)
    assert len(config.diff_ids) == 1 and config.config["Cmd"] == ["/hello"]
    assert config.history == [{"created": config.created, "created_by": "COPY hello.txt /"}]
    assert engine.store.images.get_parent(image_id) is None


def test_bad_input_leaves_the_store_clean(engine):
    parent = engine.images.resolve("base:1")
    with pytest.raises(InvalidArgument):
        commit_image(engine.images, parent, TarLayer(io.BytesIO(b"not a tar" * 200)), CommitSpec())
    with pytest.raises(InvalidArgument):
        commit_image(engine.images, parent, None, CommitSpec(changes=["RUN true"]))
    with pytest.raises(NotFound):
        commit_image(engine.images, parent, UpperDirLayer("/nonexistent/upper"), CommitSpec())
    assert [s.repo_tags for s in engine.images.list()] == [("base:1",)]
    assert engine.check().clean
