"""The registry client's pure parts: daemon.json, credentials lookup, challenges, platform
choice, manifest verification, docker's distribution files, the ingest area, progress lines."""

from __future__ import annotations

import base64
import io
import json
import os

import pytest

from lamina.digest import Digest
from lamina.errors import DigestMismatch, InvalidArgument, NotFound
from lamina.oci import Index
from lamina.registry.client.daemon_config import DaemonConfig, load_daemon_config
from lamina.registry.client.transport import endpoints_for, parse_challenge


def test_daemon_config_insecure_registries():
    config = DaemonConfig.from_doc({"insecure-registries": ["10.1.0.0/16", "reg.lan:5000"], "max-concurrent-downloads": 7})
    assert config.max_concurrent_downloads == 7 and config.max_concurrent_uploads == 5
    assert config.is_insecure("127.0.0.1:5000") and config.is_insecure("localhost:5000") and config.is_insecure("[::1]:5000")
    assert config.is_insecure("10.1.2.3:443") and not config.is_insecure("10.2.0.1:443")
    assert config.is_insecure("reg.lan:5000") and not config.is_insecure("reg.lan:6000")
    assert not DaemonConfig().is_insecure("203.0.113.9:5000")
    with pytest.raises(InvalidArgument):
        DaemonConfig.from_doc({"registry-mirrors": ["ftp://mirror"]})
    with pytest.raises(InvalidArgument):
        DaemonConfig.from_doc({"max-concurrent-uploads": 0})


def test_daemon_config_file(tmp_path, monkeypatch):
    path = tmp_path / "daemon.json"
    monkeypatch.setenv("LAMINA_DAEMON_CONFIG", str(path))
    assert load_daemon_config() == DaemonConfig()
    path.write_text(json.dumps({"registry-mirrors": ["http://127.0.0.1:5000/"]}))
    assert load_daemon_config().registry_mirrors == ("http://127.0.0.1:5000",)
    path.write_text("{not json")
    with pytest.raises(InvalidArgument):
        load_daemon_config()


def test_endpoints_in_docker_order():
    config = DaemonConfig()
    loop = endpoints_for("127.0.0.1:5000", config)
    assert [e.base for e in loop] == ["https://127.0.0.1:5000", "http://127.0.0.1:5000"] and loop[0].verify is False
    secure = endpoints_for("registry.example:5000", config)
    assert [e.base for e in secure] == ["https://registry.example:5000"] and secure[0].verify is not False
    assert [e.base for e in endpoints_for("http://mirror:5000", config)] == ["http://mirror:5000"]


def test_parse_challenge():
    scheme, params = parse_challenge('Bearer realm="https://auth.example/token",service="reg",scope="repository:a/b:pull"')
    assert scheme == "bearer" and params == {"realm": "https://auth.example/token", "service": "reg", "scope": "repository:a/b:pull"}
    assert parse_challenge('Basic realm="x"')[0] == "basic"


def test_credentials_lookup_order(tmp_path, monkeypatch):
    from lamina.registry.client import credentials

    monkeypatch.setenv("LAMINA_CONFIG", str(tmp_path / "lamina"))
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker"))
    os.makedirs(tmp_path / "docker")
    auth = base64.b64encode(b"dave:secret").decode()
    (tmp_path / "docker" / "config.json").write_text(json.dumps({"auths": {"reg:5000": {"auth": auth}, credentials.HUB_KEY: {"auth": auth}}}))
    assert credentials.lookup("reg:5000") == ("dave", "secret")  # docker's file, lamina has none
    assert credentials.lookup("docker.io") == ("dave", "secret")
    assert credentials.lookup("other:5000") is None
    credentials.save_auth("reg:5000", "erin", "pw")
    assert credentials.lookup("reg:5000") == ("erin", "pw")  # lamina's own first
    assert credentials.remove_auth("reg:5000")
    assert credentials.lookup("reg:5000") == ("dave", "secret")


def test_platform_choice_and_manifest_verification():
    from lamina.image.pull import _choose, _verified_digest, parse_platform

    def entry(arch, variant=None, n="1"):
        platform = {"os": "linux", "architecture": arch, **({"variant": variant} if variant else {})}
        return {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + n * 64, "size": 1, "platform": platform}

    index = Index.parse(json.dumps({"schemaVersion": 2, "manifests": [entry("arm", "v7", "1"), entry("amd64", None, "2"), entry("arm64", "v8", "3")]}).encode())
    assert _choose(index, parse_platform("linux/amd64")).digest.hex == "2" * 64
    assert _choose(index, parse_platform("linux/arm/v7")).digest.hex == "1" * 64
    assert _choose(index, parse_platform("arm64")).digest.hex == "3" * 64
    with pytest.raises(NotFound, match="no matching manifest for linux/s390x"):
        _choose(index, parse_platform("linux/s390x"))
    with pytest.raises(InvalidArgument):
        parse_platform("a/b/c/d")
    raw = b'{"schemaVersion":2}'
    digest = Digest.of_bytes(raw)
    assert _verified_digest(raw, digest, None) == digest
    with pytest.raises(DigestMismatch, match="manifest verification failed"):
        _verified_digest(raw, Digest("sha256", "0" * 64), None)
    with pytest.raises(DigestMismatch):
        _verified_digest(raw, None, "sha256:" + "0" * 64)


def test_distribution_files_in_docker_shape(tmp_path):
    from lamina.store.distribution import BlobRecord, DistributionMap
    from lamina.store.paths import DataRoot

    dist = DistributionMap(DataRoot(str(tmp_path)))
    diff, blob = Digest("sha256", "a" * 64), Digest("sha256", "b" * 64)
    dist.add(diff, BlobRecord(blob, "docker.io/library/busybox", "application/vnd.docker.image.rootfs.diff.tar.gzip", 123))
    dist.add(diff, BlobRecord(blob, "docker.io/library/busybox"))  # replaces, newest last
    base = tmp_path / "image" / "overlay2" / "distribution"
    assert (base / "diffid-by-digest" / "sha256" / ("b" * 64)).read_text() == str(diff)
    doc = json.loads((base / "v2metadata-by-diffid" / "sha256" / ("a" * 64)).read_text())
    assert doc == [{"Digest": str(blob), "SourceRepository": "docker.io/library/busybox", "HMAC": ""}]
    assert dist.records(diff)[0].registry == "docker.io" and dist.diff_id_of(blob) == diff


def test_ingest_area_locks_and_reports_only_abandoned(tmp_path):
    from lamina.store.ingest import Ingest

    ingest = Ingest(str(tmp_path / "ingest"))
    digest = Digest("sha256", "c" * 64)
    part = ingest.acquire(digest)
    os.write(part.fd, b"partial")
    assert part.size() == 7
    assert ingest.stale(older_than=0) == []  # held
    part.close()
    assert ingest.stale(older_than=0) == [ingest.path(digest)]
    assert ingest.stale() == []  # young: a resumable pull, not debris
    again = ingest.acquire(digest)
    assert again.size() == 7
    again.close()


def test_progress_lines_as_docker_draws_them():
    from lamina.cli.progress import ProgressDisplay, bar
    from lamina.image.pull import Progress

    assert bar(1_200_000, 2_500_000) == "[" + "=" * 24 + ">" + " " * 26 + "]    1.2MB/2.5MB"
    plain = io.StringIO()
    show = ProgressDisplay(plain, terminal=False)
    for message in (Progress("abc", "Pulling fs layer"), Progress("abc", "Downloading", 5, 10), Progress("abc", "Pull complete")):
        show(message)
    assert plain.getvalue() == "abc: Pulling fs layer\nabc: Pull complete\n"
    tty = io.StringIO()
    show = ProgressDisplay(tty, terminal=True)
    show(Progress("a", "Pulling fs layer"))
    show(Progress("b", "Pulling fs layer"))
    show(Progress("a", "Downloading", 5, 10))
    assert tty.getvalue().startswith("a: Pulling fs layer\nb: Pulling fs layer\n\x1b[2A\r\x1b[2Ka: Downloading [")
    assert tty.getvalue().endswith("\r\x1b[2B")


def test_token_cache_keys_expiry_and_damage(tmp_path):
    import time

    from lamina.registry.client.tokens import TokenCache, token_key

    cache = TokenCache(str(tmp_path / "cfg" / "tokens.json"))
    scopes = ("repository:a/b:pull",)
    bob = token_key("http://reg:5000", "https://auth/token", "reg", scopes, ("bob", "pw"))
    assert bob != token_key("http://reg:5000", "https://auth/token", "reg", scopes, ("bob", "other"))
    assert bob != token_key("http://reg:5000", "https://auth/token", "reg", scopes, None)
    assert bob != token_key("http://reg:5000", "https://auth/token", "reg", ("repository:a/b:pull,push",), ("bob", "pw"))
    assert "pw" not in bob
    assert cache.get(bob) is None  # no file yet
    cache.put(bob, "tok-1", time.time() + 60)
    assert cache.get(bob)[0] == "tok-1"
    assert os.stat(cache.path).st_mode & 0o777 == 0o600 and os.stat(os.path.dirname(cache.path)).st_mode & 0o777 == 0o700
    stale = token_key("http://reg:5000", "https://auth/token", "reg", ("repository:c/d:pull",), None)
    cache.put(stale, "tok-old", time.time() - 1)
    assert cache.get(stale) is None  # expired: never handed out
    cache.put(bob, "tok-2", time.time() + 60)
    assert set(json.load(open(cache.path))) == {bob}  # expired entries go when the file is written
    cache.drop(bob)
    assert cache.get(bob) is None
    with open(cache.path, "w") as f:
        f.write("{damaged")
    assert cache.get(bob) is None
    cache.put(bob, "tok-3", time.time() + 60)
    assert cache.get(bob)[0] == "tok-3"
    # logout: the registry's tokens go, another registry's stay
    hub = token_key("https://registry-1.docker.io", "https://auth.docker.io/token", "registry.docker.io", scopes, None)
    cache.put(hub, "tok-hub", time.time() + 60)
    cache.forget("reg:5000")
    assert cache.get(bob) is None and cache.get(hub)[0] == "tok-hub"
    cache.forget("docker.io")
    assert cache.get(hub) is None
