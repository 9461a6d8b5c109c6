"""The registry's routes, in process: every resource's success and error paths."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os

import pytest
from aiohttp.test_utils import TestClient, TestServer

from lamina.registry.server.app import make_app
from lamina.registry.server.config import RegistryConfig, load_config
from lamina.registry.server.gc import collect

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"


def sha(data: bytes, alg: str = "sha256") -> str:
    return f"{alg}:" + hashlib.new(alg, data).hexdigest()


class Reg:
    """A registry app on an in-process server, driven synchronously."""

    def __init__(self, root: str, **options) -> None:
        self.root = root
        self.loop = asyncio.new_event_loop()
        config = RegistryConfig(root=root, delete_enabled=options.pop("delete_enabled", True), **options)
        self.client = TestClient(TestServer(make_app(config)), loop=self.loop)
        self.loop.run_until_complete(self.client.start_server())

    def close(self) -> None:
        self.loop.run_until_complete(self.client.close())
        self.loop.close()

    def req(self, method: str, path: str, **kw):
        async def go():
            resp = await self.client.request(method, path, allow_redirects=False, **kw)
            return resp.status, resp.headers, await resp.read()

        return self.loop.run_until_complete(go())

    def code(self, body: bytes) -> str:
        return json.loads(body)["errors"][0]["code"]

    def push_blob(self, name: str, data: bytes) -> str:
        d = sha(data)
        status, headers, _ = self.req("POST", f"/v2/{name}/blobs/uploads/?digest={d}", data=data)
        assert status == 201, status
        assert headers["Docker-Content-Digest"] == d
        return d

    def push_image(self, name: str, tag: str, layers=(b"layer-one", b"layer-two"), media=DOCKER_MANIFEST, extra=None):
        config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        cd = self.push_blob(name, config)
        descs = [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": self.push_blob(name, data), "size": len(data)} for data in layers]
        doc = {"schemaVersion": 2, "mediaType": media, "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": cd, "size": len(config)}, "layers": descs}
        doc.update(extra or {})
        raw = json.dumps(doc).encode()
        status, headers, body = self.req("PUT", f"/v2/{name}/manifests/{tag}", data=raw, headers={"Content-Type": media})
        assert status == 201, body
        return raw, headers


@pytest.fixture
def reg(tmp_path):
    r = Reg(str(tmp_path / "registry"))
    yield r
    r.close()


def test_base_and_unknown_routes(reg):
    status, headers, body = reg.req("GET", "/v2/")
    assert status == 200 and headers["Docker-Distribution-API-Version"] == "registry/2.0" and json.loads(body) == {}
    status, _, body = reg.req("GET", "/v2/nope/whatever")
    assert status == 404 and reg.code(body) in ("NAME_UNKNOWN", "UNSUPPORTED")


def test_push_pull_by_tag_and_digest_and_layout(reg):
    raw, headers = reg.push_image("team/app", "v1")
    d = sha(raw)
    assert headers["Docker-Content-Digest"] == d and headers["Location"] == f"/v2/team/app/manifests/{d}"
    for ref in ("v1", d):
        status, h, body = reg.req("GET", f"/v2/team/app/manifests/{ref}", headers={"Accept": DOCKER_MANIFEST})
        assert status == 200 and body == raw and h["Content-Type"] == DOCKER_MANIFEST and h["Docker-Content-Digest"] == d
    status, h, body = reg.req("HEAD", "/v2/team/app/manifests/v1")
    assert status == 200 and body == b"" and int(h["Content-Length"]) == len(raw)
    # Distribution's layout, byte for byte where it matters
    base = os.path.join(reg.root, "docker/registry/v2")
    assert open(os.path.join(base, "repositories/team/app/_manifests/tags/v1/current/link")).read() == d
    assert os.path.isfile(os.path.join(base, "blobs/sha256", d[7:9], d[7:], "data"))
    layer = sha(b"layer-one")
    assert open(os.path.join(base, "repositories/team/app/_layers/sha256", layer[7:], "link")).read() == layer


def test_blob_get_head_range(reg):
    d = reg.push_blob("r", b"0123456789")
    status, h, body = reg.req("GET", f"/v2/r/blobs/{d}")
    assert status == 200 and body == b"0123456789" and h["Docker-Content-Digest"] == d
    status, h, body = reg.req("HEAD", f"/v2/r/blobs/{d}")
    assert status == 200 and body == b"" and h["Content-Length"] == "10"
    status, h, body = reg.req("GET", f"/v2/r/blobs/{d}", headers={"Range": "bytes=2-4"})
    assert status == 206 and body == b"234"
    status, _, _ = reg.req("GET", f"/v2/r/blobs/{d}", headers={"Range": "bytes=50-60"})
    assert status == 416


def test_blob_errors(reg):
    status, _, body = reg.req("GET", "/v2/r/blobs/sha256:" + "0" * 64)
    assert status == 404 and reg.code(body) == "BLOB_UNKNOWN"
    for bad in ("sha256:xyz", "md5:abc", "sha256:" + "A" * 64, "nocolon"):
        status, _, body = reg.req("GET", f"/v2/r/blobs/{bad}")
        assert status == 400 and reg.code(body) == "DIGEST_INVALID", bad
    status, _, body = reg.req("GET", "/v2/UPPER/blobs/sha256:" + "0" * 64)
    assert status == 400 and reg.code(body) == "NAME_INVALID"


def test_blob_visible_only_through_linking_repository(reg):
    d = reg.push_blob("one", b"secret-ish")
    status, _, body = reg.req("GET", f"/v2/two/blobs/{d}")
    assert status == 404 and reg.code(body) == "BLOB_UNKNOWN"


def test_chunked_upload_with_status_and_out_of_order(reg):
    status, h, _ = reg.req("POST", "/v2/c/blobs/uploads/")
    assert status == 202 and h["Range"] == "0-0"
    location = h["Location"]
    status, h, _ = reg.req("PATCH", location, data=b"hello ", headers={"Content-Range": "0-5"})
    assert status == 202 and h["Range"] == "0-5"
    status, h, body = reg.req("PATCH", location, data=b"zzz", headers={"Content-Range": "10-12"})
    assert status == 416 and h["Range"] == "0-5" and reg.code(body) == "RANGE_INVALID"
    status, h, _ = reg.req("GET", location)
    assert status == 204 and h["Range"] == "0-5"
    d = sha(b"hello world")
    status, h, _ = reg.req("PUT", f"{location}?digest={d}", data=b"world")
    assert status == 201 and h["Docker-Content-Digest"] == d
    assert reg.req("GET", f"/v2/c/blobs/{d}")[2] == b"hello world"
    status, _, body = reg.req("GET", location)
    assert status == 404 and reg.code(body) == "BLOB_UPLOAD_UNKNOWN"


def test_digest_mismatch_stores_nothing(reg):
    status, h, _ = reg.req("POST", "/v2/m/blobs/uploads/")
    location = h["Location"]
    wrong = sha(b"something else")
    status, _, body = reg.req("PUT", f"{location}?digest={wrong}", data=b"actual bytes")
    assert status == 400 and reg.code(body) == "DIGEST_INVALID"
    blobs = os.path.join(reg.root, "docker/registry/v2/blobs")
    assert not os.path.exists(blobs) or not any(files for _, _, files in os.walk(blobs))
    status, _, body = reg.req("POST", f"/v2/m/blobs/uploads/?digest={wrong}", data=b"actual bytes")
    assert status == 400 and reg.code(body) == "DIGEST_INVALID"
    assert not os.path.exists(os.path.join(reg.root, "docker/registry/v2/repositories/m/_layers"))
    uploads = os.path.join(reg.root, "docker/registry/v2/repositories/m/_uploads")
    assert not os.path.exists(uploads) or os.listdir(uploads) == []


def test_upload_resumes_after_restart(tmp_path):
    root = str(tmp_path / "r")
    first = Reg(root)
    _, h, _ = first.req("POST", "/v2/res/blobs/uploads/")
    location = h["Location"]
    first.req("PATCH", location, data=b"part one,")
    first.close()
    second = Reg(root)
    try:
        status, h, _ = second.req("GET", location)
        assert status == 204 and h["Range"] == "0-8"
        d = sha(b"part one,part two")
        status, _, _ = second.req("PUT", f"{location}?digest={d}", data=b"part two", headers={"Content-Range": "9-16"})
        assert status == 201
    finally:
        second.close()


def test_cancel_upload(reg):
    _, h, _ = reg.req("POST", "/v2/x/blobs/uploads/")
    assert reg.req("DELETE", h["Location"])[0] == 204
    assert reg.req("GET", h["Location"])[0] == 404


def test_sha512_blobs_and_manifests(reg):
    data = b"sha512 content"
    d = sha(data, "sha512")
    status, h, _ = reg.req("POST", f"/v2/s/blobs/uploads/?digest={d}", data=data)
    assert status == 201 and h["Docker-Content-Digest"] == d
    assert reg.req("GET", f"/v2/s/blobs/{d}")[2] == data
    raw, _ = reg.push_image("s", "v1")
    d512 = sha(raw, "sha512")
    status, h, _ = reg.req("PUT", f"/v2/s/manifests/{d512}", data=raw, headers={"Content-Type": DOCKER_MANIFEST})
    assert status == 201 and h["Docker-Content-Digest"] == d512
    assert reg.req("GET", f"/v2/s/manifests/{d512}")[2] == raw


def test_cross_repository_mount(reg):
    d = reg.push_blob("src/repo", b"shared layer")
    status, h, _ = reg.req("POST", f"/v2/dst/repo/blobs/uploads/?mount={d}&from=src/repo")
    assert status == 201 and h["Location"] == f"/v2/dst/repo/blobs/{d}"
    # unknown source: an ordinary upload starts instead
    status, h, _ = reg.req("POST", f"/v2/dst/repo/blobs/uploads/?mount={sha(b'nothing')}&from=src/repo")
    assert status == 202 and "/blobs/uploads/" in h["Location"]


def test_manifest_validation(reg):
    cd = reg.push_blob("v", b"{}")
    missing = "sha256:" + "1" * 64
    doc = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": {"mediaType": "x", "digest": cd, "size": 2}, "layers": [{"mediaType": "y", "digest": missing, "size": 1}]}
    status, _, body = reg.req("PUT", "/v2/v/manifests/t", data=json.dumps(doc).encode(), headers={"Content-Type": DOCKER_MANIFEST})
    assert status == 400 and reg.code(body) == "MANIFEST_BLOB_UNKNOWN"
    # manifest confusion: both layers and manifests
    doc = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"mediaType": "x", "digest": cd, "size": 2}, "layers": [], "manifests": []}
    status, _, body = reg.req("PUT", "/v2/v/manifests/t", data=json.dumps(doc).encode(), headers={"Content-Type": OCI_MANIFEST})
    assert status == 400 and reg.code(body) == "MANIFEST_INVALID"
    # Content-Type and mediaType disagree
    doc = {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": {"mediaType": "x", "digest": cd, "size": 2}, "layers": []}
    status, _, body = reg.req("PUT", "/v2/v/manifests/t", data=json.dumps(doc).encode(), headers={"Content-Type": OCI_MANIFEST})
    assert status == 400 and reg.code(body) == "MANIFEST_INVALID"
    status, _, body = reg.req("PUT", "/v2/v/manifests/t", data=b"not json", headers={"Content-Type": OCI_MANIFEST})
    assert status == 400 and reg.code(body) == "MANIFEST_INVALID"
    status, _, body = reg.req("PUT", "/v2/v/manifests/bad:tag:x", data=b"{}")
    assert status == 400 and reg.code(body) == "DIGEST_INVALID"
    status, _, body = reg.req("PUT", "/v2/v/manifests/-bad", data=b"{}")
    assert status == 400 and reg.code(body) == "TAG_INVALID"
    raw = json.dumps({"schemaVersion": 2, "mediaType": DOCKER_MANIFEST, "config": {"mediaType": "x", "digest": cd, "size": 2}, "layers": []}).encode()
    status, _, body = reg.req("PUT", f"/v2/v/manifests/{sha(b'other')}", data=raw, headers={"Content-Type": DOCKER_MANIFEST})
    assert status == 400 and reg.code(body) == "DIGEST_INVALID"
    status, _, body = reg.req("PUT", "/v2/v/manifests/big", data=b" " * (5 << 20), headers={"Content-Type": OCI_MANIFEST})
    assert status == 413 and reg.code(body) == "SIZE_INVALID"


def test_index_requires_its_manifests_and_negotiates(reg):
    raw, _ = reg.push_image("idx", "amd64")
    child = {"mediaType": DOCKER_MANIFEST, "digest": sha(raw), "size": len(raw), "platform": {"architecture": "amd64", "os": "linux"}}
    index = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [child]}).encode()
    status, _, _ = reg.req("PUT", "/v2/idx/manifests/multi", data=index, headers={"Content-Type": OCI_INDEX})
    assert status == 201
    bad = json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{**child, "digest": "sha256:" + "2" * 64}]}).encode()
    status, _, body = reg.req("PUT", "/v2/idx/manifests/broken", data=bad, headers={"Content-Type": OCI_INDEX})
    assert status == 400 and reg.code(body) == "MANIFEST_BLOB_UNKNOWN"  # the spec's code for a missing child
    # a client that cannot read indexes gets the linux/amd64 image
    status, h, body = reg.req("GET", "/v2/idx/manifests/multi", headers={"Accept": DOCKER_MANIFEST})
    assert status == 200 and body == raw and h["Content-Type"] == DOCKER_MANIFEST
    status, h, body = reg.req("GET", "/v2/idx/manifests/multi", headers={"Accept": f"{OCI_INDEX}, {DOCKER_MANIFEST}"})
    assert body == index and h["Content-Type"] == OCI_INDEX


def test_manifest_unknown_and_name_unknown(reg):
    status, _, body = reg.req("GET", "/v2/ghost/manifests/latest")
    assert status == 404 and reg.code(body) == "NAME_UNKNOWN"
    reg.push_image("real", "v1")
    status, _, body = reg.req("GET", "/v2/real/manifests/nope")
    assert status == 404 and reg.code(body) == "MANIFEST_UNKNOWN"
    status, _, body = reg.req("GET", "/v2/ghost/tags/list")
    assert status == 404 and reg.code(body) == "NAME_UNKNOWN"


def test_tags_and_catalog_pagination(reg):
    for tag in ("a", "b", "c", "d"):
        reg.push_image("pg/one", tag)
    reg.push_image("pg/two", "x")
    status, h, body = reg.req("GET", "/v2/pg/one/tags/list?n=2")
    assert json.loads(body)["tags"] == ["a", "b"] and h["Link"] == '</v2/pg/one/tags/list?n=2&last=b>; rel="next"'
    status, h, body = reg.req("GET", "/v2/pg/one/tags/list?n=2&last=b")
    assert json.loads(body)["tags"] == ["c", "d"] and "Link" not in h
    assert json.loads(reg.req("GET", "/v2/pg/one/tags/list")[2])["tags"] == ["a", "b", "c", "d"]
    status, _, body = reg.req("GET", "/v2/pg/one/tags/list?n=-1")
    assert status == 400 and reg.code(body) == "PAGINATION_NUMBER_INVALID"
    status, h, body = reg.req("GET", "/v2/_catalog?n=1")
    assert json.loads(body)["repositories"] == ["pg/one"] and "last=pg%2Fone" in h["Link"]
    assert json.loads(reg.req("GET", "/v2/_catalog?n=5&last=pg/one")[2])["repositories"] == ["pg/two"]


def test_referrers_and_subject_header(reg):
    raw, _ = reg.push_image("ref", "v1", media=OCI_MANIFEST)
    subject = {"mediaType": OCI_MANIFEST, "digest": sha(raw), "size": len(raw)}
    empty = reg.push_blob("ref", b"{}")
    sig = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "artifactType": "application/vnd.example.sig", "config": {"mediaType": "application/vnd.oci.empty.v1+json", "digest": empty, "size": 2}, "layers": [], "subject": subject, "annotations": {"k": "v"}}).encode()
    status, h, _ = reg.req("PUT", f"/v2/ref/manifests/{sha(sig)}", data=sig, headers={"Content-Type": OCI_MANIFEST})
    assert status == 201 and h["OCI-Subject"] == sha(raw)
    status, h, body = reg.req("GET", f"/v2/ref/referrers/{sha(raw)}")
    doc = json.loads(body)
    assert status == 200 and h["Content-Type"].startswith(OCI_INDEX)
    assert doc["manifests"] == [{"mediaType": OCI_MANIFEST, "digest": sha(sig), "size": len(sig), "artifactType": "application/vnd.example.sig", "annotations": {"k": "v"}}]
    status, h, body = reg.req("GET", f"/v2/ref/referrers/{sha(raw)}?artifactType=application/other")
    assert json.loads(body)["manifests"] == [] and h["OCI-Filters-Applied"] == "artifactType"
    status, _, body = reg.req("GET", f"/v2/ref/referrers/{sha(b'unknown')}")
    assert status == 200 and json.loads(body)["manifests"] == []
    assert reg.req("GET", "/v2/ref/referrers/sha256:zz")[0] == 400


def test_deletes(reg):
    raw, _ = reg.push_image("del", "v1")
    reg.push_image("del", "v2", layers=(b"other",))
    d = sha(raw)
    assert reg.req("DELETE", f"/v2/del/manifests/{d}")[0] == 202
    assert reg.req("GET", "/v2/del/manifests/v1")[0] == 404
    assert reg.req("DELETE", f"/v2/del/manifests/{d}")[0] == 404
    assert reg.req("DELETE", "/v2/del/manifests/v2")[0] == 202  # OCI 1.1: delete a tag
    assert json.loads(reg.req("GET", "/v2/del/tags/list")[2])["tags"] == []
    layer = sha(b"layer-one")
    assert reg.req("DELETE", f"/v2/del/blobs/{layer}")[0] == 202
    assert reg.req("GET", f"/v2/del/blobs/{layer}")[0] == 404


def test_delete_disabled_and_read_only(tmp_path):
    reg = Reg(str(tmp_path / "a"), delete_enabled=False)
    try:
        raw, _ = reg.push_image("p", "v1")
        status, _, body = reg.req("DELETE", f"/v2/p/manifests/{sha(raw)}")
        assert status == 405 and reg.code(body) == "UNSUPPORTED"
    finally:
        reg.close()
    ro = Reg(str(tmp_path / "a"), read_only=True)
    try:
        assert ro.req("GET", "/v2/p/manifests/v1")[0] == 200
        status, _, body = ro.req("POST", "/v2/p/blobs/uploads/")
        assert status == 405 and ro.code(body) == "UNSUPPORTED"
    finally:
        ro.close()


def _age(root: str) -> None:
    """Make everything stored look untouched for years (as a long-idle registry's files)."""
    for dirpath, _, files in os.walk(os.path.join(root, "docker/registry/v2")):
        for f in files:
            os.utime(os.path.join(dirpath, f), (1_000_000_000, 1_000_000_000))


def test_gc_sweeps_unreferenced_and_keeps_recent(tmp_path):
    root = str(tmp_path / "g")
    reg = Reg(root)
    try:
        raw, _ = reg.push_image("g", "v1")
        old = reg.push_blob("g", b"old orphan")
        _age(root)
        orphan = reg.push_blob("h", b"orphan blob")
    finally:
        reg.close()
    data = os.path.join(root, "docker/registry/v2/blobs/sha256", old[7:9], old[7:], "data")
    report = collect(root, grace=60)
    # the fresh orphan could belong to a push in flight: kept; the old one goes
    assert [str(d) for d in report.swept] == [old] and report.active_repositories == ["h"]
    assert not os.path.exists(data)
    reg = Reg(root)
    try:
        assert reg.req("GET", "/v2/g/manifests/v1")[2] == raw
        assert reg.req("GET", f"/v2/h/blobs/{orphan}")[0] == 200
        assert reg.req("GET", f"/v2/g/blobs/{sha(b'layer-one')}")[0] == 200
    finally:
        reg.close()


def test_gc_delete_untagged(tmp_path):
    root = str(tmp_path / "u")
    reg = Reg(root)
    try:
        first, _ = reg.push_image("u", "v1", layers=(b"first",))
        reg.push_image("u", "v1", layers=(b"second",))  # v1 moves: the first manifest is untagged
    finally:
        reg.close()
    _age(root)
    dry = collect(root, dry_run=True, delete_untagged=True)
    assert [str(d) for _, d in dry.manifests_deleted] == [sha(first)]
    report = collect(root, delete_untagged=True)
    assert sorted(str(d) for d in report.swept) == sorted([sha(first), sha(b"first")])


def test_config_file_and_environment(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text("version: 0.1\nhttp:\n  addr: 127.0.0.1:5999\nstorage:\n  filesystem:\n    rootdirectory: data\n  delete:\n    enabled: true\n")
    config = load_config(str(path), env={})
    assert config.addr == "127.0.0.1:5999" and config.root == str(tmp_path / "data") and config.delete_enabled
    config = load_config(str(path), env={"REGISTRY_HTTP_ADDR": ":6000", "REGISTRY_STORAGE_MAINTENANCE_READONLY_ENABLED": "true"})
    assert config.host_port == ("0.0.0.0", 6000) and config.read_only
    path.write_text("http: [unclosed\n")
    with pytest.raises(Exception, match="invalid registry configuration"):
        load_config(str(path), env={})


def test_storage_driver_configuration(tmp_path):
    path = tmp_path / "config.yml"
    path.write_text(
        "storage:\n  s3: {bucket: b, region: eu-west-1, regionendpoint: 'http://127.0.0.1:9000', chunksize: 5242880}\n"
        "  redirect: {disable: true}\n  cache: {blobdescriptor: inmemory}\n"
        "  maintenance: {gc: {enabled: true, interval: 10m, grace: 2h}}\nhttp: {addr: ':5000', debug: {addr: '127.0.0.1:5001'}}\n"
    )
    config = load_config(str(path), env={})
    assert config.storage_driver == "s3" and config.storage_params["bucket"] == "b"
    assert not config.redirect and config.blobdescriptor_cache == "inmemory" and config.debug_addr == "127.0.0.1:5001"
    assert (config.gc_interval, config.gc_grace) == (600.0, 7200.0)
    # REGISTRY_STORAGE switches the driver; REGISTRY_STORAGE_S3_* fill its section
    env = {"REGISTRY_STORAGE": "s3", "REGISTRY_STORAGE_S3_BUCKET": "from-env", "REGISTRY_STORAGE_S3_SECURE": "false"}
    config = load_config(None, env=env)
    assert config.storage_driver == "s3" and config.storage_params == {"bucket": "from-env", "secure": False}
    path.write_text("storage:\n  filesystem: {rootdirectory: /x}\n  s3: {bucket: b}\n")
    with pytest.raises(Exception, match="one driver"):
        load_config(str(path), env={})
    path.write_text("storage:\n  azure: {accountname: x}\n")
    with pytest.raises(Exception, match="not supported"):
        load_config(str(path), env={})
    from lamina.registry.server.storage.s3 import S3Params

    with pytest.raises(Exception, match="chunksize must be at least"):
        S3Params({"bucket": "b", "chunksize": 1024})
    params = S3Params({"bucket": "b", "regionendpoint": "minio:9000", "secure": "false"})
    assert params.endpoint_url() == "http://minio:9000" and params.forcepathstyle


def test_in_memory_blob_descriptor_cache():
    from lamina.digest import Digest
    from lamina.registry.server.cache import InMemoryCache

    cache = InMemoryCache(capacity=2)
    a, b, c = (Digest.parse(sha(x)) for x in (b"a", b"b", b"c"))
    cache.remember("r", a, 1)
    cache.remember("r", b, 2)
    assert cache.repo_size("r", a) == 1 and cache.size(a) == 1 and cache.repo_size("other", a) is None
    cache.remember("r", c, 3)  # the least recently used (b) goes
    assert cache.size(b) is None and cache.repo_size("r", b) is None and cache.size(a) == 1
    cache.forget(a, "r")
    assert cache.repo_size("r", a) is None and cache.size(a) == 1
    cache.forget(c)
    assert cache.size(c) is None and cache.repo_size("r", c) is None
