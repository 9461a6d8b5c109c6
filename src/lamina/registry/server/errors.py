"""The distribution spec's error codes, their HTTP statuses, and the JSON error body.

One table (``CODES``) maps every code the server can answer to its status and default
message, as Distribution's ``registry/api/errcode`` does; handlers raise
:class:`RegistryError` and the middleware in ``app`` renders it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = ["RegistryError", "CODES", "error_body"]

CODES: dict[str, tuple[int, str]] = {
    "BLOB_UNKNOWN": (404, "blob unknown to registry"),
    "BLOB_UPLOAD_INVALID": (400, "blob upload invalid"),
    "BLOB_UPLOAD_UNKNOWN": (404, "blob upload unknown to registry"),
    "DIGEST_INVALID": (400, "provided digest did not match uploaded content"),
    "MANIFEST_BLOB_UNKNOWN": (400, "blob unknown to registry"),
    "MANIFEST_INVALID": (400, "manifest invalid"),
    "MANIFEST_UNKNOWN": (404, "manifest unknown"),
    "MANIFEST_UNVERIFIED": (400, "manifest failed signature verification"),
    "NAME_INVALID": (400, "invalid repository name"),
    "NAME_UNKNOWN": (404, "repository name not known to registry"),
    "PAGINATION_NUMBER_INVALID": (400, "invalid number of results requested"),
    "RANGE_INVALID": (416, "invalid content range"),
    "SIZE_INVALID": (400, "provided length did not match content length"),
    "TAG_INVALID": (400, "manifest tag did not match URI"),
    "UNAUTHORIZED": (401, "authentication required"),
    "DENIED": (403, "requested access to the resource is denied"),
    "UNSUPPORTED": (405, "The operation is unsupported."),
    "TOOMANYREQUESTS": (429, "too many requests"),
    "UNKNOWN": (500, "unknown error"),
}


@dataclass
class RegistryError(Exception):
    """An error answered to the client in the spec's JSON form."""

    code: str
    message: str | None = None
    detail: Any = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.code not in CODES:
            raise ValueError(f"unknown registry error code {self.code}")
        default_status, default_message = CODES[self.code]
        self.status = self.status or default_status
        self.message = self.message or default_message
        super().__init__(self.message)


def error_body(*errors: RegistryError) -> bytes:
    entries = []
    for err in errors:
        entry: dict[str, Any] = {"code": err.code, "message": err.message}
        if err.detail is not None:
            entry["detail"] = err.detail
        entries.append(entry)
    return json.dumps({"errors": entries}).encode()
