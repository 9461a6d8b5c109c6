"""The Distribution API for one repository: manifests, blobs, uploads, mounts, tags.

Thin over :class:`~.transport.Session`: each call names its endpoint and scopes and turns the
registry's answer into bytes, a streaming response or one of lamina's errors. What arrives is
checked by the callers (``image.pull``) against the digests they expect.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import closing
from urllib.parse import urlencode

from ...digest import Digest
from ...errors import DigestMismatch, InvalidArgument, NotFound, RegistryUnavailable
from ...oci import mediatypes as mt
from .http import httpx
from .transport import Session

__all__ = ["Repository", "MANIFEST_ACCEPT", "MAX_MANIFEST"]

MANIFEST_ACCEPT = ", ".join(
    [mt.DOCKER_MANIFEST_LIST, mt.OCI_INDEX, mt.DOCKER_MANIFEST, mt.OCI_MANIFEST]
)
#: manifests and configs are read into memory; Distribution caps manifests at 4 MiB
MAX_MANIFEST = 4 << 20
MAX_CONFIG = 64 << 20


class Repository:
    def __init__(self, session: Session, path: str) -> None:
        self.session = session
        self.path = path

    @property
    def pull_scope(self) -> tuple[str, ...]:
        return (f"repository:{self.path}:pull",)

    @property
    def push_scope(self) -> tuple[str, ...]:
        return (f"repository:{self.path}:pull,push",)

    def _get_bytes(self, url: str, what: str, limit: int, scopes: tuple[str, ...], headers=None) -> httpx.Response:
        try:
            response = self.session.request("GET", url, scopes, headers=headers, stream=True)
        except httpx.TransportError as exc:
            raise RegistryUnavailable(f"{what}: {exc}") from None
        with closing(response):
            if response.status_code != 200:
                raise self.session.fail(response, what)
            declared = response.headers.get("Content-Length")
            if declared and declared.isdigit() and int(declared) > limit:
                raise InvalidArgument(f"{what}: {declared} bytes is more than the {limit}-byte limit")
            body = bytearray()
            try:
                for chunk in response.iter_raw(1 << 16):
                    body += chunk
                    if len(body) > limit:
                        raise InvalidArgument(f"{what}: more than the {limit}-byte limit")
            except httpx.TransportError as exc:
                raise RegistryUnavailable(f"{what}: {exc}") from None
            response._lamina_body = bytes(body)  # type: ignore[attr-defined]
            return response

    # manifests -------------------------------------------------------------------------------
    def manifest(self, reference: str) -> tuple[bytes, str, str | None]:
        """(bytes, media type, Docker-Content-Digest header) of the manifest or index."""
        what = f"manifest for {self.session.server}/{self.path}:{reference}"
        try:
            response = self._get_bytes(
                f"/v2/{self.path}/manifests/{reference}", what, MAX_MANIFEST, self.pull_scope,
                headers={"Accept": MANIFEST_ACCEPT},
            )
        except NotFound as exc:
            raise NotFound(f"{what} not found: {str(exc).split(': ', 1)[-1]}") from None
        media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
        return response._lamina_body, media_type, response.headers.get("Docker-Content-Digest")  # type: ignore[attr-defined]

    def manifest_exists(self, reference: str) -> bool:
        response = self.session.request(
            "HEAD", f"/v2/{self.path}/manifests/{reference}", self.pull_scope, headers={"Accept": MANIFEST_ACCEPT}
        )
        response.close()
        return response.status_code == 200

    def put_manifest(self, reference: str, raw: bytes, media_type: str) -> Digest:
        response = self.session.request(
            "PUT", f"/v2/{self.path}/manifests/{reference}", self.push_scope,
            headers={"Content-Type": media_type}, content=raw,
        )
        with closing(response):
            if response.status_code not in (200, 201, 202):
                raise self.session.fail(response, f"put manifest {self.path}:{reference}")
        digest = Digest.of_bytes(raw)
        announced = response.headers.get("Docker-Content-Digest")
        if announced and announced != str(digest):
            raise DigestMismatch(f"the registry stored the manifest as {announced}, expected {digest}")
        return digest

    def tags(self) -> list[str]:
        """Every tag, following the ``Link`` pagination."""
        out: list[str] = []
        url = f"/v2/{self.path}/tags/list"
        while url:
            response = self._get_bytes(url, f"tags of {self.path}", MAX_MANIFEST, self.pull_scope)
            import json

            try:
                out += list(json.loads(response._lamina_body).get("tags") or [])  # type: ignore[attr-defined]
            except (ValueError, AttributeError):
                raise InvalidArgument(f"tags of {self.path}: the registry's answer is not JSON") from None
            url = _next_link(response.headers.get("Link"))
        return out

    # blobs -----------------------------------------------------------------------------------
    def blob_bytes(self, digest: Digest, limit: int = MAX_CONFIG) -> bytes:
        """A small blob (a config), verified against its digest."""
        response = self._get_bytes(f"/v2/{self.path}/blobs/{digest}", f"blob {digest}", limit, self.pull_scope)
        data = response._lamina_body  # type: ignore[attr-defined]
        if Digest.of_bytes(data, digest.algorithm) != digest:
            raise DigestMismatch(f"blob {digest} from {self.session.server}/{self.path} does not match its digest")
        return data

    def open_blob(self, digest: Digest, offset: int = 0) -> httpx.Response:
        """A streaming response for the blob from ``offset`` (206 when the registry honoured the
        Range, 200 when it sent it all). The caller closes it."""
        headers = {"Range": f"bytes={offset}-"} if offset else {}
        response = self.session.request("GET", f"/v2/{self.path}/blobs/{digest}", self.pull_scope, headers=headers, stream=True)
        if response.status_code not in (200, 206):
            raise self.session.fail(response, f"blob {digest}")
        return response

    def blob_size(self, digest: Digest) -> int | None:
        """The blob's size if the repository has it (HEAD), else None."""
        response = self.session.request("HEAD", f"/v2/{self.path}/blobs/{digest}", self.push_scope)
        response.close()
        if response.status_code == 200:
            length = response.headers.get("Content-Length", "")
            return int(length) if length.isdigit() else 0
        if response.status_code == 404:
            return None
        raise self.session.fail(response, f"blob {digest}")

    def mount(self, digest: Digest, source_path: str) -> bool:
        """Cross-repository mount from ``source_path`` on the same registry; True if mounted.
        A registry that cannot mount starts an upload instead, which is cancelled here."""
        scopes = self.push_scope + (f"repository:{source_path}:pull",)
        query = urlencode({"mount": str(digest), "from": source_path})
        response = self.session.request("POST", f"/v2/{self.path}/blobs/uploads/?{query}", scopes, content=b"")
        response.close()
        if response.status_code == 201:
            return True
        if response.status_code == 202 and response.headers.get("Location"):
            cancel = self.session.request("DELETE", response.headers["Location"], scopes)
            cancel.close()
        return False

    def upload(self, digest: Digest | None, chunks: Iterable[bytes], finish: callable = None) -> Digest:  # type: ignore[valid-type]
        """Upload a blob: POST a session, PATCH the bytes as they come, PUT with the digest.

        ``digest`` may be None when it is known only once the bytes are out (a layer compressed
        on the fly): ``finish()`` then gives it after the last chunk.
        """
        response = self.session.request("POST", f"/v2/{self.path}/blobs/uploads/", self.push_scope, content=b"")
        with closing(response):
            if response.status_code != 202 or not response.headers.get("Location"):
                raise self.session.fail(response, f"start upload to {self.path}")
            location = response.headers["Location"]
        response = self.session.request(
            "PATCH", location, self.push_scope,
            headers={"Content-Type": "application/octet-stream"}, content=_iterate(chunks),
        )
        with closing(response):
            if response.status_code not in (202, 204):
                raise self.session.fail(response, f"upload to {self.path}")
            location = response.headers.get("Location") or location
        final = digest if digest is not None else finish()
        separator = "&" if "?" in location else "?"
        response = self.session.request("PUT", f"{location}{separator}digest={final}", self.push_scope, content=b"")
        with closing(response):
            if response.status_code not in (201, 204):
                raise self.session.fail(response, f"finish upload of {final} to {self.path}")
        return final


def _iterate(chunks: Iterable[bytes]) -> Iterator[bytes]:
    yield from chunks


def _next_link(header: str | None) -> str | None:
    """The next page from an RFC 5988 ``Link: </v2/…?last=x&n=y>; rel="next"`` header."""
    if not header or 'rel="next"' not in header:
        return None
    start, end = header.find("<"), header.find(">")
    return header[start + 1:end] if 0 <= start < end else None
