"""One handler class per resource of the distribution API.

Each method receives an aiohttp request whose route matched (see ``app.ROUTES``) and returns a
response or raises :class:`RegistryError`. Bodies are streamed: blobs go out through sendfile,
uploads are written and hashed chunk by chunk.
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlencode

from aiohttp import web

from ...digest import Digest
from ...oci import mediatypes as mt
from ...oci.model import Index, Manifest
from . import paths
from .errors import RegistryError
from .registry import (
    MAX_MANIFEST_BYTES,
    Registry,
    StoredManifest,
    check_name,
    check_tag,
    parse_digest,
)
from .storage import PathNotFound
from .uploads import UploadStore

#: per-request values the policy middleware leaves for handlers
REQUEST_ID = web.RequestKey("request_id", str)
ACCOUNT = web.RequestKey("account", object)
MAY_PULL = web.RequestKey("may_pull", object)

_CONTENT_RANGE = re.compile(r"^(?:bytes[ =])?(\d+)-(\d+)(?:/\d+|/\*)?$")


@dataclass
class Context:
    """What every handler needs: the registry, uploads, settings, and the event sink."""

    registry: Registry
    uploads: UploadStore
    delete_enabled: bool
    read_only: bool
    notifier: Any = None
    #: send blob GETs to the storage's own URL when it has one (storage.redirect.disable: false)
    redirect: bool = True
    metrics: Any = None

    def count_upload(self, outcome: str, size: int = 0) -> None:
        if self.metrics is not None:
            self.metrics.uploads.labels(outcome).inc()
            if size:
                self.metrics.upload_bytes.inc(size)

    def notify(self, request: web.Request, action: str, name: str, desc: dict[str, Any], tag: str | None = None) -> None:
        if self.notifier is None:
            return
        from .notify import RequestInfo

        info = RequestInfo(
            id=request.get(REQUEST_ID, ""),
            addr=request.remote or "",
            host=request.host,
            method=request.method,
            useragent=request.headers.get("User-Agent", ""),
        )
        self.notifier.publish(
            action,
            repository=name,
            media_type=desc["mediaType"],
            digest=desc["digest"],
            size=desc["size"],
            url=str(request.url.with_path(f"/v2/{name}/{'manifests' if desc.get('manifest') else 'blobs'}/{desc['digest']}").with_query(None)),
            tag=tag,
            request=info,
            actor=request.get(ACCOUNT),
        )


def _name(request: web.Request) -> str:
    return check_name(request.match_info["name"])


def _require_repo(ctx: Context, name: str) -> None:
    if not ctx.registry.repo_exists(name):
        raise RegistryError("NAME_UNKNOWN", f"repository name not known to registry: {name}", detail={"name": name})


def _paginate(request: web.Request, items: list[str], path: str) -> tuple[list[str], dict[str, str]]:
    n_text = request.query.get("n")
    last = request.query.get("last")
    if last:
        items = [i for i in items if i > last]
    headers: dict[str, str] = {}
    if n_text is None or n_text == "":
        return items, headers
    try:
        n = int(n_text)
        if n < 0:
            raise ValueError
    except ValueError:
        raise RegistryError("PAGINATION_NUMBER_INVALID", f"invalid number of results requested: {n_text[:20]!r}") from None
    page = items[:n]
    if len(items) > n and page:
        headers["Link"] = f'<{path}?{urlencode({"n": n, "last": page[-1]})}>; rel="next"'
    return page, headers


def json_body(doc: Any, *, headers: dict[str, str] | None = None, media_type: str = "application/json") -> web.Response:
    """A JSON answer whose Content-Type is exactly ``media_type``: aiohttp's json_response
    appends ``; charset=utf-8``, which the spec's referrers check (and strict clients) refuse."""
    import json

    body = json.dumps(doc, separators=(",", ":")).encode()
    return web.Response(body=body, headers={**(headers or {}), "Content-Type": media_type})


class BaseHandler:
    def __init__(self, ctx: Context) -> None:
        self.ctx = ctx

    async def get(self, request: web.Request) -> web.Response:
        return json_body({})


class CatalogHandler(BaseHandler):
    async def get(self, request: web.Request) -> web.Response:
        names, headers = _paginate(request, await self.ctx.registry.call(self.ctx.registry.catalog), "/v2/_catalog")
        return json_body({"repositories": names}, headers=headers)


class TagsHandler(BaseHandler):
    async def get(self, request: web.Request) -> web.Response:
        name = _name(request)
        call = self.ctx.registry.call
        await call(_require_repo, self.ctx, name)
        tags, headers = _paginate(request, await call(self.ctx.registry.tags, name), f"/v2/{name}/tags/list")
        return json_body({"name": name, "tags": tags}, headers=headers)


def _accepts(request: web.Request) -> list[str]:
    out = []
    for value in request.headers.getall("Accept", []):
        out.extend(part.split(";")[0].strip() for part in value.split(","))
    return [a for a in out if a]


class ManifestsHandler(BaseHandler):
    def _lookup(self, name: str, reference: str) -> tuple[StoredManifest, str | None]:
        registry = self.ctx.registry
        if ":" in reference:
            d = parse_digest(reference)
            tag = None
        else:
            tag = check_tag(reference)
            d = registry.resolve_tag(name, tag)
            if d is None:
                _require_repo(self.ctx, name)
                raise RegistryError("MANIFEST_UNKNOWN", f"manifest unknown: {name}:{tag}", detail={"Tag": tag}, status=404)
        stored = registry.get_manifest(name, d)
        if stored is None:
            _require_repo(self.ctx, name)
            raise RegistryError("MANIFEST_UNKNOWN", f"manifest unknown: {d}", detail={"Digest": str(d)}, status=404)
        return stored, tag

    def _negotiate(self, request: web.Request, name: str, stored: StoredManifest) -> StoredManifest:
        """Distribution's rules: a list goes to clients that cannot read it as its linux/amd64
        image; OCI content is refused to a client that accepts only Docker types."""
        accepted = _accepts(request)
        if not accepted or stored.media_type in accepted or "*/*" in accepted:
            return stored
        if stored.media_type in mt.INDEXES:
            index = Index.parse(stored.raw)
            chosen = next(
                (m for m in index.manifests if m.platform and m.platform.os == "linux" and m.platform.architecture == "amd64"),
                None,
            )
            child = self.ctx.registry.get_manifest(name, chosen.digest) if chosen else None
            if child is not None and (child.media_type in accepted):
                return child
        if stored.media_type in (mt.OCI_MANIFEST, mt.OCI_INDEX) and not any(a.startswith("application/vnd.oci") for a in accepted):
            raise RegistryError("MANIFEST_UNKNOWN", "OCI manifest found, but accept header does not support OCI manifests", status=404)
        return stored

    async def get(self, request: web.Request) -> web.StreamResponse:
        name = _name(request)
        call = self.ctx.registry.call
        stored, _ = await call(self._lookup, name, request.match_info["reference"])
        stored = await call(self._negotiate, request, name, stored)
        headers = {
            "Docker-Content-Digest": str(stored.digest),
            "ETag": f'"{stored.digest}"',
            "Content-Type": stored.media_type,
        }
        if request.method == "HEAD":
            headers["Content-Length"] = str(len(stored.raw))
            return web.Response(status=200, headers=headers)
        self.ctx.notify(request, "pull", name, {"mediaType": stored.media_type, "digest": str(stored.digest), "size": len(stored.raw), "manifest": True})
        return web.Response(body=stored.raw, headers=headers)

    async def put(self, request: web.Request) -> web.Response:
        name = _name(request)
        reference = request.match_info["reference"]
        raw = await _read_limited(request, MAX_MANIFEST_BYTES)
        if ":" in reference:
            expected = parse_digest(reference)
            tag = None
        else:
            tag = check_tag(reference)
            expected = None
        algorithm = expected.algorithm if expected else "sha256"
        d = Digest(algorithm, hashlib.new(algorithm, raw).hexdigest())
        if expected is not None and d != expected:
            raise RegistryError("DIGEST_INVALID", f"manifest digest {d} does not match {expected}", detail={"digest": str(expected)})
        call = self.ctx.registry.call
        parsed = await call(self.ctx.registry.validate_manifest, name, raw, request.headers.get("Content-Type"))
        await call(self.ctx.registry.put_manifest, name, raw, parsed, d, tag)
        headers = {"Location": f"/v2/{name}/manifests/{d}", "Docker-Content-Digest": str(d), "Content-Length": "0"}
        if parsed.subject is not None:
            headers["OCI-Subject"] = str(parsed.subject.digest)
        self.ctx.notify(request, "push", name, {"mediaType": parsed.media_type, "digest": str(d), "size": len(raw), "manifest": True}, tag)
        return web.Response(status=201, headers=headers)

    async def delete(self, request: web.Request) -> web.Response:
        name = _name(request)
        reference = request.match_info["reference"]
        stored = await self.ctx.registry.call(self._delete, name, reference)
        if stored is not None:
            d = stored.digest
            self.ctx.notify(request, "delete", name, {"mediaType": stored.media_type, "digest": str(d), "size": len(stored.raw), "manifest": True})
        return web.Response(status=202)

    def _delete(self, name: str, reference: str) -> StoredManifest | None:
        if ":" not in reference:
            tag = check_tag(reference)
            if not self.ctx.registry.delete_tag(name, tag):
                _require_repo(self.ctx, name)
                raise RegistryError("MANIFEST_UNKNOWN", f"manifest unknown: {name}:{tag}", status=404)
            return None
        d = parse_digest(reference)
        stored = self.ctx.registry.get_manifest(name, d)
        if stored is None or not self.ctx.registry.delete_manifest(name, d):
            _require_repo(self.ctx, name)
            raise RegistryError("MANIFEST_UNKNOWN", f"manifest unknown: {d}", status=404)
        return stored


async def _read_limited(request: web.Request, limit: int) -> bytes:
    length = request.content_length
    if length is not None and length > limit:
        raise RegistryError("SIZE_INVALID", f"body is larger than {limit} bytes", status=413)
    chunks, total = [], 0
    async for chunk in request.content.iter_chunked(1 << 16):
        total += len(chunk)
        if total > limit:
            raise RegistryError("SIZE_INVALID", f"body is larger than {limit} bytes", status=413)
        chunks.append(chunk)
    return b"".join(chunks)


_RANGE = re.compile(r"^bytes=(\d*)-(\d*)$")


def _byte_range(value: str | None, size: int) -> tuple[int, int] | None:
    """One ``bytes=a-b`` range as (start, end inclusive), None for the whole blob; a range
    that cannot be satisfied is 416 as RFC 9110 has it."""
    if not value:
        return None
    m = _RANGE.match(value.strip())
    if m is None or (not m.group(1) and not m.group(2)):
        return None  # several ranges or another unit: answer the whole blob (allowed)
    if not m.group(1):
        start, end = max(size - int(m.group(2)), 0), size - 1
    else:
        start = int(m.group(1))
        end = min(int(m.group(2)), size - 1) if m.group(2) else size - 1
    if start >= size or end < start:
        raise web.HTTPRequestRangeNotSatisfiable(headers={"Content-Range": f"bytes */{size}"})
    return start, end


class BlobsHandler(BaseHandler):
    def _checked(self, request: web.Request) -> tuple[str, Digest]:
        name = _name(request)
        d = parse_digest(request.match_info["digest"])
        if not self.ctx.registry.repo_has_blob(name, d):
            raise RegistryError("BLOB_UNKNOWN", f"blob unknown to registry: {d}", detail={"digest": str(d)})
        return name, d

    def _prepare(self, request: web.Request) -> tuple[str, Digest, int, str | None]:
        name = _name(request)
        d = parse_digest(request.match_info["digest"])
        size = self.ctx.registry.blob_descriptor(name, d)
        if size is None:
            raise RegistryError("BLOB_UNKNOWN", f"blob unknown to registry: {d}", detail={"digest": str(d)})
        if request.method == "HEAD" and not self.ctx.read_only and not self.ctx.registry.note_push_check(name, d):
            self.ctx.registry.cache.forget(d)  # swept (by any instance): the client must upload it
            raise RegistryError("BLOB_UNKNOWN", f"blob unknown to registry: {d}", detail={"digest": str(d)})
        redirect = None
        if request.method == "GET" and self.ctx.redirect:
            redirect = self.ctx.registry.driver.redirect_url(paths.blob_data(d))
        return name, d, size, redirect

    async def get(self, request: web.Request) -> web.StreamResponse:
        name, d, size, redirect = await self.ctx.registry.call(self._prepare, request)
        headers = {
            "Docker-Content-Digest": str(d),
            "ETag": f'"{d}"',
            "Content-Type": "application/octet-stream",
            "Cache-Control": "max-age=31536000",
            "Accept-Ranges": "bytes",
        }
        if request.method == "GET" and "Range" not in request.headers:
            self.ctx.notify(request, "pull", name, {"mediaType": "application/octet-stream", "digest": str(d), "size": size})
        if redirect is not None:
            # Distribution's default on object storage: the client fetches (and ranges) from
            # the store itself, the registry serves none of the bytes
            return web.Response(status=307, headers={"Location": redirect, "Docker-Content-Digest": str(d)})
        local = self.ctx.registry.blob_local_path(d)
        try:
            if local is not None:
                if not os.path.exists(local):
                    raise PathNotFound(local)
                return web.FileResponse(local, chunk_size=1 << 20, headers=headers)
            return await self._stream(request, d, size, headers)
        except PathNotFound:
            # a cached descriptor outlived the blob (another instance collected it)
            self.ctx.registry.cache.forget(d)
            raise RegistryError("BLOB_UNKNOWN", f"blob unknown to registry: {d}", detail={"digest": str(d)}) from None

    async def _stream(self, request: web.Request, d: Digest, size: int, headers: dict[str, str]) -> web.StreamResponse:
        """Proxy the blob from a storage driver without a local path, honouring one Range."""
        wanted = _byte_range(request.headers.get("Range"), size) if request.method == "GET" else None
        start, end = wanted if wanted else (0, size - 1)
        status = 206 if wanted else 200
        if wanted:
            headers = {**headers, "Content-Range": f"bytes {start}-{end}/{size}"}
        response = web.StreamResponse(status=status, headers={**headers, "Content-Length": str(max(end - start + 1, 0))})
        await response.prepare(request)
        if request.method == "HEAD" or size == 0:
            return response
        call = self.ctx.registry.call
        f = await call(self.ctx.registry.open_blob, d, start)
        try:
            left = end - start + 1
            while left > 0:
                chunk = await call(f.read, min(_STREAM_CHUNK, left))
                if not chunk:
                    break
                left -= len(chunk)
                await response.write(chunk)
        finally:
            await call(f.close)
        await response.write_eof()
        return response

    async def delete(self, request: web.Request) -> web.Response:
        call = self.ctx.registry.call
        name, d = await call(self._checked, request)
        await call(self.ctx.registry.unlink_blob, name, d)
        self.ctx.notify(request, "delete", name, {"mediaType": "application/octet-stream", "digest": str(d), "size": 0})
        return web.Response(status=202, headers={"Docker-Content-Digest": str(d)})


_STREAM_CHUNK = 1 << 20


class UploadsHandler(BaseHandler):
    def _location(self, name: str, uuid: str) -> str:
        return f"/v2/{name}/blobs/uploads/{quote(uuid)}"

    def _progress(self, name: str, session, status: int) -> web.Response:
        headers = {**UploadStore.range_headers(session), "Location": self._location(name, session.uuid), "Content-Length": "0"}
        return web.Response(status=status, headers=headers)

    def _created(self, name: str, d: Digest) -> web.Response:
        return web.Response(
            status=201,
            headers={"Location": f"/v2/{name}/blobs/{d}", "Docker-Content-Digest": str(d), "Content-Length": "0"},
        )

    async def start(self, request: web.Request) -> web.Response:
        name = _name(request)
        mount, source = request.query.get("mount"), request.query.get("from")
        registry = self.ctx.registry
        call = registry.call
        if mount is not None:
            d = parse_digest(mount)
            if source and request.get(MAY_PULL, lambda _n: True)(source):
                check_name(source)
                size = await call(self._mount, name, source, d)
                if size is not None:
                    self.ctx.notify(request, "mount", name, {"mediaType": "application/octet-stream", "digest": str(d), "size": size})
                    return self._created(name, d)
            # Distribution: a mount that cannot happen becomes an ordinary upload
        digest_text = request.query.get("digest")
        session = await call(self.ctx.uploads.start, name)
        if digest_text is None:
            return self._progress(name, session, 202)
        d = parse_digest(digest_text)
        try:
            await self.ctx.uploads.append(session, request.content)
            size = await call(self.ctx.uploads.finish, session, d)
        except BaseException:
            self.ctx.count_upload("failed")
            await call(self.ctx.uploads.cancel, session)
            raise
        self.ctx.count_upload("completed", size)
        self.ctx.notify(request, "push", name, {"mediaType": "application/octet-stream", "digest": str(d), "size": size})
        return self._created(name, d)

    def _mount(self, name: str, source: str, d: Digest) -> int | None:
        registry = self.ctx.registry
        if not registry.repo_has_blob(source, d):
            return None
        if not registry.link_blob(name, d):
            return None  # swept meanwhile: an ordinary upload instead
        return registry.blob_size(d) or 0

    async def status(self, request: web.Request) -> web.Response:
        name = _name(request)
        session = await self.ctx.registry.call(self.ctx.uploads.get, name, request.match_info["uuid"])
        return self._progress(name, session, 204)

    async def patch(self, request: web.Request) -> web.Response:
        name = _name(request)
        session = await self.ctx.registry.call(self.ctx.uploads.get, name, request.match_info["uuid"])
        start, length = _content_range(request)
        await self.ctx.uploads.append(session, request.content, start, length)
        return self._progress(name, session, 202)

    async def put(self, request: web.Request) -> web.Response:
        name = _name(request)
        call = self.ctx.registry.call
        session = await call(self.ctx.uploads.get, name, request.match_info["uuid"])
        digest_text = request.query.get("digest")
        if not digest_text:
            raise RegistryError("DIGEST_INVALID", "the digest query parameter is required to complete an upload")
        d = parse_digest(digest_text)
        start, length = _content_range(request)
        try:
            await self.ctx.uploads.append(session, request.content, start, length)
        except RegistryError as err:
            if err.code == "RANGE_INVALID":
                raise
            self.ctx.count_upload("failed")
            await call(self.ctx.uploads.cancel, session)
            raise
        try:
            size = await call(self.ctx.uploads.finish, session, d)
        except RegistryError:
            self.ctx.count_upload("failed")
            raise
        self.ctx.count_upload("completed", size)
        self.ctx.notify(request, "push", name, {"mediaType": "application/octet-stream", "digest": str(d), "size": size})
        return self._created(name, d)

    async def cancel(self, request: web.Request) -> web.Response:
        name = _name(request)
        call = self.ctx.registry.call
        session = await call(self.ctx.uploads.get, name, request.match_info["uuid"])
        await call(self.ctx.uploads.cancel, session)
        self.ctx.count_upload("cancelled")
        return web.Response(status=204)


def _content_range(request: web.Request) -> tuple[int | None, int | None]:
    value = request.headers.get("Content-Range")
    if not value:
        return None, None
    m = _CONTENT_RANGE.match(value.strip())
    if m is None:
        raise RegistryError("RANGE_INVALID", f"invalid Content-Range {value[:60]!r}", status=416)
    start, end = int(m.group(1)), int(m.group(2))
    if end < start:
        raise RegistryError("RANGE_INVALID", f"invalid Content-Range {value[:60]!r}", status=416)
    return start, end - start + 1


class ReferrersHandler(BaseHandler):
    async def get(self, request: web.Request) -> web.Response:
        name = _name(request)
        subject = parse_digest(request.match_info["digest"])
        wanted = request.query.get("artifactType")
        descriptors = []
        for stored in await self.ctx.registry.call(self.ctx.registry.referrers, name, subject):
            desc = _referrer_descriptor(stored)
            if wanted and desc.get("artifactType") != wanted:
                continue
            descriptors.append(desc)
        headers = {"OCI-Filters-Applied": "artifactType"} if wanted else {}
        body = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": descriptors}
        return json_body(body, headers=headers, media_type=mt.OCI_INDEX)


def _referrer_descriptor(stored: StoredManifest) -> dict[str, Any]:
    import json

    doc = json.loads(stored.raw)
    desc: dict[str, Any] = {"mediaType": stored.media_type, "digest": str(stored.digest), "size": len(stored.raw)}
    artifact = doc.get("artifactType")
    if not artifact and isinstance(doc.get("config"), dict):
        artifact = doc["config"].get("mediaType")
    if artifact:
        desc["artifactType"] = artifact
    if doc.get("annotations"):
        desc["annotations"] = doc["annotations"]
    return desc


__all__ = [
    "Context",
    "BaseHandler",
    "CatalogHandler",
    "TagsHandler",
    "ManifestsHandler",
    "BlobsHandler",
    "UploadsHandler",
    "ReferrersHandler",
    "Manifest",
]
