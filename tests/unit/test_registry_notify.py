"""Notifications: Distribution's event envelopes with a durable queue, and Docker Hub-style
webhook chains (seed 002), against real local HTTP endpoints."""

from __future__ import annotations

import asyncio
import hashlib
import json
import os

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from lamina.registry.server.app import make_app
from lamina.registry.server.config import RegistryConfig
from lamina.registry.server.notify import RequestInfo, notifier_from_config

MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


async def _push(client: TestClient, name: str, tag: str) -> str:
    config = b'{"rootfs":{"type":"layers","diff_ids":[]}}'
    d = "sha256:" + hashlib.sha256(config).hexdigest()
    resp = await client.post(f"/v2/{name}/blobs/uploads/?digest={d}", data=config)
    assert resp.status == 201
    raw = json.dumps({"schemaVersion": 2, "mediaType": MANIFEST, "config": {"mediaType": "x", "digest": d, "size": len(config)}, "layers": []}).encode()
    resp = await client.put(f"/v2/{name}/manifests/{tag}", data=raw, headers={"Content-Type": MANIFEST})
    assert resp.status == 201
    return "sha256:" + hashlib.sha256(raw).hexdigest()


async def _wait(predicate, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "timed out"
        await asyncio.sleep(0.02)


def test_events_are_queued_on_disk_and_delivered_after_the_endpoint_recovers(tmp_path):
    async def scenario():
        received = []
        healthy = {"ok": False}

        async def hook(request: web.Request) -> web.Response:
            if not healthy["ok"]:
                return web.Response(status=503)
            received.append((request.headers["Content-Type"], await request.json()))
            return web.Response(status=200)

        endpoint_app = web.Application()
        endpoint_app.router.add_post("/events", hook)
        endpoint = TestServer(endpoint_app)
        await endpoint.start_server()
        section = {"endpoints": [{"name": "ci", "url": str(endpoint.make_url("/events")), "backoff": "50ms", "threshold": 2, "ignore": {"actions": ["pull"]}}]}
        state = str(tmp_path / "state")
        notifier = notifier_from_config(section, state_dir=state, source={"addr": "test"})
        await notifier.start()
        info = RequestInfo("r1", "127.0.0.1", "registry.test", "PUT", "pytest")
        notifier.publish("push", repository="a/b", media_type=MANIFEST, digest="sha256:" + "1" * 64, size=10, url="u", tag="v1", request=info, actor="alice")
        notifier.publish("pull", repository="a/b", media_type=MANIFEST, digest="sha256:" + "1" * 64, size=10, url="u", tag=None, request=info, actor=None)
        await asyncio.sleep(0.3)
        assert received == [] and len(notifier.pending(notifier.endpoints[0])) == 1  # on disk, retrying
        await notifier.close()  # a restart: the queue survives
        notifier = notifier_from_config(section, state_dir=state, source={"addr": "test"})
        healthy["ok"] = True
        await notifier.start()
        await _wait(lambda: received)
        await notifier.close()
        await endpoint.close()
        content_type, envelope = received[0]
        assert content_type == "application/vnd.docker.distribution.events.v1+json"
        event = envelope["events"][0]
        assert event["action"] == "push" and event["target"]["tag"] == "v1" and event["actor"] == {"name": "alice"}
        assert event["target"]["repository"] == "a/b" and event["request"]["useragent"] == "pytest"
        assert len(received) == 1  # the pull was ignored by configuration
        assert notifier.pending(notifier.endpoints[0]) == []

    asyncio.run(scenario())


def test_webhook_chain_stops_at_the_first_failed_state(tmp_path):
    async def scenario():
        calls: list[tuple[str, dict]] = []
        states = {"a": "success", "b": "failure", "c": "success"}
        http = {}

        async def service(request: web.Request) -> web.Response:
            which = request.match_info["which"]
            payload = await request.json()
            calls.append((which, payload))
            # report back asynchronously, as a real CI would
            async def report():
                await http["session"].post(payload["callback_url"], json={"state": states[which], "description": which})
            asyncio.get_running_loop().create_task(report())
            return web.Response(status=200)

        hooks_app = web.Application()
        hooks_app.router.add_post("/{which}", service)
        hooks = TestServer(hooks_app)
        await hooks.start_server()
        config = RegistryConfig(root=str(tmp_path / "reg"), delete_enabled=True)
        section = {"webhooks": [{"name": "chain", "urls": [str(hooks.make_url(f"/{w}")) for w in "abc"], "repository": "team/*"}]}
        notifier = notifier_from_config(section, state_dir=config.root, source={})
        client = TestClient(TestServer(make_app(config, notifier=notifier)))
        await client.start_server()
        import aiohttp

        http["session"] = aiohttp.ClientSession()
        # the callback URL names the registry's own host: point it at the test server
        digest = await _push(client, "team/app", "v1")
        await _wait(lambda: len(calls) >= 2)
        await asyncio.sleep(0.3)
        assert [c[0] for c in calls] == ["a", "b"]  # b failed: c is never called
        payload = calls[0][1]
        assert payload["push_data"]["tag"] == "v1" and payload["push_data"]["images"] == [digest]
        assert payload["repository"]["repo_name"] == "team/app" and payload["repository"]["namespace"] == "team"
        assert "/_lamina/webhooks/callback/" in payload["callback_url"]
        resp = await client.post("/_lamina/webhooks/callback/" + "0" * 32, json={"state": "success"})
        assert resp.status == 404
        await _push(client, "other/app", "v1")  # outside the webhook's repository glob
        await asyncio.sleep(0.3)
        assert len(calls) == 2
        await http["session"].close()
        await client.close()
        await hooks.close()
        assert os.listdir(os.path.join(config.root, "lamina-notifications", "_webhook-chains")) == []

    asyncio.run(scenario())
