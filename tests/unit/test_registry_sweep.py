"""Garbage collection against instances that share no lock (an object store, other hosts).

Each test stops the collector at the worst instant — after its last check of a blob's times,
before its delete (its ``say`` line "blob eligible for deletion" is that instant) — and lets
another instance use the blob there, as a HEAD, a mount, an upload or a manifest would. The
store is a filesystem driver that offers no local lock, so the instances coordinate as they
do on S3: through the sweep mark (``lamina.registry.server.sweep``)."""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time

import pytest

from lamina.digest import Digest
from lamina.registry.server import paths, sweep
from lamina.registry.server.errors import RegistryError
from lamina.registry.server.gc import collect
from lamina.registry.server.registry import Registry, parse_pushed_manifest
from lamina.registry.server.storage import FilesystemDriver

OLD = 1_000_000_000


class LocklessDriver(FilesystemDriver):
    """A filesystem seen as an object store is: no local path, so no flock to share."""

    def local_path(self, path: str) -> str | None:
        return None


def digest_of(data: bytes) -> Digest:
    return Digest("sha256", hashlib.sha256(data).hexdigest())


def _age(root: str) -> None:
    for dirpath, _, files in os.walk(root):
        for f in files:
            os.utime(os.path.join(dirpath, f), (OLD, OLD))


@pytest.fixture
def stored(tmp_path):
    """(root, a lone blob's data and digest in repository "r", untouched for years)."""
    root = str(tmp_path / "bucket")
    data = b"a layer nobody has referenced for years"
    d = digest_of(data)
    first = Registry(LocklessDriver(root))
    assert not first.gc_lock.held
    first.put_blob_bytes("r", data, d)
    _age(root)
    return root, data, d


def _collect_racing(root: str, race) -> tuple[list, list]:
    """Collect on one instance; at the instant between its re-check and its delete, run
    ``race`` on a second instance in a thread (it may wait: the sweep's verdict is pending).
    Returns (what the collector swept, [race's result])."""
    other = Registry(LocklessDriver(root))
    result: list = []
    waiter: list[threading.Thread] = []

    def hook(line: str) -> None:
        if line.startswith("blob eligible for deletion"):
            thread = threading.Thread(target=lambda: result.append(_outcome(race, other)))
            thread.start()
            waiter.append(thread)
            time.sleep(0.3)
            assert thread.is_alive(), "the other instance did not wait for the sweep's verdict"

    report = collect(Registry(LocklessDriver(root)), grace=60, say=hook)
    for thread in waiter:
        thread.join(sweep.STALE)
    return report.swept, result


def _outcome(race, registry: Registry):
    try:
        return race(registry)
    except RegistryError as exc:
        return exc.code


def test_a_head_in_the_sweeps_last_instant_says_unknown(stored):
    root, _, d = stored
    swept, result = _collect_racing(root, lambda reg: reg.note_push_check("r", d))
    assert swept == [d] and result == [False]  # the client is told to upload it again
    assert Registry(LocklessDriver(root)).blob_size(d) is None


def test_a_mount_in_the_sweeps_last_instant_fails_to_an_upload(stored):
    root, _, d = stored
    swept, result = _collect_racing(root, lambda reg: reg.link_blob("elsewhere", d))
    assert swept == [d] and result == [False]


def test_an_upload_in_the_sweeps_last_instant_is_kept(stored):
    root, data, d = stored
    swept, result = _collect_racing(root, lambda reg: reg.put_blob_bytes("r", data, d))
    assert swept == [d] and result == [None]
    reg = Registry(LocklessDriver(root))
    assert reg.blob_size(d) == len(data) and reg.repo_has_blob("r", d)
    assert sweep.blob_state(reg.driver, d) == (True, False)


def test_a_manifest_in_the_sweeps_last_instant_is_refused(stored):
    root, data, d = stored
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    cd = digest_of(config)
    Registry(LocklessDriver(root)).put_blob_bytes("r", config, cd)
    _age(root)
    media = "application/vnd.oci.image.manifest.v1+json"
    raw = json.dumps({"schemaVersion": 2, "mediaType": media,
                      "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": str(cd), "size": len(config)},
                      "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": str(d), "size": len(data)}]}).encode()

    def push(reg: Registry):
        parsed = parse_pushed_manifest(raw, media)
        reg.put_manifest("r", raw, parsed, digest_of(raw), "v1")

    swept, result = _collect_racing(root, push)
    # the first blob swept refuses the manifest; the push touched the other, which stays
    assert len(swept) == 1 and result == ["MANIFEST_BLOB_UNKNOWN"]
    assert Registry(LocklessDriver(root)).blob_size(({d, cd} - set(swept)).pop()) is not None
    assert Registry(LocklessDriver(root)).resolve_tag("r", "v1") is None  # no tag names a missing blob


def test_a_use_before_the_mark_keeps_the_blob(stored):
    root, _, d = stored
    assert Registry(LocklessDriver(root)).note_push_check("r", d) is True
    _age(root)
    Registry(LocklessDriver(root)).touch_blob(d)  # a use the collector finds at its re-check
    report = collect(Registry(LocklessDriver(root)), grace=60)
    assert report.swept == [] and report.skipped_recent == 1
    assert sweep.blob_state(LocklessDriver(root), d) == (True, False)  # the mark is gone too


def test_a_dead_collectors_mark_does_not_hold_servers(stored):
    root, _, d = stored
    driver = LocklessDriver(root)
    driver.put_content(paths.blob_sweep_mark(d), b"")
    os.utime(root + paths.blob_sweep_mark(d), (OLD, OLD))
    started = time.monotonic()
    assert sweep.settled_presence(driver, d) is True
    assert time.monotonic() - started < 1
    assert collect(Registry(LocklessDriver(root)), grace=60).swept == [d]  # the next run sweeps both
    assert sweep.blob_state(driver, d) == (False, False)


def test_a_slow_collector_keeps_the_blob(stored, monkeypatch):
    root, _, d = stored
    monkeypatch.setattr(sweep, "WINDOW", 0.0)  # any collector is too slow now
    report = collect(Registry(LocklessDriver(root)), grace=60)
    assert report.swept == [] and sweep.blob_state(LocklessDriver(root), d) == (True, False)
