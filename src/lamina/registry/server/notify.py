"""Webhook notifications (Distribution's ``notifications.endpoints``), with an on-disk queue.

On push, pull, mount and delete the server publishes an event; each endpoint gets its own
queue directory of one-file-per-event (written atomically), and a background task POSTs them
in order as Distribution's envelope (``application/vnd.docker.distribution.events.v1+json``).
A 2xx or 3xx answer removes the event; anything else is retried, pausing ``backoff`` after
``threshold`` failures in a row. Events survive a restart: the queue is read back at start.
Publishing never blocks a request and never fails one.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
import secrets
import time
import uuid as uuidlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...errors import InvalidArgument

__all__ = ["RequestInfo", "Notifier", "Endpoint", "Webhook", "notifier_from_config", "ENVELOPE_TYPE", "CALLBACK_PATH"]

#: where a webhook chain's services report back (seed 002: "make a callback POST … with a state")
CALLBACK_PATH = "/_lamina/webhooks/callback/{chain}"

ENVELOPE_TYPE = "application/vnd.docker.distribution.events.v1+json"
log = logging.getLogger("lamina.registry.notify")


@dataclass(frozen=True)
class RequestInfo:
    id: str
    addr: str
    host: str
    method: str
    useragent: str


def parse_duration(value: Any, default: float) -> float:
    """Go durations as Distribution's config writes them: ``500ms``, ``1s``, ``2m``; or seconds."""
    if value is None:
        return default
    if isinstance(value, (int, float)):
        return float(value)
    total = 0.0
    matched = False
    for number, unit in re.findall(r"(\d+(?:\.\d+)?)(ns|us|µs|ms|s|m|h)", str(value)):
        matched = True
        total += float(number) * {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}[unit]
    if not matched:
        raise InvalidArgument(f"invalid duration {value!r} in notifications (use e.g. 500ms, 1s)")
    return total


@dataclass
class Endpoint:
    name: str
    url: str
    headers: dict[str, list[str]] = field(default_factory=dict)
    timeout: float = 1.0
    threshold: int = 10
    backoff: float = 1.0
    ignored_media_types: frozenset[str] = frozenset()
    ignored_actions: frozenset[str] = frozenset()

    @classmethod
    def from_config(cls, doc: Mapping[str, Any]) -> Endpoint:
        if not doc.get("name") or not doc.get("url"):
            raise InvalidArgument("invalid registry configuration: each notification endpoint needs name and url")
        if not re.fullmatch(r"[A-Za-z0-9._-]+", str(doc["name"])):
            raise InvalidArgument(f"invalid notification endpoint name {doc['name']!r}")
        ignore = doc.get("ignore") or {}
        headers = {k: (v if isinstance(v, list) else [v]) for k, v in (doc.get("headers") or {}).items()}
        return cls(
            name=str(doc["name"]),
            url=str(doc["url"]),
            headers={k: [str(x) for x in v] for k, v in headers.items()},
            timeout=parse_duration(doc.get("timeout"), 1.0),
            threshold=int(doc.get("threshold", 10)),
            backoff=parse_duration(doc.get("backoff"), 1.0),
            ignored_media_types=frozenset(doc.get("ignoredmediatypes") or []) | frozenset(ignore.get("mediatypes") or []),
            ignored_actions=frozenset(ignore.get("actions") or []),
        )


@dataclass
class Webhook:
    """Docker Hub's webhooks (seed 002): on an image push, POST a JSON payload to the first URL
    of the chain; each service calls back with ``{"state": "success"|"failure"|"error"}`` and
    only ``success`` moves the chain on to its next URL."""

    name: str
    urls: list[str]
    repository: str = "*"

    @classmethod
    def from_config(cls, doc: Mapping[str, Any]) -> Webhook:
        urls = doc.get("urls") or ([doc["url"]] if doc.get("url") else [])
        if not doc.get("name") or not urls:
            raise InvalidArgument("invalid registry configuration: each webhook needs name and urls")
        return cls(str(doc["name"]), [str(u) for u in urls], str(doc.get("repository", "*")))


class Notifier:
    def __init__(
        self, endpoints: list[Endpoint], state_dir: str, source: Mapping[str, str], webhooks: list[Webhook] | None = None
    ) -> None:
        self.endpoints = endpoints
        self.webhooks = webhooks or []
        self.state_dir = state_dir
        self.source = dict(source)
        self._wake: dict[str, asyncio.Event] = {}
        self._tasks: list[asyncio.Task] = []
        self._seq = 0
        for endpoint in endpoints:
            os.makedirs(self._queue(endpoint), exist_ok=True)
        self._chains_dir = os.path.join(self.state_dir, "lamina-notifications", "_webhook-chains")
        if self.webhooks:
            os.makedirs(self._chains_dir, exist_ok=True)

    def _queue(self, endpoint: Endpoint) -> str:
        return os.path.join(self.state_dir, "lamina-notifications", endpoint.name)

    async def start(self) -> None:
        import aiohttp

        self._session = aiohttp.ClientSession()
        for endpoint in self.endpoints:
            self._wake[endpoint.name] = asyncio.Event()
            self._wake[endpoint.name].set()  # deliver what a previous run left queued
            self._tasks.append(asyncio.create_task(self._deliver(endpoint)))

    async def close(self) -> None:
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        for task in tasks:
            try:
                await task
            except asyncio.CancelledError:
                pass
        self._tasks.clear()
        session = getattr(self, "_session", None)
        if session is not None:
            await session.close()

    def publish(
        self,
        action: str,
        *,
        repository: str,
        media_type: str,
        digest: str,
        size: int,
        url: str,
        tag: str | None,
        request: RequestInfo,
        actor: str | None,
    ) -> None:
        target = {"mediaType": media_type, "size": size, "digest": digest, "length": size, "repository": repository, "url": url}
        if tag:
            target["tag"] = tag
        event = {
            "id": str(uuidlib.uuid4()),
            "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime()) + f".{int(time.time() * 1e6) % 1_000_000:06d}Z",
            "action": action,
            "target": target,
            "request": {"id": request.id, "addr": request.addr, "host": request.host, "method": request.method, "useragent": request.useragent},
            "actor": {"name": actor} if actor else {},
            "source": self.source,
        }
        if action == "push" and tag and self.webhooks:
            self._start_chains(repository, tag, digest, actor, request)
        for endpoint in self.endpoints:
            if action in endpoint.ignored_actions or media_type in endpoint.ignored_media_types:
                continue
            try:
                self._enqueue(endpoint, event)
            except OSError:
                log.exception("cannot queue a notification for %s", endpoint.name)
                continue
            wake = self._wake.get(endpoint.name)
            if wake is not None:
                wake.set()

    def _enqueue(self, endpoint: Endpoint, event: dict) -> None:
        self._seq += 1
        name = f"{time.time_ns():020d}-{self._seq:08d}-{secrets.token_hex(4)}.json"
        queue = self._queue(endpoint)
        tmp = os.path.join(queue, f".tmp-{name}")
        with open(tmp, "w") as f:
            json.dump(event, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, os.path.join(queue, name))

    def pending(self, endpoint: Endpoint) -> list[str]:
        queue = self._queue(endpoint)
        return sorted(n for n in os.listdir(queue) if n.endswith(".json") and not n.startswith(".tmp-"))

    async def _deliver(self, endpoint: Endpoint) -> None:
        import aiohttp

        failures = 0
        wake = self._wake[endpoint.name]
        headers = [(k, v) for k, values in endpoint.headers.items() for v in values]
        headers.append(("Content-Type", ENVELOPE_TYPE))
        while True:
            await wake.wait()
            wake.clear()
            for name in self.pending(endpoint):
                path = os.path.join(self._queue(endpoint), name)
                try:
                    with open(path) as f:
                        event = json.load(f)
                except (OSError, ValueError):
                    _discard(path)
                    continue
                body = json.dumps({"events": [event]}).encode()
                while True:
                    try:
                        timeout = aiohttp.ClientTimeout(total=endpoint.timeout)
                        async with self._session.post(endpoint.url, data=body, headers=headers, timeout=timeout) as resp:
                            ok = 200 <= resp.status < 400
                    except (TimeoutError, aiohttp.ClientError, OSError):
                        ok = False
                    if ok:
                        failures = 0
                        _discard(path)
                        break
                    failures += 1
                    await asyncio.sleep(endpoint.backoff if failures >= endpoint.threshold else min(0.05 * failures, endpoint.backoff))


    # webhook chains --------------------------------------------------------------------
    def _start_chains(self, repository: str, tag: str, digest: str, actor: str | None, request: RequestInfo) -> None:
        import fnmatch

        namespace, _, name = repository.rpartition("/")
        payload = {
            "push_data": {"images": [digest], "pushed_at": int(time.time()), "pusher": actor or "", "tag": tag},
            "repository": {
                "name": name,
                "namespace": namespace,
                "owner": namespace,
                "repo_name": repository,
                "repo_url": f"http://{request.host}/v2/{repository}/tags/list",
                "status": "Active",
                "is_private": True,
                "date_created": None,
            },
        }
        for hook in self.webhooks:
            if not fnmatch.fnmatchcase(repository, hook.repository):
                continue
            chain = secrets.token_hex(16)
            state = {"webhook": hook.name, "step": 0, "payload": payload, "base": f"http://{request.host}"}
            self._save_chain(chain, state)
            self._spawn(self._call_step(chain, state))

    def _spawn(self, coro) -> None:
        try:
            task = asyncio.get_running_loop().create_task(coro)
        except RuntimeError:
            coro.close()
            return
        self._tasks.append(task)
        task.add_done_callback(lambda t: self._tasks.remove(t) if t in self._tasks else None)

    def _save_chain(self, chain: str, state: dict) -> None:
        tmp = os.path.join(self._chains_dir, f".tmp-{chain}")
        with open(tmp, "w") as f:
            json.dump(state, f)
        os.replace(tmp, os.path.join(self._chains_dir, f"{chain}.json"))

    def _load_chain(self, chain: str) -> dict | None:
        if not re.fullmatch(r"[0-9a-f]{32}", chain):
            return None
        try:
            with open(os.path.join(self._chains_dir, f"{chain}.json")) as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    async def _call_step(self, chain: str, state: dict) -> None:
        import aiohttp

        hook = next((h for h in self.webhooks if h.name == state["webhook"]), None)
        if hook is None or state["step"] >= len(hook.urls):
            _discard(os.path.join(self._chains_dir, f"{chain}.json"))
            return
        body = {"callback_url": state["base"] + CALLBACK_PATH.format(chain=chain), **state["payload"]}
        for attempt in range(5):
            try:
                async with self._session.post(hook.urls[state["step"]], json=body, timeout=aiohttp.ClientTimeout(total=10)) as resp:
                    if 200 <= resp.status < 400:
                        return
            except (TimeoutError, aiohttp.ClientError, OSError):
                pass
            await asyncio.sleep(0.2 * 2**attempt)
        log.warning("webhook %s: %s did not accept the payload; chain stopped", hook.name, hook.urls[state["step"]])
        _discard(os.path.join(self._chains_dir, f"{chain}.json"))

    async def callback(self, chain: str, report: Mapping[str, Any]) -> bool:
        """A chain service reported back; only ``success`` calls the next URL. False if unknown."""
        state = self._load_chain(chain)
        if state is None:
            return False
        path = os.path.join(self._chains_dir, f"{chain}.json")
        if report.get("state") != "success":
            log.info("webhook %s stopped at step %d: state %r", state["webhook"], state["step"], report.get("state"))
            _discard(path)
            return True
        state["step"] += 1
        self._save_chain(chain, state)
        self._spawn(self._call_step(chain, state))
        return True


def _discard(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def notifier_from_config(section: Mapping[str, Any] | None, *, state_dir: str, source: Mapping[str, str]) -> Notifier | None:
    endpoints_doc = (section or {}).get("endpoints") or []
    if not isinstance(endpoints_doc, list):
        raise InvalidArgument("invalid registry configuration: notifications.endpoints must be a list")
    endpoints = [Endpoint.from_config(doc) for doc in endpoints_doc if not doc.get("disabled")]
    webhooks = [Webhook.from_config(doc) for doc in (section or {}).get("webhooks") or []]
    if not endpoints and not webhooks:
        return None
    return Notifier(endpoints, state_dir, source, webhooks)
