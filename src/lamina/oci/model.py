"""Frozen dataclasses for descriptors, manifests, indexes and image configs."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ..digest import Digest
from ..errors import InvalidArgument
from . import mediatypes as mt


def canonical_json(value: Any) -> bytes:
    """JSON as docker writes image configs and manifests it creates: compact, sorted keys.

    Go's encoding/json escapes <, > and & by default; docker's image IDs hash those bytes,
    so we escape them the same way to reproduce its IDs for the same content.
    """
    text = json.dumps(value, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026").encode()


def _load(raw: bytes, what: str) -> dict:
    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise InvalidArgument(f"malformed {what}: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"malformed {what}: not a JSON object")
    return doc


@dataclass(frozen=True, slots=True)
class Platform:
    architecture: str
    os: str
    variant: str | None = None
    os_version: str | None = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Platform:
        if not isinstance(doc, Mapping):
            raise InvalidArgument("malformed platform: not an object")
        return cls(
            str(doc.get("architecture", "")),
            str(doc.get("os", "")),
            doc.get("variant"),
            doc.get("os.version"),
        )

    def to_json(self) -> dict:
        out = {"architecture": self.architecture, "os": self.os}
        if self.variant:
            out["variant"] = self.variant
        if self.os_version:
            out["os.version"] = self.os_version
        return out



# the spec's types for optional fields, checked so that a hostile document is refused here
# rather than failing later where the field is used
def _annotations(doc: Mapping[str, Any]) -> dict[str, str] | None:
    value = doc.get("annotations")
    if value is None:
        return None
    if not isinstance(value, Mapping) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        raise InvalidArgument("malformed document: annotations must map strings to strings")
    return dict(value)


def _urls(doc: Mapping[str, Any]) -> list[str] | None:
    value = doc.get("urls")
    if value is None:
        return None
    if not isinstance(value, list) or not all(isinstance(u, str) for u in value):
        raise InvalidArgument("malformed descriptor: urls must be a list of strings")
    return value


def _declared_media_type(doc: Mapping[str, Any]) -> str | None:
    value = doc.get("mediaType")
    if value is not None and not isinstance(value, str):
        raise InvalidArgument("malformed document: mediaType must be a string")
    return value


def _artifact_type(doc: Mapping[str, Any]) -> str | None:
    value = doc.get("artifactType")
    if value is not None and not isinstance(value, str):
        raise InvalidArgument("malformed document: artifactType must be a string")
    return value

@dataclass(frozen=True, slots=True)
class Descriptor:
    media_type: str
    digest: Digest
    size: int
    annotations: Mapping[str, str] | None = None
    platform: Platform | None = None
    urls: Sequence[str] | None = None
    artifact_type: str | None = None

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> Descriptor:
        if not isinstance(doc, Mapping):
            raise InvalidArgument("malformed descriptor: not an object")
        size = doc.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise InvalidArgument("malformed descriptor: size must be a non-negative integer")
        media_type = doc.get("mediaType")
        if not isinstance(media_type, str) or not media_type:
            raise InvalidArgument("malformed descriptor: mediaType is missing")
        platform = doc.get("platform")
        return cls(
            media_type=media_type,
            digest=Digest.parse(doc.get("digest", "")),
            size=size,
            annotations=_annotations(doc),
            platform=Platform.from_json(platform) if platform is not None else None,
            urls=_urls(doc),
            artifact_type=_artifact_type(doc),
        )

    def to_json(self) -> dict:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.urls:
            out["urls"] = list(self.urls)
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform:
            out["platform"] = self.platform.to_json()
        if self.artifact_type:
            out["artifactType"] = self.artifact_type
        return out


@dataclass(frozen=True, slots=True)
class Manifest:
    """An image manifest (OCI or Docker schema 2) with the bytes it came from."""

    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    raw: bytes
    subject: Descriptor | None = None
    artifact_type: str | None = None
    annotations: Mapping[str, str] | None = None

    @property
    def digest(self) -> Digest:
        return Digest.of_bytes(self.raw)

    @classmethod
    def parse(cls, raw: bytes, media_type: str | None = None) -> Manifest:
        doc = _load(raw, "manifest")
        if "manifests" in doc:
            raise InvalidArgument("malformed manifest: has both layers and manifests")
        declared = _declared_media_type(doc)
        kind = declared or media_type or mt.OCI_MANIFEST
        if declared and media_type and declared != media_type:
            raise InvalidArgument(
                f"malformed manifest: mediaType {declared} does not match {media_type}"
            )
        if kind not in mt.MANIFESTS:
            raise InvalidArgument(f"unsupported manifest media type: {kind}")
        if doc.get("schemaVersion") != 2:
            raise InvalidArgument("malformed manifest: schemaVersion must be 2")
        if "config" not in doc:
            raise InvalidArgument("malformed manifest: config is missing")
        layers = doc.get("layers", [])
        if not isinstance(layers, list):
            raise InvalidArgument("malformed manifest: layers must be a list")
        subject = doc.get("subject")
        return cls(
            media_type=kind,
            config=Descriptor.from_json(doc["config"]),
            layers=tuple(Descriptor.from_json(layer) for layer in layers),
            raw=bytes(raw),
            subject=Descriptor.from_json(subject) if subject else None,
            artifact_type=_artifact_type(doc),
            annotations=_annotations(doc),
        )

    @classmethod
    def build(
        cls,
        config: Descriptor,
        layers: Sequence[Descriptor],
        media_type: str = mt.DOCKER_MANIFEST,
        annotations: Mapping[str, str] | None = None,
    ) -> Manifest:
        doc: dict[str, Any] = {
            "schemaVersion": 2,
            "mediaType": media_type,
            "config": config.to_json(),
            "layers": [layer.to_json() for layer in layers],
        }
        if annotations:
            doc["annotations"] = dict(annotations)
        raw = json.dumps(doc, indent=3 if media_type == mt.DOCKER_MANIFEST else None).encode()
        return cls(media_type, config, tuple(layers), raw, annotations=annotations)


@dataclass(frozen=True, slots=True)
class Index:
    """An OCI image index or a Docker manifest list."""

    media_type: str
    manifests: tuple[Descriptor, ...]
    raw: bytes
    annotations: Mapping[str, str] | None = None
    subject: Descriptor | None = None

    @property
    def digest(self) -> Digest:
        return Digest.of_bytes(self.raw)

    @classmethod
    def parse(cls, raw: bytes, media_type: str | None = None) -> Index:
        doc = _load(raw, "index")
        if "layers" in doc or "config" in doc:
            raise InvalidArgument("malformed index: has both manifests and layers")
        declared = _declared_media_type(doc)
        kind = declared or media_type or mt.OCI_INDEX
        if declared and media_type and declared != media_type:
            raise InvalidArgument(
                f"malformed index: mediaType {declared} does not match {media_type}"
            )
        if kind not in mt.INDEXES:
            raise InvalidArgument(f"unsupported index media type: {kind}")
        manifests = doc.get("manifests")
        if not isinstance(manifests, list):
            raise InvalidArgument("malformed index: manifests must be a list")
        subject = doc.get("subject")
        return cls(
            kind,
            tuple(Descriptor.from_json(m) for m in manifests),
            bytes(raw),
            _annotations(doc),
            Descriptor.from_json(subject) if subject else None,
        )


def parse_manifest_or_index(raw: bytes, media_type: str | None = None) -> Manifest | Index:
    """Read a document that may be either; one that looks like both is refused."""
    doc = _load(raw, "manifest")
    if "manifests" in doc and ("layers" in doc or "config" in doc):
        raise InvalidArgument("malformed manifest: has both layers and manifests")
    kind = _declared_media_type(doc) or media_type
    if kind in mt.INDEXES or (kind is None and "manifests" in doc):
        return Index.parse(raw, media_type)
    return Manifest.parse(raw, media_type)


@dataclass(frozen=True, slots=True)
class ImageConfig:
    """An image configuration (``application/vnd.docker.container.image.v1+json``).

    ``doc`` is the full decoded JSON (docker's fields beyond the OCI ones are kept, since the
    image ID is the hash of ``raw`` and inspect shows them); accessors cover what lamina uses.
    """

    raw: bytes
    doc: Mapping[str, Any] = field(compare=False)

    @classmethod
    def parse(cls, raw: bytes) -> ImageConfig:
        doc = _load(raw, "image config")
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
