"""Image operations over the local store: resolve, import, list, inspect, history, tag.

Removal and pruning live in ``image.remove``; save and load in ``image.transfer``.
Everything here returns data (dataclasses and dicts); rendering belongs to the CLI.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, BinaryIO

from .. import reference as refs
from ..archive.compression import open_decompressed
from ..digest import Digest
from ..errors import InvalidArgument, InvalidReference, NotFound
from ..oci import ImageConfig, canonical_json, chain_ids
from ..store.store import Store
from . import config as cfg
from .changes import apply_changes

DOCKER_VERSION = "lamina"


@dataclass(frozen=True)
class ImageSummary:
    """One image as ``image ls`` sees it."""

    id: Digest
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    created: str
    size: int
    parent: Digest | None
    labels: dict[str, str] = field(default_factory=dict)
    has_children: bool = False
    containers: int = 0


@dataclass(frozen=True)
class HistoryEntry:
    id: str  # image ID, or "<missing>"
    created: str
    created_by: str
    size: int
    comment: str
    tags: tuple[str, ...] = ()


def parse_time(text: str) -> datetime:
    """Go RFC3339Nano → aware datetime (fraction cut to microseconds)."""
    from ..format.units import parse_time as _parse

    return _parse(text)


class ImageService:
    def __init__(self, store: Store) -> None:
        self.store = store

    # resolving names ---------------------------------------------------------------------
    def resolve(self, name: str) -> Digest:
        """An image ID for ``name``: a reference, a full ``sha256:`` ID, or a unique ID prefix.

        Raises NotFound("No such image: …") as docker words it.
        """
        if name.startswith("sha256:") and Digest.is_valid(name):
            image_id = Digest.parse(name)
            if self.store.images.exists(image_id):
                return image_id
            raise NotFound(f"No such image: {name}")
        ref = None
        try:
            ref = refs.parse(name).with_default_tag()
        except InvalidReference:
            if not _looks_like_id(name):
                raise
        if ref is not None:
            image_id = self.store.repositories.get(ref)
            if image_id is not None and self.store.images.exists(image_id):
                return image_id
        if _looks_like_id(name):
            matches = self.store.images.find_by_prefix(name)
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidArgument(f"image ID {name!r} is ambiguous; give more characters")
        shown = ref.familiar() if ref is not None else name
        raise NotFound(f"No such image: {shown}")

    # import ------------------------------------------------------------------------------
    def import_tarball(
        self,
        source: BinaryIO,
        source_name: str = "-",
        reference: str | None = None,
        changes: Iterable[str] = (),
        message: str = "",
    ) -> Digest:
        """``image import``: one layer from a (possibly compressed) tar of a root fs."""
        target = refs.parse(reference).with_default_tag() if reference else None
        if target is not None and target.digest is not None:
            raise InvalidReference("refusing to create a tag with a digest reference")
        container_config = apply_changes(dict(cfg.DEFAULT_CONTAINER_CONFIG), list(changes))
        comment = message or f"Imported from {source_name}"
        with self.store.lease() as lease:
            stream = open_decompressed(source, limits=self.store.limits)
            layer = self.store.create_layer(lease, None, stream)
            created = cfg.now_rfc3339()
            doc = {
                "architecture": cfg.go_arch(),
                "comment": comment,
                "config": cfg.full_container_config(container_config),
                "container_config": cfg.full_container_config(None),
                "created": created,
                "docker_version": DOCKER_VERSION,
                "history": [{"created": created, "comment": comment}],
                "os": "linux",
                "rootfs": {"type": "layers", "diff_ids": [str(layer.diff_id)]},
            }
            image_id = self.store.register_image(canonical_json(doc))
            if target is not None:
                self._set_tag(target, image_id)
        return image_id

    # tags --------------------------------------------------------------------------------
    def tag(self, source: str, target: str) -> None:
        image_id = self.resolve(source)
        ref = refs.parse(target)
        if ref.digest is not None:
            raise InvalidReference("refusing to create a tag with a digest reference")
        self._set_tag(ref.with_default_tag(), image_id)

    def _set_tag(self, ref: refs.Reference, image_id: Digest) -> None:
        with self.store.lock():
            if not self.store.images.exists(image_id):
                raise NotFound(f"No such image: {image_id}")
            self.store.repositories.set(ref, image_id)
            self.store.images.touch(image_id)

    # listing -----------------------------------------------------------------------------
    def summaries(self) -> list[ImageSummary]:
        """Every image with its references, size and family, newest first."""
        by_image: dict[Digest, tuple[list[str], list[str]]] = {}
        for entry in self.store.repositories.entries():
            tags, digests = by_image.setdefault(entry.image_id, ([], []))
            (digests if entry.reference.digest else tags).append(entry.reference.familiar())
        containers: dict[Digest, int] = {}
        for use in self.store.container_uses():
            containers[use.image_id] = containers.get(use.image_id, 0) + 1
        size_cache: dict[Digest, int] = {}
        parents: dict[Digest, Digest | None] = {}
        configs: dict[Digest, ImageConfig] = {}
        for image_id in self.store.images.ids():
            try:
                configs[image_id] = self.store.images.get(image_id)
            except (NotFound, InvalidArgument):
                continue
            parents[image_id] = self.store.images.get_parent(image_id)
        with_children = {p for p in parents.values() if p is not None}
        out = []
        for image_id, config in configs.items():
            tags, digests = by_image.get(image_id, ([], []))
            out.append(
                ImageSummary(
                    id=image_id,
                    repo_tags=tuple(sorted(tags)),
                    repo_digests=tuple(sorted(digests)),
                    created=config.created,
                    size=self.store.image_size(image_id, size_cache, config),
                    parent=parents[image_id],
                    labels=dict(config.config.get("Labels") or {}),
                    has_children=image_id in with_children,
                    containers=containers.get(image_id, 0),
                )
            )
        out.sort(key=lambda s: (_created_key(s.created), s.id.hex), reverse=True)
        return out

    def list(
        self,
        repository: str | None = None,
        filters: Iterable[str] = (),
        all_images: bool = False,
    ) -> list[ImageSummary]:
        """``image ls``: summaries after the filters docker supports."""
        parsed = parse_filters(filters)
        if repository:
            parsed.setdefault("reference", []).append(repository)
        images = self.summaries()
        for key in ("before", "since"):
            if key in parsed:
                pivot = self.resolve(parsed[key][-1])
                pivot_created = next(_created_key(s.created) for s in images if s.id == pivot)
                images = [
                    s
                    for s in images
                    if (_created_key(s.created) < pivot_created if key == "before" else _created_key(s.created) > pivot_created)
                ]
        dangling = parsed.get("dangling")
        if dangling:
            want = dangling_value(dangling[-1])
            images = [s for s in images if (not s.repo_tags and not s.repo_digests) == want]
        for label in parsed.get("label", []):
            key, sep, value = label.partition("=")
            images = [s for s in images if key in s.labels and (not sep or s.labels[key] == value)]
        if "reference" in parsed:
            images = [_only_matching_refs(s, parsed["reference"]) for s in images]
            images = [s for s in images if s is not None]
        if not all_images and not dangling:
            images = [s for s in images if s.repo_tags or s.repo_digests or not s.has_children]
        return images

    # inspect -----------------------------------------------------------------------------
    def inspect(self, name: str) -> dict[str, Any]:
        image_id = self.resolve(name)
        config = self.store.images.get(image_id)
        doc = config.doc
        references = self.store.repositories.references_to(image_id)
        records = self.store.layer_chain(list(config.diff_ids))
        size = sum(r.size for r in records)
        parent = self.store.images.get_parent(image_id)
        data: dict[str, Any] = {}
        if records:
            data = self.store.driver.metadata(records[-1].cache_id)
            if self.store.driver.name == "overlay2":
                lowers = [self.store.driver.diff_dir(r.cache_id) for r in reversed(records[:-1])]
                data = {k: v for k, v in data.items() if k != "LowerDir"}
                if lowers:
                    data["LowerDir"] = ":".join(lowers)
                data = dict(sorted(data.items()))
        last_tag = self._last_updated(image_id)
        return {
            "Id": str(image_id),
            "RepoTags": sorted(r.familiar() for r in references if r.digest is None),
            "RepoDigests": sorted(r.familiar() for r in references if r.digest is not None),
            "Parent": str(parent) if parent else "",
            "Comment": doc.get("comment", ""),
            "Created": config.created,
            "Container": doc.get("container", ""),
            "ContainerConfig": cfg.full_container_config(doc.get("container_config")),
            "DockerVersion": doc.get("docker_version", ""),
            "Author": doc.get("author", ""),
            "Config": cfg.full_container_config(doc.get("config")),
            "Architecture": doc.get("architecture", ""),
            **({"Variant": doc["variant"]} if doc.get("variant") else {}),
            "Os": doc.get("os", ""),
            "Size": size,
            "VirtualSize": size,
            "GraphDriver": {"Data": data, "Name": self.store.driver.name},
            "RootFS": {"Type": doc.get("rootfs", {}).get("type", "layers"), "Layers": [str(d) for d in config.diff_ids]},
            "Metadata": {"LastTagTime": last_tag},
        }

    def _last_updated(self, image_id: Digest) -> str:
        import os

        from ..store.atomic import read_text

        try:
            return read_text(os.path.join(self.store.paths.imagedb_metadata(image_id), "lastUpdated"))
        except FileNotFoundError:
            return "0001-01-01T00:00:00Z"

    # history -----------------------------------------------------------------------------
    def history(self, name: str) -> list[HistoryEntry]:
        """Newest first. An entry shows an image ID where a local image ends at that step
        (the image itself, or a parent recorded by commit/build), ``<missing>`` elsewhere."""
        image_id = self.resolve(name)
        config = self.store.images.get(image_id)
        entries = config.history or [{"created": config.created, "comment": config.doc.get("comment", "")}]
        records = self.store.layer_chain(list(config.diff_ids))
        known = self._ancestor_ids(image_id)
        out = []
        layer_index = 0
        for position, step in enumerate(entries):
            size = 0
            if not step.get("empty_layer"):
                if layer_index < len(records):
                    size = records[layer_index].size
                layer_index += 1
            out.append((position, step, size))
        result = []
        for position, step, size in reversed(out):
            ident = known.get(position + 1, "<missing>")
            tags = tuple(
                r.familiar() for r in self.store.repositories.references_to(Digest.parse(ident)) if r.digest is None
            ) if ident != "<missing>" else ()
            result.append(
                HistoryEntry(
                    id=ident,
                    created=step.get("created", ""),
                    created_by=step.get("created_by", ""),
                    size=size,
                    comment=step.get("comment", ""),
                    tags=tags,
                )
            )
        return result

    def _ancestor_ids(self, image_id: Digest) -> dict[int, str]:
        """Map "number of history steps" → local image ID, walking recorded parents."""
        found: dict[int, str] = {}
        current: Digest | None = image_id
        while current is not None and self.store.images.exists(current):
            steps = len(self.store.images.get(current).history) or 1
            found.setdefault(steps, str(current))
            current = self.store.images.get_parent(current)
        return found

    def layer_chain_ids(self, image_id: Digest) -> list[Digest]:
        return chain_ids(list(self.store.images.get(image_id).diff_ids))


def _looks_like_id(name: str) -> bool:
    hexpart = name.removeprefix("sha256:")
    return 0 < len(hexpart) <= 64 and all(c in "0123456789abcdef" for c in hexpart)


def _created_key(created: str) -> float:
    try:
        return parse_time(created).timestamp()
    except Exception:
        return 0.0


#: the filters ``image ls`` takes (docker 20.10 refuses ``until`` there; prune takes it)
LIST_FILTERS = ("dangling", "label", "before", "since", "reference")


def parse_filters(filters: Iterable[str], allowed: Iterable[str] = LIST_FILTERS) -> dict[str, list[str]]:
    """``-f name=value`` options by name, each name checked against ``allowed``."""
    parsed: dict[str, list[str]] = {}
    for item in filters:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if not sep:
            raise InvalidArgument(f"bad format of filter (expected name=value): {item}")
        if key not in allowed:
            raise InvalidArgument(f"invalid filter '{key}'")
        parsed.setdefault(key, []).append(value)
    return parsed


def dangling_value(value: str) -> bool:
    """docker's boolean for ``dangling=``: true/false/1/0, anything else refused."""
    lowered = value.lower()
    if lowered not in ("true", "false", "1", "0"):
        raise InvalidArgument(f"invalid filter 'dangling={value}'")
    return lowered in ("true", "1")


def _only_matching_refs(summary: ImageSummary, patterns: list[str]) -> ImageSummary | None:
    """Keep the image if a tag matches one pattern (docker's path.Match on familiar names),
    showing only the matching tags."""

    def matches(ref_text: str) -> bool:
        ref = refs.parse(ref_text)
        name = ref.familiar_name
        for pattern in patterns:
            if ":" in pattern.rsplit("/", 1)[-1]:
                if fnmatch.fnmatchcase(f"{name}:{ref.tag}", pattern):
                    return True
            elif fnmatch.fnmatchcase(name, pattern):
                return True
        return False

    tags = tuple(t for t in summary.repo_tags if matches(t))
    digests = tuple(d for d in summary.repo_digests if matches(d.split("@")[0]))
    if not tags and not digests:
        return None
    from dataclasses import replace

    return replace(summary, repo_tags=tags, repo_digests=digests)


def inspect_json(docs: list[dict[str, Any]]) -> str:
    """``inspect`` without -f: docker's indented JSON array."""
    return json.dumps(docs, indent=4, ensure_ascii=False)


def utcnow() -> datetime:
    return datetime.now(UTC)
