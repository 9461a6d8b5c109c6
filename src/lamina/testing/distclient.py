"""A minimal distribution-API client for tests and benchmarks that need to behave like a
particular real client: chunked uploads with pauses (a slow link), each request on a new
connection (a flaky network), requests of one push spread over several registry instances.
"""

from __future__ import annotations

import hashlib
import http.client
import json
import time
from collections.abc import Sequence

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"


def sha(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class PushFailed(AssertionError):
    """A request of a push was answered with an unexpected status."""


class Client:
    """``hosts`` are one or more registry instances; request ``i`` of an upload goes to
    ``hosts[i % len(hosts)]`` (a load balancer without stickiness)."""

    def __init__(self, hosts: str | Sequence[str], timeout: float = 60.0) -> None:
        self.hosts = [hosts] if isinstance(hosts, str) else list(hosts)
        self.timeout = timeout
        self._turn = 0

    def _next_host(self) -> str:
        host = self.hosts[self._turn % len(self.hosts)]
        self._turn += 1
        return host

    def request(self, method: str, path: str, body: bytes | None = None, headers: dict | None = None, host: str | None = None):
        conn = http.client.HTTPConnection(host or self._next_host(), timeout=self.timeout)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            resp = conn.getresponse()
            return resp.status, dict(resp.getheaders()), resp.read()
        finally:
            conn.close()

    def start_upload(self, repo: str) -> str:
        status, headers, body = self.request("POST", f"/v2/{repo}/blobs/uploads/")
        if status != 202:
            raise PushFailed(f"POST upload: {status} {body[:300]!r}")
        return headers["Location"]

    def patch(self, location: str, start: int, piece: bytes) -> str:
        hdrs = {"Content-Type": "application/octet-stream", "Content-Range": f"{start}-{start + len(piece) - 1}"}
        status, headers, body = self.request("PATCH", location, piece, hdrs)
        if status != 202:
            raise PushFailed(f"PATCH: {status} {body[:300]!r}")
        return headers["Location"]

    def finish_upload(self, location: str, digest: str) -> None:
        sep = "&" if "?" in location else "?"
        status, _, body = self.request("PUT", f"{location}{sep}digest={digest}", b"", {"Content-Length": "0"})
        if status != 201:
            raise PushFailed(f"PUT upload: {status} {body[:300]!r}")

    def push_blob(self, repo: str, data: bytes, chunks: int = 1, pause: float = 0.0) -> str:
        location = self.start_upload(repo)
        step = max(-(-len(data) // chunks), 1)
        for start in range(0, len(data), step):
            location = self.patch(location, start, data[start : start + step])
            time.sleep(pause)
        self.finish_upload(location, sha(data))
        return sha(data)

    @staticmethod
    def manifest(config: bytes, layers: Sequence[bytes]) -> bytes:
        doc = {
            "schemaVersion": 2,
            "mediaType": OCI_MANIFEST,
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": len(config)},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": sha(x), "size": len(x)} for x in layers],
        }
        return json.dumps(doc).encode()

    def put_manifest(self, repo: str, tag: str, config: bytes, layers: Sequence[bytes]) -> tuple[int, bytes]:
        """(status, the manifest on 201 / the error body otherwise)."""
        raw = self.manifest(config, layers)
        status, _, body = self.request("PUT", f"/v2/{repo}/manifests/{tag}", raw, {"Content-Type": OCI_MANIFEST})
        return status, raw if status == 201 else body
