"""Image configs, canonical JSON and ChainIDs: what every command that reads the store needs.

Apart from ``oci.model`` (manifests, indexes, descriptors, platforms: what moves images) so
that reading an image config loads neither ``dataclasses`` nor ``typing`` (``lamina.value``
says why); ``oci.model`` re-exports all of it.
"""

from __future__ import annotations

from ..digest import Digest
from ..errors import InvalidArgument
from ..value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = ["ImageConfig", "canonical_json", "chain_ids", "load_object"]


def canonical_json(value: Any) -> bytes:
    """JSON as docker writes image configs and manifests it creates: compact, sorted keys.

    Go's encoding/json escapes <, > and & by default; docker's image IDs hash those bytes,
    so we escape them the same way to reproduce its IDs for the same content.
    """
    import json

    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def load_object(raw: bytes, what: str) -> dict:
    """``json.loads`` of a JSON object, refused in one line. Parsed by ``jsonc`` (json's own C
    scanner without importing ``json``, ~5 ms of ``run``); what it refuses (or another
    encoding json accepts) goes to ``json`` itself, for its verdict and wording."""
    from .. import jsonc

    try:
        try:
            doc = jsonc.loads(raw)
        except ValueError:
            import json

            doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"malformed {what}: {exc}") from None
    except RecursionError:
        # hostile nesting ("[[[[…" ten thousand deep) is bad input, not a crash
        raise InvalidArgument(f"malformed {what}: nested too deeply") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"malformed {what}: not a JSON object")
    return doc


class ImageConfig(Value):
    """An image configuration (``application/vnd.docker.container.image.v1+json``).

    ``doc`` is the full decoded JSON (docker's fields beyond the OCI ones are kept, since the
    image ID is the hash of ``raw`` and inspect shows them); accessors cover what lamina uses.
    Two configs are equal when their bytes are.
    """

    __slots__ = ("raw", "doc")
    _compare = ("raw",)
    raw: bytes
    doc: Mapping[str, Any]

    def __init__(self, raw: bytes, doc: Mapping[str, Any]) -> None:
        self._init(raw=raw, doc=doc)

    @classmethod
    def parse(cls, raw: bytes) -> ImageConfig:
        doc = load_object(raw, "image config")
        rootfs = doc.get("rootfs")
        if not isinstance(rootfs, dict) or not isinstance(rootfs.get("diff_ids", []), list):
            raise InvalidArgument("malformed image config: rootfs.diff_ids is missing")
        for diff_id in rootfs.get("diff_ids") or []:
            Digest.parse(diff_id)
        _check_config_types(doc)
        return cls(bytes(raw), doc)

    @classmethod
    def from_doc(cls, doc: Mapping[str, Any]) -> ImageConfig:
        return cls.parse(canonical_json(doc))

    @property
    def digest(self) -> Digest:
        """The image ID."""
        return Digest.of_bytes(self.raw)

    @property
    def diff_ids(self) -> tuple[Digest, ...]:
        return tuple(Digest.parse(d) for d in self.doc["rootfs"].get("diff_ids") or [])

    @property
    def config(self) -> Mapping[str, Any]:
        return self.doc.get("config") or {}

    @property
    def history(self) -> list[Mapping[str, Any]]:
        return list(self.doc.get("history") or [])

    @property
    def created(self) -> str:
        return self.doc.get("created") or "0001-01-01T00:00:00Z"

    @property
    def architecture(self) -> str:
        return self.doc.get("architecture", "")

    @property
    def os(self) -> str:
        return self.doc.get("os", "")


# The JSON types of the config fields lamina reads. Docker decodes configs into Go structs and
# refuses a document whose field has the wrong type ("json: cannot unmarshal ..."); so does
# lamina, at the door, instead of failing later in ``images`` or ``history``. null is allowed
# everywhere (Go reads it as the zero value). Cmd, Entrypoint and Shell may be a single string
# (docker's StrSlice).
_STR, _LIST, _MAP, _BOOL, _STRS, _STR_OR_STRS, _STR_MAP = "str", "list", "map", "bool", "strs", "str|strs", "str map"
_TOP_FIELDS = {
    "created": _STR, "author": _STR, "architecture": _STR, "os": _STR, "variant": _STR,
    "comment": _STR, "docker_version": _STR, "container": _STR, "parent": _STR,
    "config": _MAP, "container_config": _MAP, "history": _LIST, "os.version": _STR, "os.features": _STRS,
}
_CONTAINER_FIELDS = {
    "User": _STR, "WorkingDir": _STR, "Env": _STRS, "Entrypoint": _STR_OR_STRS, "Cmd": _STR_OR_STRS,
    "Shell": _STR_OR_STRS, "Labels": _STR_MAP, "ExposedPorts": _MAP, "Volumes": _MAP, "StopSignal": _STR,
    "Hostname": _STR, "Domainname": _STR, "Image": _STR, "OnBuild": _STRS,
}
_HISTORY_FIELDS = {"created": _STR, "created_by": _STR, "author": _STR, "comment": _STR, "empty_layer": _BOOL}


def _has_type(value: Any, kind: str) -> bool:
    if value is None:
        return True
    if kind == _STR:
        return isinstance(value, str)
    if kind == _BOOL:
        return isinstance(value, bool)
    if kind == _LIST:
        return isinstance(value, list)
    if kind == _MAP:
        return isinstance(value, dict)
    if kind == _STR_MAP:
        return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())
    strs = isinstance(value, list) and all(isinstance(v, str) for v in value)
    return strs or (kind == _STR_OR_STRS and isinstance(value, str))


def _check_fields(doc: Mapping[str, Any], fields: Mapping[str, str], where: str) -> None:
    for key, kind in fields.items():
        if key in doc and not _has_type(doc[key], kind):
            raise InvalidArgument(f"malformed image config: {where}{key} must be a {kind.replace('strs', 'list of strings')}")


def _check_config_types(doc: Mapping[str, Any]) -> None:
    _check_fields(doc, _TOP_FIELDS, "")
    for section in ("config", "container_config"):
        if isinstance(doc.get(section), dict):
            _check_fields(doc[section], _CONTAINER_FIELDS, f"{section}.")
    for entry in doc.get("history") or []:
        if not isinstance(entry, dict):
            raise InvalidArgument("malformed image config: history entries must be objects")
        _check_fields(entry, _HISTORY_FIELDS, "history[].")


def chain_ids(diff_ids: Sequence[Digest]) -> list[Digest]:
    """ChainID(L1) = DiffID(L1); ChainID(L1..n) = sha256(ChainID(L1..n-1) + " " + DiffID(Ln))."""
    out: list[Digest] = []
    for diff_id in diff_ids:
        if not out:
            out.append(diff_id)
        else:
            out.append(Digest.of_bytes(f"{out[-1]} {diff_id}".encode()))
    return out
