"""Frozen dataclasses for descriptors, manifests and indexes (image configs: ``oci.config``)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ..digest import Digest
from ..errors import InvalidArgument
from . import mediatypes as mt
from .config import ImageConfig, canonical_json, chain_ids
from .config import load_object as _load

__all__ = [
    "Platform", "Descriptor", "Manifest", "Index", "parse_manifest_or_index",
    "ImageConfig", "canonical_json", "chain_ids",
]


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
