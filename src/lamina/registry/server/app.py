"""The registry's HTTP application: routes declared as data, one middleware for policy.

``ROUTES`` is the whole API surface (Distribution's ``registry/api/v2/descriptors.go`` in
miniature): method, path pattern, handler class, handler method. The middleware adds the
API version header, enforces read-only mode and delete switches, asks the access controller,
and renders every :class:`RegistryError` in the spec's JSON form — nothing else answers errors.
"""

from __future__ import annotations

import json
import logging
import secrets
import time
from collections.abc import Awaitable, Callable

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger

from .cache import cache_from_config
from .config import RegistryConfig
from .errors import RegistryError, error_body
from .handlers import (
    ACCOUNT,
    MAY_PULL,
    REQUEST_ID,
    BaseHandler,
    BlobsHandler,
    CatalogHandler,
    Context,
    ManifestsHandler,
    ReferrersHandler,
    TagsHandler,
    UploadsHandler,
)
from .registry import Registry
from .search import SearchHandler
from .storage import driver_from_config
from .uploads import UploadStore

__all__ = ["make_app", "ROUTES", "AccessLogger"]

log = logging.getLogger("lamina.registry")

CONTEXT = web.AppKey("context", Context)

_NAME = "{name:.+}"
ROUTES: list[tuple[str, str, type, str]] = [
    ("GET", "/v2/", BaseHandler, "get"),
    ("HEAD", "/v2/", BaseHandler, "get"),
    ("GET", "/v2/_catalog", CatalogHandler, "get"),
    ("GET", f"/v2/{_NAME}/tags/list", TagsHandler, "get"),
    ("POST", f"/v2/{_NAME}/blobs/uploads/", UploadsHandler, "start"),
    ("GET", f"/v2/{_NAME}/blobs/uploads/{{uuid}}", UploadsHandler, "status"),
    ("PATCH", f"/v2/{_NAME}/blobs/uploads/{{uuid}}", UploadsHandler, "patch"),
    ("PUT", f"/v2/{_NAME}/blobs/uploads/{{uuid}}", UploadsHandler, "put"),
    ("DELETE", f"/v2/{_NAME}/blobs/uploads/{{uuid}}", UploadsHandler, "cancel"),
    ("GET", f"/v2/{_NAME}/blobs/{{digest}}", BlobsHandler, "get"),
    ("HEAD", f"/v2/{_NAME}/blobs/{{digest}}", BlobsHandler, "get"),
    ("DELETE", f"/v2/{_NAME}/blobs/{{digest}}", BlobsHandler, "delete"),
    ("GET", f"/v2/{_NAME}/manifests/{{reference}}", ManifestsHandler, "get"),
    ("HEAD", f"/v2/{_NAME}/manifests/{{reference}}", ManifestsHandler, "get"),
    ("PUT", f"/v2/{_NAME}/manifests/{{reference}}", ManifestsHandler, "put"),
    ("DELETE", f"/v2/{_NAME}/manifests/{{reference}}", ManifestsHandler, "delete"),
    ("GET", f"/v2/{_NAME}/referrers/{{digest}}", ReferrersHandler, "get"),
    ("GET", "/v1/search", SearchHandler, "get"),
]

_WRITES = {"POST", "PUT", "PATCH", "DELETE"}
API_VERSION = {"Docker-Distribution-API-Version": "registry/2.0"}


def _error_response(err: RegistryError) -> web.Response:
    headers = {**API_VERSION, **err.headers}
    return web.Response(status=err.status or 500, body=error_body(err), content_type="application/json", headers=headers)


def _wanted(request: web.Request):
    from .auth import Access

    name = request.match_info.get("name")
    if name is not None:
        if request.method in ("GET", "HEAD"):
            actions = ["pull"]
        elif request.method == "DELETE":
            actions = ["delete"]
        else:
            actions = ["pull", "push"]
        return [Access("repository", name, a) for a in actions]
    if request.path == "/v2/_catalog":
        return [Access("registry", "catalog", "*")]
    return []


def _policy_middleware(ctx: Context, access) -> Callable:
    @web.middleware
    async def middleware(request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]):
        request[REQUEST_ID] = secrets.token_hex(8)
        is_api = request.path.startswith("/v2")
        try:
            if is_api and access is not None:
                await _authorize(request, access)
            if is_api and request.method in _WRITES:
                if ctx.read_only:
                    raise RegistryError("UNSUPPORTED", "the registry is in read-only mode", status=405)
                if request.method == "DELETE" and not ctx.delete_enabled and "/blobs/uploads/" not in request.path:
                    raise RegistryError("UNSUPPORTED", "deletes are disabled on this registry", status=405)
            response = await handler(request)
        except RegistryError as err:
            return _error_response(err)
        except web.HTTPException as exc:
            if exc.status == 404 and is_api:
                return _error_response(RegistryError("NAME_UNKNOWN" if "/v2/" in request.path else "UNSUPPORTED", "no route for this request", status=404))
            if exc.status == 405 and is_api:
                return _error_response(RegistryError("UNSUPPORTED", f"{request.method} is not supported here", status=405))
            raise
        except ConnectionError:
            # the client went away (a cut upload, a cancelled pull): routine on a registry, so
            # one line, not a traceback; an upload keeps what arrived and can be resumed. Reset
            # while reading a body, or aiohttp's "Connection lost" while streaming a proxied
            # blob: both are ConnectionError, which storage errors (boto's, redis's) are not
            log.warning("client closed the connection during %s %s", request.method, request.path)
            return _error_response(RegistryError("BLOB_UPLOAD_INVALID", "connection closed by the client"))
        except OSError as exc:
            log.exception("storage error while serving %s %s", request.method, request.path)
            return _error_response(RegistryError("UNKNOWN", f"storage error: {exc.strerror or exc}", status=500))
        except Exception:
            # a bug: the client still gets the spec's JSON error, the log keeps the traceback
            log.exception("unexpected error while serving %s %s", request.method, request.path)
            return _error_response(RegistryError("UNKNOWN", "internal error", status=500))
        if is_api:
            response.headers.update(API_VERSION)
        return response

    return middleware


async def _authorize(request: web.Request, access) -> None:
    from .auth import Access, AuthChallenge

    wanted = _wanted(request)
    try:
        grant = await access.authorize(request.headers, wanted)
    except AuthChallenge as challenge:
        raise RegistryError("UNAUTHORIZED" if challenge.code == "UNAUTHORIZED" else "DENIED", challenge.message, detail=challenge.detail, status=challenge.status, headers=challenge.headers) from None
    request[ACCOUNT] = grant.account
    # a cross-repository mount only from a repository the caller may pull
    request[MAY_PULL] = lambda source: grant.allows(Access("repository", source, "pull"))


class AccessLogger(AbstractAccessLogger):
    """One JSON object per request on the ``lamina.registry.access`` logger, and the request
    counted in the app's metrics (aiohttp calls this once the response is fully sent, so the
    byte counts are the real ones)."""

    def log(self, request: web.BaseRequest, response: web.StreamResponse, elapsed: float) -> None:
        from .debug import METRICS

        metrics = request.app.get(METRICS) if hasattr(request, "app") else None
        if metrics is not None:
            metrics.observe(request, response, elapsed)
        if not self.logger.isEnabledFor(logging.INFO):
            return
        self.logger.info(
            json.dumps(
                {
                    "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    "remote": request.remote,
                    "method": request.method,
                    "path": request.path_qs,
                    "status": response.status,
                    "bytes": response.body_length,
                    "duration_ms": round(elapsed * 1000, 2),
                    "user_agent": request.headers.get("User-Agent", ""),
                    "request_id": request.get(REQUEST_ID, ""),
                },
                separators=(",", ":"),
            )
        )

    @property
    def enabled(self) -> bool:
        return True  # metrics count every request, logged or not


def make_app(config: RegistryConfig, *, access=None, notifier=None, extra_routes: list | None = None) -> web.Application:
    """The aiohttp application for ``config``'s storage and policy."""
    from .debug import METRICS, Metrics

    registry = Registry(driver_from_config(config), cache_from_config(config.blobdescriptor_cache, config.redis))
    metrics = Metrics()
    ctx = Context(registry, UploadStore(registry), config.delete_enabled, config.read_only, notifier, redirect=config.redirect, metrics=metrics)
    app = web.Application(middlewares=[_policy_middleware(ctx, access)], client_max_size=1 << 40)
    instances: dict[type, object] = {}
    for method, path, cls, attr in ROUTES:
        handler = instances.setdefault(cls, cls(ctx))
        app.router.add_route(method, path, getattr(handler, attr))
    for route in extra_routes or []:
        app.router.add_route(route.method, route.path, route.handler)
    app[CONTEXT] = ctx
    app[METRICS] = metrics
    if registry.driver.blocking:
        _blocking_io_threads(app)
    if config.debug_addr:
        _serve_debug(app, config, registry, metrics)
    if config.gc_interval:
        _collect_periodically(app, config, registry, metrics)
    if notifier is not None and notifier.webhooks:
        from .notify import CALLBACK_PATH

        async def webhook_callback(request: web.Request) -> web.Response:
            try:
                report = await request.json()
            except ValueError:
                return web.json_response({"error": "body must be JSON with a state"}, status=400)
            known = await notifier.callback(request.match_info["chain"], report if isinstance(report, dict) else {})
            return web.json_response({}, status=200 if known else 404)

        app.router.add_post(CALLBACK_PATH, webhook_callback)
    if notifier is not None:

        async def start_notifier(_app: web.Application) -> None:
            await notifier.start()

        async def stop_notifier(_app: web.Application) -> None:
            await notifier.close()

        app.on_startup.append(start_notifier)
        app.on_cleanup.append(stop_notifier)
    return app


def _serve_debug(app: web.Application, config: RegistryConfig, registry: Registry, metrics) -> None:
    """Start the debug listener with the app and stop it with the app."""
    from .debug import debug_app

    checks = {f"storage-{registry.driver.name}": registry.driver.health_check}
    ping = getattr(registry.cache, "ping", None)
    if ping is not None:
        checks["redis"] = ping
    host, port = _split_addr(config.debug_addr)
    runner = web.AppRunner(debug_app(metrics, checks), access_log=None)

    async def start(_app: web.Application) -> None:
        await runner.setup()
        await web.TCPSite(runner, host, port).start()
        log.info("debug server listening on %s:%d", host, port)

    async def stop(_app: web.Application) -> None:
        await runner.cleanup()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)


def _blocking_io_threads(app: web.Application, threads: int = 64) -> None:
    """A storage driver that waits on a network is called from threads (``Registry.call``):
    give the loop a pool sized for concurrent requests, not asyncio's default of cores + 4,
    which would queue sixteen clients' S3 round trips behind six threads."""
    from concurrent.futures import ThreadPoolExecutor

    async def start(_app: web.Application) -> None:
        import asyncio

        asyncio.get_running_loop().set_default_executor(ThreadPoolExecutor(threads, thread_name_prefix="storage"))

    app.on_startup.append(start)


def _split_addr(addr: str) -> tuple[str, int]:
    host, _, port = str(addr).rpartition(":")
    return host.strip("[]") or "0.0.0.0", int(port)


def _collect_periodically(app: web.Application, config: RegistryConfig, registry: Registry, metrics) -> None:
    """``storage.maintenance.gc``: this instance collects garbage every ``interval``, online
    (every instance may: the collector is safe beside pushes on any of them)."""
    import asyncio

    from .gc import collect

    async def loop() -> None:
        while True:
            await asyncio.sleep(config.gc_interval)
            try:
                report = await asyncio.to_thread(collect, registry, grace=config.gc_grace, delete_untagged=config.gc_delete_untagged)
            except Exception as exc:  # noqa: BLE001 - the next run tries again
                log.warning("garbage collection failed: %s", exc)
                continue
            metrics.gc_report(report)
            log.info("garbage collection: %d blobs swept, %d manifests deleted, %d recent kept", len(report.swept), len(report.manifests_deleted), report.skipped_recent)

    async def start(app_: web.Application) -> None:
        app_[_GC_TASK] = asyncio.get_running_loop().create_task(loop())

    async def stop(app_: web.Application) -> None:
        app_[_GC_TASK].cancel()

    app.on_startup.append(start)
    app.on_cleanup.append(stop)


_GC_TASK = web.AppKey("gc_task", object)


def app_from_config(config: RegistryConfig) -> web.Application:
    """Build the app with the auth and notification objects ``config`` asks for."""
    from .auth import access_controller_from_config, extra_routes
    from .notify import notifier_from_config

    access = access_controller_from_config(config.auth, config_dir=config.config_dir)
    routes = extra_routes(config.auth, config_dir=config.config_dir)
    notifier = notifier_from_config(
        config.notifications, state_dir=config.root, source={"addr": config.addr, "instanceID": secrets.token_hex(8)}
    )
    return make_app(config, access=access, notifier=notifier, extra_routes=routes)
