"""Garbage collection beside slow pushes, and kill -9 in the middle of pushes, on a served registry.

The clients here behave as a slow network makes docker behave: layers trickle in as chunked
PATCHes with pauses, the manifest comes last. The collector runs with a grace far shorter than
each push, every half second, so only the "a push in progress protects what it linked" rule can
keep the pushes whole.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import threading
import time

import pytest

from lamina.registry.server.gc import collect
from lamina.testing import distclient
from lamina.testing.distclient import OCI_MANIFEST, sha
from lamina.testing.registries import RegistryProcess


class Client(distclient.Client):
    def push_blob(self, repo: str, data: bytes, chunks: int = 1, pause: float = 0.0) -> str:
        try:
            return super().push_blob(repo, data, chunks, pause)
        except distclient.PushFailed as exc:
            raise AssertionError(str(exc)) from None


def _age(root: str) -> None:
    for dirpath, _, files in os.walk(os.path.join(root, "docker/registry/v2")):
        for f in files:
            os.utime(os.path.join(dirpath, f), (1_000_000_000, 1_000_000_000))


def test_gc_every_half_second_beside_six_slow_pushes(tmp_path):
    with RegistryProcess(str(tmp_path / "reg")) as reg:
        data_root = os.path.join(reg.root, "data")
        client = Client(reg.host)
        garbage = client.push_blob("old/junk", b"garbage nobody references")
        _age(data_root)
        results: dict[int, tuple[int, bytes]] = {}
        reports = []
        stop = threading.Event()

        def push(i: int) -> None:
            config = json.dumps({"architecture": "amd64", "os": "linux", "n": i, "rootfs": {"type": "layers", "diff_ids": []}}).encode()
            layers = [os.urandom(64 << 10) for _ in range(4)]
            try:
                for layer in layers:
                    # each layer trickles in over ~1.5 s: the push outlasts grace and slack twice
                    client.push_blob(f"slow/p{i}", layer, chunks=5, pause=0.3)
                client.push_blob(f"slow/p{i}", config)
                results[i] = client.put_manifest(f"slow/p{i}", "v1", config, layers)
            except AssertionError as exc:
                results[i] = (0, str(exc).encode())

        def collect_loop() -> None:
            while not stop.is_set():
                reports.append(collect(data_root, grace=1.0))
                time.sleep(0.5)

        collector = threading.Thread(target=collect_loop)
        collector.start()
        pushers = [threading.Thread(target=push, args=(i,)) for i in range(6)]
        for t in pushers:
            t.start()
        for t in pushers:
            t.join()
        stop.set()
        collector.join()
        assert len(reports) >= 4
        # the collector did work: year-old garbage went while the pushes were protected
        assert any(str(garbage) in map(str, r.swept) for r in reports)
        for i in range(6):
            status, raw = results[i]
            assert status == 201, (i, raw)
            doc = json.loads(raw)
            for desc in [doc["config"], *doc["layers"]]:
                status, _, body = client.request("GET", f"/v2/slow/p{i}/blobs/{desc['digest']}")
                assert status == 200 and sha(body) == desc["digest"]
        # once the pushes are over and idle past the grace, nothing they pushed is garbage
        _age(data_root)
        final = collect(data_root, grace=1.0)
        assert final.swept == [] and final.active_repositories == []


def test_idle_push_loses_protection_but_head_renews_it(tmp_path):
    with RegistryProcess(str(tmp_path / "reg")) as reg:
        data_root = os.path.join(reg.root, "data")
        client = Client(reg.host)
        layer = client.push_blob("idle/a", b"uploaded long ago")
        _age(data_root)
        # a client checking the layer before referencing it renews its protection
        assert client.request("HEAD", f"/v2/idle/a/blobs/{layer}")[0] == 200
        assert collect(data_root, grace=60).swept == []
        _age(data_root)
        assert [str(d) for d in collect(data_root, grace=60).swept] == [layer]
        # swept under a client that idled past the grace: the manifest says so, nothing breaks
        config = b"{}"
        client.push_blob("idle/a", config)
        status, body = client.put_manifest("idle/a", "v1", config, [b"uploaded long ago"])
        assert status == 400 and json.loads(body)["errors"][0]["code"] == "MANIFEST_BLOB_UNKNOWN"


def test_kill_9_mid_push_leaves_every_listed_tag_resolvable(tmp_path):
    reg = RegistryProcess(str(tmp_path / "reg")).start()
    acknowledged: list[tuple[str, str]] = []
    stop = threading.Event()
    try:
        client = Client(reg.host)

        def pusher(worker: int) -> None:
            n = 0
            while not stop.is_set():
                config = json.dumps({"w": worker, "n": n}).encode()
                layer = os.urandom(4096)
                try:
                    client.push_blob(f"crash/w{worker}", layer)
                    client.push_blob(f"crash/w{worker}", config)
                    status, _ = client.put_manifest(f"crash/w{worker}", f"t{n}", config, [layer])
                except (AssertionError, OSError, http.client.HTTPException):
                    return
                if status == 201:
                    acknowledged.append((f"crash/w{worker}", f"t{n}"))
                n += 1

        threads = [threading.Thread(target=pusher, args=(w,)) for w in range(4)]
        for t in threads:
            t.start()
        deadline = time.monotonic() + 30
        while len(acknowledged) < 12 and time.monotonic() < deadline:
            time.sleep(0.05)
        os.killpg(reg.proc.pid, signal.SIGKILL)
        reg.proc.wait()
        reg.proc = None
        stop.set()
        for t in threads:
            t.join()
        assert len(acknowledged) >= 12
        reg.start()
        client = Client(reg.host)
        for w in range(4):
            status, _, body = client.request("GET", f"/v2/crash/w{w}/tags/list")
            assert status == 200
            for tag in json.loads(body)["tags"]:
                status, _, _ = client.request("GET", f"/v2/crash/w{w}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
                assert status == 200, (w, tag)
        for repo, tag in acknowledged:
            status, _, _ = client.request("GET", f"/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_MANIFEST})
            assert status == 200, (repo, tag)
    finally:
        stop.set()
        reg.stop()


@pytest.mark.parametrize("leftover", ["index-only", "current-to-missing-revision"])
def test_tags_list_shows_only_tags_that_resolve(tmp_path, leftover):
    """What a crash (or another writer) can leave in a tag directory is not listed."""
    with RegistryProcess(str(tmp_path / "reg")) as reg:
        client = Client(reg.host)
        config, layer = b"{}", b"layer"
        client.push_blob("t/r", layer)
        client.push_blob("t/r", config)
        assert client.put_manifest("t/r", "good", config, [layer])[0] == 201
        tags = os.path.join(reg.root, "data/docker/registry/v2/repositories/t/r/_manifests/tags")
        missing = "sha256:" + "ab" * 32
        if leftover == "index-only":
            os.makedirs(os.path.join(tags, "half", "index", "sha256", "ab" * 32))
            with open(os.path.join(tags, "half", "index", "sha256", "ab" * 32, "link"), "w") as f:
                f.write(missing)
        else:
            os.makedirs(os.path.join(tags, "half", "current"))
            with open(os.path.join(tags, "half", "current", "link"), "w") as f:
                f.write(missing)
        status, _, body = client.request("GET", "/v2/t/r/tags/list")
        assert status == 200 and json.loads(body)["tags"] == ["good"]
