"""The debug server (``http.debug.addr``): ``/debug/health`` and Prometheus ``/metrics``.

Distribution serves both on a second listener so that health probes and scrapes never compete
with, or are exposed beside, the API. Health runs the storage driver's check (and redis's when
the blob descriptor cache uses it): 200 ``{}`` when all pass, 503 with each failing check's
message otherwise. Metrics live in a :class:`prometheus_client.CollectorRegistry` of the app's
own (no process-global state): requests by route pattern, method and status, their duration,
bytes in and out, upload and garbage-collection counters.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable

from aiohttp import web

__all__ = ["Metrics", "debug_app", "METRICS"]

log = logging.getLogger("lamina.registry")


class Metrics:
    def __init__(self) -> None:
        from prometheus_client import CollectorRegistry, Counter, Histogram

        self.registry = CollectorRegistry(auto_describe=True)
        ns = "lamina_registry"
        self.requests = Counter(f"{ns}_http_requests", "HTTP requests answered", ["route", "method", "status"], registry=self.registry)
        self.duration = Histogram(
            f"{ns}_http_request_duration_seconds",
            "Time to answer a request",
            ["route", "method"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.bytes_out = Counter(f"{ns}_http_response_bytes", "Bytes sent in response bodies", ["route"], registry=self.registry)
        self.bytes_in = Counter(f"{ns}_http_request_bytes", "Bytes received in request bodies", ["route"], registry=self.registry)
        self.uploads = Counter(f"{ns}_uploads", "Blob uploads ended, by outcome", ["outcome"], registry=self.registry)
        self.upload_bytes = Counter(f"{ns}_upload_bytes", "Bytes of completed blob uploads", registry=self.registry)
        self.gc_runs = Counter(f"{ns}_gc_runs", "Garbage collections run by this instance", registry=self.registry)
        self.gc_blobs = Counter(f"{ns}_gc_blobs_swept", "Blobs deleted by garbage collection", registry=self.registry)
        self.gc_manifests = Counter(f"{ns}_gc_manifests_deleted", "Untagged manifests deleted by garbage collection", registry=self.registry)
        self.gc_kept = Counter(f"{ns}_gc_blobs_kept_recent", "Unreferenced blobs kept because a push touched them lately", registry=self.registry)

    def observe(self, request: web.BaseRequest, response: web.StreamResponse, elapsed: float) -> None:
        route = _route(request)
        method = request.method
        self.requests.labels(route, method, str(response.status)).inc()
        self.duration.labels(route, method).observe(elapsed)
        if response.body_length:
            self.bytes_out.labels(route).inc(response.body_length)
        length = request.content_length
        if length:
            self.bytes_in.labels(route).inc(length)

    def gc_report(self, report) -> None:
        self.gc_runs.inc()
        self.gc_blobs.inc(len(report.swept))
        self.gc_manifests.inc(len(report.manifests_deleted))
        self.gc_kept.inc(report.skipped_recent)

    def render(self) -> tuple[bytes, str]:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return generate_latest(self.registry), CONTENT_TYPE_LATEST


METRICS = web.AppKey("metrics", Metrics)


def _route(request: web.BaseRequest) -> str:
    """The route's pattern (``/v2/{name}/blobs/{digest}``): bounded label values."""
    match = getattr(request, "match_info", None)
    route = getattr(match, "route", None)
    resource = getattr(route, "resource", None)
    return resource.canonical if resource is not None else "other"


def debug_app(metrics: Metrics, checks: dict[str, Callable[[], None]], metrics_path: str = "/metrics") -> web.Application:
    """The debug listener's application: health checks run in threads (they may wait on S3)."""

    async def health(_request: web.Request) -> web.Response:
        failing: dict[str, str] = {}
        for name, check in checks.items():
            try:
                await asyncio.wait_for(asyncio.to_thread(check), timeout=10)
            except Exception as exc:  # noqa: BLE001 - any failure is the check's answer
                failing[name] = str(exc) or type(exc).__name__
        body = json.dumps(failing).encode()
        return web.Response(status=503 if failing else 200, body=body, headers={"Content-Type": "application/json"})

    async def scrape(_request: web.Request) -> web.Response:
        body, content_type = metrics.render()
        return web.Response(body=body, headers={"Content-Type": content_type})

    app = web.Application()
    app.router.add_get("/debug/health", health)
    app.router.add_get(metrics_path, scrape)
    return app
