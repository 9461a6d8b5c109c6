"""Several lamina registry instances over one S3 bucket: a shared (redis) blob descriptor cache,
the debug server's health checks and metrics, in-server GC, and GC beside slow pushes spread
over two instances."""

from __future__ import annotations

import json
import os
import threading
import time
import urllib.error
import urllib.request

import pytest

from lamina.registry.server.gc import collect
from lamina.registry.server.registry import Registry
from lamina.registry.server.storage.s3 import S3Driver
from lamina.testing.distclient import Client, sha
from lamina.testing.redisd import RedisServer, redis_binary
from lamina.testing.registries import RegistryProcess, free_port
from lamina.testing.s3 import MotoServer

pytestmark = pytest.mark.timeout(300)

_count = iter(range(10_000))


@pytest.fixture(scope="module")
def redis_server(tmp_path_factory):
    if redis_binary() is None:
        pytest.skip("redis-server is not installed (install.sh installs it)")
    with RedisServer(str(tmp_path_factory.mktemp("redis"))) as server:
        yield server


def _section(moto, bucket: str) -> dict:
    return moto.storage_section(bucket, rootdirectory="/registry", chunksize=5 << 20)


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_redis_cache_shares_deletes_between_instances(tmp_path, moto, redis_server):
    bucket = moto.create_bucket(f"cache-{next(_count)}")
    config = {
        "storage": {"s3": _section(moto, bucket), "cache": {"blobdescriptor": "redis"}, "delete": {"enabled": True}},
        "redis": {"addr": redis_server.addr},
    }
    with RegistryProcess(str(tmp_path / "a"), config=config) as a, RegistryProcess(str(tmp_path / "b"), config=config) as b:
        client = Client(a.host)
        d = client.push_blob("cached/repo", os.urandom(1000))
        assert client.request("HEAD", f"/v2/cached/repo/blobs/{d}", host=b.host)[0] == 200  # b caches it
        assert client.request("DELETE", f"/v2/cached/repo/blobs/{d}", host=a.host)[0] == 202
        # a's delete cleared the shared entry: b answers from storage, where the link is gone
        assert client.request("HEAD", f"/v2/cached/repo/blobs/{d}", host=b.host)[0] == 404


def test_cache_outage_serves_from_storage_and_health_says_why(tmp_path, moto):
    bucket = moto.create_bucket(f"outage-{next(_count)}")
    debug = free_port()
    config = {
        "storage": {"s3": _section(moto, bucket), "cache": {"blobdescriptor": "redis"}},
        "redis": {"addr": f"127.0.0.1:{free_port()}", "dialtimeout": "200ms"},  # nobody listens
        "http": {"debug": {"addr": f"127.0.0.1:{debug}"}},
    }
    with RegistryProcess(str(tmp_path / "a"), config=config) as a:
        client = Client(a.host)
        d = client.push_blob("outage/repo", b"still served")
        status, headers, _ = client.request("GET", f"/v2/outage/repo/blobs/{d}")
        assert status == 307
        status, body = _get(f"http://127.0.0.1:{debug}/debug/health")
        assert status == 503 and set(json.loads(body)) == {"redis"}


def test_debug_health_and_metrics(tmp_path):
    with MotoServer(str(tmp_path / "own-moto")) as own:
        bucket = own.create_bucket("health")
        debug = free_port()
        config = {
            "storage": {"s3": {**_section(own, bucket)}, "maintenance": {"gc": {"enabled": True, "interval": "300ms", "grace": "1h"}}},
            "http": {"debug": {"addr": f"127.0.0.1:{debug}"}},
        }
        with RegistryProcess(str(tmp_path / "a"), config=config) as a:
            assert _get(f"http://127.0.0.1:{debug}/debug/health") == (200, b"{}")
            client = Client(a.host)
            data = os.urandom(10_000)
            client.push_blob("metrics/repo", data, chunks=2)
            client.request("GET", "/v2/metrics/repo/tags/list")
            time.sleep(1.0)
            status, body = _get(f"http://127.0.0.1:{debug}/metrics")
            text = body.decode()
            assert status == 200
            assert 'lamina_registry_http_requests_total{method="PATCH",route="/v2/{name}/blobs/uploads/{uuid}",status="202"} 2.0' in text
            assert 'lamina_registry_http_requests_total{method="GET",route="/v2/{name}/tags/list",status="200"} 1.0' in text
            assert 'lamina_registry_uploads_total{outcome="completed"} 1.0' in text
            assert "lamina_registry_upload_bytes_total 10000.0" in text
            assert 'lamina_registry_http_request_bytes_total{route="/v2/{name}/blobs/uploads/{uuid}"} 10000.0' in text
            runs = [line for line in text.splitlines() if line.startswith("lamina_registry_gc_runs_total")]
            assert runs and float(runs[0].split()[-1]) >= 1
            # the storage goes away: health says which check fails
            own.stop()
            status, body = _get(f"http://127.0.0.1:{debug}/debug/health")
            assert status == 503 and "storage-s3" in json.loads(body)


def test_gc_beside_slow_pushes_spread_over_two_instances(tmp_path, moto):
    bucket = moto.create_bucket(f"gc-{next(_count)}")
    section = _section(moto, bucket)
    config = {"storage": {"s3": section}}
    with RegistryProcess(str(tmp_path / "a"), config=config) as a, RegistryProcess(str(tmp_path / "b"), config=config) as b:
        registry = Registry(S3Driver(section))
        results: dict[int, tuple[int, bytes]] = {}
        reports = []
        stop = threading.Event()

        def push(i: int) -> None:
            client = Client([a.host, b.host])
            config_blob = json.dumps({"n": i}).encode()
            layers = [os.urandom(32 << 10) for _ in range(3)]
            try:
                for layer in layers:
                    # ~1.5 s a layer: each push outlasts the grace and the clock slack
                    client.push_blob(f"slow/p{i}", layer, chunks=4, pause=0.3)
                client.push_blob(f"slow/p{i}", config_blob)
                results[i] = client.put_manifest(f"slow/p{i}", "v1", config_blob, layers)
            except AssertionError as exc:
                results[i] = (0, str(exc).encode())

        def collect_loop() -> None:
            while not stop.is_set():
                reports.append(collect(registry, grace=1.0))
                time.sleep(0.5)

        collector = threading.Thread(target=collect_loop)
        collector.start()
        pushers = [threading.Thread(target=push, args=(i,)) for i in range(3)]
        for t in pushers:
            t.start()
        for t in pushers:
            t.join()
        stop.set()
        collector.join()
        assert len(reports) >= 3
        client = Client([b.host, a.host])
        for i in range(3):
            status, raw = results[i]
            assert status == 201, (i, raw)
            for desc in json.loads(raw)["layers"]:
                status, headers, _ = client.request("GET", f"/v2/slow/p{i}/blobs/{desc['digest']}")
                assert status == 307
                assert sha(urllib.request.urlopen(headers["Location"], timeout=30).read()) == desc["digest"]
