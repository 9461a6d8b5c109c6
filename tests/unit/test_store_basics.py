import json
import multiprocessing
import os

import pytest

from lamina import reference as refs
from lamina.digest import Digest
from lamina.errors import InvalidArgument, NotFound, StoreCorrupt
from lamina.store import atomic, lease
from lamina.store.imagedb import ImageDB
from lamina.store.layerdb import LayerDB, LayerRecord
from lamina.store.paths import DataRoot, check_hex_id
from lamina.store.repositories import Repositories

D = Digest.of_bytes


def test_atomic_write_replaces_and_leaves_no_temp(tmp_path):
    target = tmp_path / "f"
    atomic.write_file(str(target), b"one")
    atomic.write_file(str(target), b"two")
    assert target.read_bytes() == b"two"
    assert os.listdir(tmp_path) == ["f"]


def test_check_hex_id_refuses_paths():
    assert check_hex_id("a" * 64)
    for bad in ["../" + "a" * 61, "A" * 64, "a" * 63, "a" * 63 + "/"]:
        with pytest.raises(InvalidArgument):
            check_hex_id(bad)


def test_paths_refuse_non_sha256(tmp_path):
    paths = DataRoot(str(tmp_path))
    with pytest.raises(InvalidArgument):
        paths.image_config(Digest("sha512", "a" * 128))
    assert paths.layer(D(b"x")).endswith("/image/overlay2/layerdb/sha256/" + D(b"x").hex)


def _hold_lease(leases_dir, ready, stop):
    held = lease.Lease(leases_dir)
    held.add_pending("c" * 64)
    held.pin("d" * 64)
    ready.set()
    stop.wait(10)


def test_lease_visible_while_owner_lives_and_dead_after(tmp_path):
    leases_dir = str(tmp_path / "leases")
    ctx = multiprocessing.get_context("fork")
    ready, stop = ctx.Event(), ctx.Event()
    proc = ctx.Process(target=_hold_lease, args=(leases_dir, ready, stop))
    proc.start()
    assert ready.wait(10)
    assert lease.live_pending(leases_dir) == {"c" * 64}
    assert lease.live_pins(leases_dir) == {"d" * 64}
    assert lease.dead_leases(leases_dir) == []
    proc.kill()  # like kill -9: no cleanup runs
    proc.join()
    assert lease.live_pending(leases_dir) == set()
    assert len(lease.dead_leases(leases_dir)) == 2  # the lease file and its .d directory


def test_lease_close_removes_everything(tmp_path):
    leases_dir = str(tmp_path / "leases")
    with lease.Lease(leases_dir) as held:
        held.add_pending("e" * 64)
        assert lease.live_pending(leases_dir) == {"e" * 64}
    assert os.listdir(leases_dir) == []


def test_imagedb_roundtrip(tmp_path):
    paths = DataRoot(str(tmp_path))
    for d in paths.skeleton():
        os.makedirs(d, exist_ok=True)
    db = ImageDB(paths)
    raw = json.dumps({"rootfs": {"type": "layers", "diff_ids": [str(D(b"l"))]}}).encode()
    image_id = db.put(raw)
    assert image_id == D(raw)
    assert db.get(image_id).raw == raw
    assert db.find_by_prefix(image_id.hex[:6]) == [image_id]
    assert db.find_by_prefix("../") == []
    parent = db.put(json.dumps({"rootfs": {"type": "layers", "diff_ids": []}}).encode())
    db.set_parent(image_id, parent)
    assert db.get_parent(image_id) == parent
    assert db.children(parent) == [image_id]
    db.delete(image_id)
    with pytest.raises(NotFound):
        db.get(image_id)
    with pytest.raises(InvalidArgument):
        db.put(b"[]")


def test_layerdb_commit_is_first_wins(tmp_path):
    paths = DataRoot(str(tmp_path))
    for d in paths.skeleton():
        os.makedirs(d, exist_ok=True)
    db = LayerDB(paths)
    rec = LayerRecord(D(b"c"), D(b"c"), None, 42, "a" * 64)
    assert db.commit(db.new_tmp_dir("a" * 64), rec) is True
    assert db.get(rec.chain_id) == rec
    again = LayerRecord(D(b"c"), D(b"c"), None, 42, "b" * 64)
    assert db.commit(db.new_tmp_dir("b" * 64), again) is False
    assert db.get(rec.chain_id).cache_id == "a" * 64
    assert os.listdir(paths.layerdb_tmp()) == []
    assert [r.chain_id for r in db.list()] == [rec.chain_id]
    db.remove(rec.chain_id)
    assert not db.exists(rec.chain_id)


def test_layerdb_corrupt_entry(tmp_path):
    paths = DataRoot(str(tmp_path))
    os.makedirs(paths.layer(D(b"z")))
    for name, value in {"diff": "nonsense", "size": "1", "cache-id": "a" * 64}.items():
        with open(os.path.join(paths.layer(D(b"z")), name), "w") as f:
            f.write(value)
    with pytest.raises(StoreCorrupt):
        LayerDB(paths).get(D(b"z"))


def test_repositories_docker_shape(tmp_path):
    repos = Repositories(str(tmp_path / "repositories.json"))
    a, b = D(b"a"), D(b"b")
    assert repos.set(refs.parse("busybox:latest"), a) is None
    assert repos.set(refs.parse("localhost:5000/x/y:1"), a) is None
    assert repos.set(refs.parse("busybox:latest"), b) == a
    inode = os.stat(tmp_path / "repositories.json").st_ino
    assert repos.set(refs.parse("busybox:latest"), b) is None  # unchanged: nothing written (docker)
    assert os.stat(tmp_path / "repositories.json").st_ino == inode
    doc = json.loads((tmp_path / "repositories.json").read_text())
    assert doc == {
        "Repositories": {
            "busybox": {"busybox:latest": str(b)},
            "localhost:5000/x/y": {"localhost:5000/x/y:1": str(a)},
        }
    }
    assert [r.familiar() for r in repos.references_to(a)] == ["localhost:5000/x/y:1"]
    assert repos.delete(refs.parse("busybox:latest"))
    assert not repos.delete(refs.parse("busybox:latest"))
    assert [r.familiar() for r in repos.delete_image(a)] == ["localhost:5000/x/y:1"]
    assert json.loads((tmp_path / "repositories.json").read_text()) == {"Repositories": {}}


def test_repositories_corrupt_file_is_an_error_not_a_wipe(tmp_path):
    path = tmp_path / "repositories.json"
    path.write_text("{not json")
    with pytest.raises(StoreCorrupt):
        Repositories(str(path)).set(refs.parse("a"), D(b"a"))
    assert path.read_text() == "{not json"


def test_utc_stamp_is_what_datetime_writes():
    """lastUpdated as ``datetime.now(UTC).isoformat()`` wrote it (microseconds left out when 0)."""
    from datetime import UTC, datetime

    from lamina.store.imagedb import utc_stamp

    for ns in (0, 1_700_000_000_000_000_000, 1_700_000_000_123_456_789, 1_700_000_000_000_001_000, 4_102_444_799_999_999_999):
        expected = datetime.fromtimestamp(ns // 1_000_000_000, UTC).replace(microsecond=ns // 1000 % 1_000_000)
        assert utc_stamp(ns) == expected.isoformat().replace("+00:00", "Z")
    assert utc_stamp().endswith("Z") and utc_stamp()[:2] == "20"
