"""The distribution spec's conformance cases and hostile requests, one test per behaviour.

The OCI conformance suite is Go and cannot be fetched here; these are its cases that lamina
failed, and the probes an attacker tries, written against the in-process server.
"""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from test_registry_api import OCI_INDEX, OCI_MANIFEST, Reg, sha

from lamina.errors import InvalidReference
from lamina.reference import is_valid_tag, parse

NONDIST = [
    "application/vnd.oci.image.layer.nondistributable.v1.tar",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip",
    "application/vnd.oci.image.layer.nondistributable.v1.tar+zstd",
    "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip",
]


@pytest.fixture
def reg(tmp_path):
    r = Reg(str(tmp_path / "registry"))
    yield r
    r.close()


def _manifest(reg: Reg, name: str, layers: list[dict]) -> bytes:
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    cd = reg.push_blob(name, config)
    doc = {
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": len(config)},
        "layers": layers,
    }
    return json.dumps(doc).encode()


@pytest.mark.parametrize("media_type", NONDIST)
def test_nondistributable_layers_accepted_without_their_blobs(reg, media_type):
    absent = b"licensed content never pushed"
    layer = {"mediaType": media_type, "digest": sha(absent), "size": len(absent)}
    if media_type.startswith("application/vnd.docker"):
        layer["urls"] = ["https://example.invalid/layer"]
    raw = _manifest(reg, "nd", [layer])
    status, headers, body = reg.req("PUT", "/v2/nd/manifests/v1", data=raw, headers={"Content-Type": OCI_MANIFEST})
    assert status == 201, body
    d = headers["Docker-Content-Digest"]
    for method in ("GET", "HEAD"):
        for ref in ("v1", d):
            status, headers, body = reg.req(method, f"/v2/nd/manifests/{ref}", headers={"Accept": OCI_MANIFEST})
            assert status == 200 and headers["Docker-Content-Digest"] == d
            if method == "GET":
                assert body == raw
    status, _, body = reg.req("GET", "/v2/nd/tags/list")
    assert status == 200 and json.loads(body)["tags"] == ["v1"]
    # the blob itself stays unknown, and a distributable layer still needs its blob
    status, _, _ = reg.req("GET", f"/v2/nd/blobs/{sha(absent)}")
    assert status == 404
    layer["mediaType"] = "application/vnd.oci.image.layer.v1.tar+gzip"
    raw = _manifest(reg, "nd", [layer])
    status, _, body = reg.req("PUT", "/v2/nd/manifests/v2", data=raw, headers={"Content-Type": OCI_MANIFEST})
    assert status == 400 and reg.code(body) == "MANIFEST_BLOB_UNKNOWN"


def test_json_answers_carry_exactly_their_media_type(reg):
    raw, headers = reg.push_image("ct", "v1", media=OCI_MANIFEST)
    subject = headers["Docker-Content-Digest"]
    status, headers, body = reg.req("GET", f"/v2/ct/referrers/{subject}")
    assert status == 200 and headers["Content-Type"] == OCI_INDEX
    assert json.loads(body) == {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    # the same rule on the other JSON routes: no charset parameter anywhere
    for path in ("/v2/", "/v2/_catalog", "/v2/ct/tags/list", "/v2/ct/manifests/nope"):
        status, headers, _ = reg.req("GET", path)
        assert headers["Content-Type"] == "application/json", (path, headers["Content-Type"])
    status, headers, _ = reg.req("GET", "/v2/ct/manifests/v1", headers={"Accept": OCI_MANIFEST})
    assert headers["Content-Type"] == OCI_MANIFEST


@pytest.mark.parametrize(
    "body",
    [
        b"[" * 10000,
        b'{"a":' * 10000,
        b'{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":[],"layers":{}}',
        b'{"schemaVersion":2,"manifests":"nope"}',
        b'{"schemaVersion":2,"layers":[1,2,3],"config":{"digest":7}}',
        b"\xff\xfe not utf-8",
        b"null",
        b"",
    ],
    ids=["nested-arrays", "nested-objects", "wrong-types", "manifests-string", "layer-ints", "bad-utf8", "null", "empty"],
)
def test_any_unparseable_manifest_is_manifest_invalid(reg, body, caplog):
    caplog.set_level(logging.INFO)
    for content_type in (OCI_MANIFEST, OCI_INDEX, "application/octet-stream"):
        status, headers, answer = reg.req("PUT", "/v2/hostile/manifests/v1", data=body, headers={"Content-Type": content_type})
        assert status == 400, answer
        assert headers["Content-Type"] == "application/json"
        assert reg.code(answer) == "MANIFEST_INVALID"
    assert "Traceback" not in caplog.text and "RecursionError" not in caplog.text


@pytest.mark.parametrize("tag", ["é", "v1é", "١٢٣", "a" * 127 + "é", "é" * 128, "-lead", ".lead", "a" * 129])
def test_tags_are_ascii_only_on_every_route(reg, tag):
    raw, _ = reg.push_image("tags", "ok")
    status, _, body = reg.req("PUT", f"/v2/tags/manifests/{tag}", data=raw, headers={"Content-Type": "application/vnd.docker.distribution.manifest.v2+json"})
    assert status == 400 and reg.code(body) == "TAG_INVALID"
    for method in ("GET", "HEAD", "DELETE"):
        status, _, _ = reg.req(method, f"/v2/tags/manifests/{tag}")
        assert status == 400
    status, _, body = reg.req("GET", "/v2/tags/tags/list")
    assert json.loads(body)["tags"] == ["ok"]


def test_one_tag_grammar_for_cli_and_server():
    assert is_valid_tag("v1.0_rc-2") and is_valid_tag("_x") and is_valid_tag("a" * 128)
    for bad in ("é", "١", "a" * 129, ".x", "-x", ""):
        assert not is_valid_tag(bad)
    with pytest.raises(InvalidReference, match="invalid reference format"):
        parse("bb:é")
    with pytest.raises(InvalidReference, match="invalid reference format"):
        parse("bb:١٢٣")
    assert parse("bb:v1").tag == "v1"


def test_index_with_unknown_children_is_manifest_blob_unknown(reg):
    missing = sha(b"a child that was never pushed")
    doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [{"mediaType": OCI_MANIFEST, "digest": missing, "size": 10}]}
    status, _, body = reg.req("PUT", "/v2/idx/manifests/v1", data=json.dumps(doc).encode(), headers={"Content-Type": OCI_INDEX})
    assert status == 400
    err = json.loads(body)["errors"][0]
    assert err["code"] == "MANIFEST_BLOB_UNKNOWN" and err["detail"] == {"digest": missing}


def test_client_dropping_mid_upload_logs_one_line(tmp_path, caplog):
    """Served the way ``lamina registry serve`` serves (handlers are not cancelled when the
    peer goes), a cut PATCH is one warning line and keeps what arrived for a resume."""
    from aiohttp import ClientSession, web

    from lamina.registry.server.app import make_app
    from lamina.registry.server.config import RegistryConfig

    caplog.set_level(logging.DEBUG)

    async def scenario() -> tuple[int, str]:
        runner = web.AppRunner(make_app(RegistryConfig(root=str(tmp_path / "r"))))
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]
        try:
            async with ClientSession() as http:
                async with http.post(f"http://127.0.0.1:{port}/v2/drop/blobs/uploads/") as resp:
                    location = resp.headers["Location"]
                reader, writer = await asyncio.open_connection("127.0.0.1", port)
                writer.write(f"PATCH {location} HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n".encode() + b"x" * 200_000)
                await writer.drain()
                await asyncio.sleep(0.3)
                writer.transport.abort()
                await asyncio.sleep(0.3)
                async with http.get(f"http://127.0.0.1:{port}{location}") as resp:
                    return resp.status, resp.headers["Range"]
        finally:
            await runner.cleanup()

    status, kept_range = asyncio.run(scenario())
    assert "Traceback" not in caplog.text
    lines = [r for r in caplog.records if "closed the connection" in r.getMessage()]
    assert len(lines) == 1 and lines[0].exc_info is None
    # what arrived is kept and the client can resume from the Range the server reports
    assert status == 204
    kept = int(kept_range.split("-")[1]) + 1
    assert 0 < kept <= 200_000
