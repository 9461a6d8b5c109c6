"""Image operations over the local store: resolve, import, list, inspect, history, tag.

Removal and pruning live in ``image.remove``; save and load in ``image.transfer``.
Everything here returns data (dataclasses and dicts); rendering belongs to the CLI.
"""

from __future__ import annotations

from .. import jsonc
from .. import reference as refs
from ..digest import Digest
from ..errors import InvalidArgument, InvalidReference, LaminaError, NotFound
from ..oci import ImageConfig, canonical_json, chain_ids
from ..store.catalog import Catalog, CatalogImage
from ..store.store import Store
from ..value import Value
from . import config as cfg
from .pullpolicy import PULL_POLICIES, check_pull_policy  # noqa: F401 (their home before pullpolicy)

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only (typing costs start-up time: lamina.value says why)
    from collections.abc import Callable, Iterable
    from contextlib import AbstractContextManager
    from datetime import datetime
    from typing import Any, BinaryIO, TypeVar

    from .history import HistoryEntry

    T = TypeVar("T")

DOCKER_VERSION = "lamina"


class ImageSummary(Value):
    """One image as ``image ls`` sees it."""

    __slots__ = (
        "id", "repo_tags", "repo_digests", "created", "size", "parent", "labels", "has_children",
        "containers", "created_ts",
    )
    id: Digest
    repo_tags: tuple[str, ...]
    repo_digests: tuple[str, ...]
    created: str
    size: int
    parent: Digest | None
    labels: dict[str, str]
    has_children: bool
    containers: int
    #: ``created`` as Unix seconds; None when the config's time does not parse
    created_ts: float | None

    def __init__(
        self,
        id: Digest,
        repo_tags: tuple[str, ...],
        repo_digests: tuple[str, ...],
        created: str,
        size: int,
        parent: Digest | None,
        labels: dict[str, str] | None = None,
        has_children: bool = False,
        containers: int = 0,
        created_ts: float | None = None,
    ) -> None:
        self._init(
            id=id, repo_tags=repo_tags, repo_digests=repo_digests, created=created, size=size,
            parent=parent, labels={} if labels is None else labels, has_children=has_children,
            containers=containers, created_ts=created_ts,
        )


def changes_images(method: Callable[..., T]) -> Callable[..., T]:
    """For a public method that changes the image store: the catalog is written again once the
    method returns (``ImageService.changes``), not left for the next ``images`` to rebuild. The
    method's object is the ImageService or has it as ``service``."""

    def wrapper(self, *args, **kwargs):
        with getattr(self, "service", self).changes():
            return method(self, *args, **kwargs)

    # functools.wraps by hand: functools (with collections) is start-up time of every command
    for name in ("__module__", "__name__", "__qualname__", "__doc__"):
        setattr(wrapper, name, getattr(method, name))
    wrapper.__wrapped__ = method
    return wrapper


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
    @changes_images
    def import_tarball(
        self,
        source: BinaryIO,
        source_name: str = "-",
        reference: str | None = None,
        changes: Iterable[str] = (),
        message: str = "",
    ) -> Digest:
        """``image import``: one layer from a (possibly compressed) tar of a root fs."""
        from .changes import apply_changes

        target = refs.parse(reference).with_default_tag() if reference else None
        if target is not None and target.digest is not None:
            raise InvalidReference("refusing to create a tag with a digest reference")
        container_config = apply_changes(dict(cfg.DEFAULT_CONTAINER_CONFIG), list(changes))
        comment = message or f"Imported from {source_name}"
        with self.store.lease() as lease:
            layer = self.store.create_layer(lease, None, source, compression=None)
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

    # registries --------------------------------------------------------------------------
    def pull(self, name: str, platform: str | None = None, progress=None):
        """Pull ``name`` (``busybox``, ``host:5000/a/b:tag``, ``name@sha256:…``) into the store.

        ``platform`` (``linux/arm64``) picks from a multi-platform index (default: this host's);
        ``progress`` receives ``image.pull.Progress`` values as docker's pull messages. Returns an
        ``image.pull.PullResult`` (reference, manifest digest, image ID, whether it changed).
        Raises NotFound, Unauthorized, RegistryUnavailable, DigestMismatch. ``run``, ``create``
        and ``build`` call this when an image is missing.
        """
        from .pull import Puller

        return Puller(self).pull(name, platform, progress)

    def pull_all_tags(self, name: str, platform: str | None = None, progress=None, on_result=None):
        """``pull -a``: every tag of a repository; a list of ``PullResult`` (``on_result`` hears
        of each as it completes)."""
        from .pull import Puller

        return Puller(self).pull_all_tags(name, platform, progress, on_result)

    def pull_plan(self, name: str, platform: str | None = None):
        """``pull --dry-run``: the layers a pull would download and those already held."""
        from .pull import Puller

        return Puller(self).plan(name, platform)

    def resolve_or_pull(self, name: str, pull: str = "missing", platform: str | None = None, progress=None,
                        on_missing: Callable[[str], None] | None = None) -> Digest:
        """The image ID for ``name`` under docker's ``--pull`` policy (``run``, ``create``, a
        build's FROM): ``missing`` pulls only when the store has no such image, ``always`` pulls
        first, ``never`` only looks (NotFound "No such image: …").

        Before an implicit pull ``on_missing`` hears the name as docker prints it in "Unable to
        find image 'busybox:latest' locally". ``progress`` receives the pull's messages and then,
        as docker's daemon sends them, "Digest: …" and "Status: …" (``image.pull.Progress``).
        """
        check_pull_policy(pull)
        if pull != "always":
            try:
                return self.resolve(name)
            except NotFound:
                if pull == "never" or not _pullable(name):
                    raise
            if on_missing is not None:
                on_missing(refs.parse(name).with_default_tag().familiar())
        from .pull import Progress

        result = self.pull(name, platform, progress)
        if progress is not None:
            progress(Progress("", f"Digest: {result.digest}"))
            progress(Progress("", result.status_line()))
        return result.image_id

    def push(self, name: str, all_tags: bool = False, compression: str = "gzip", progress=None):
        """Push ``name`` (a tag, or with ``all_tags`` every tag of the repository) to its
        registry; a list of ``image.push.PushResult``."""
        from .push import Pusher

        return Pusher(self).push(name, all_tags=all_tags, compression=compression, progress=progress)

    # tags --------------------------------------------------------------------------------
    @changes_images
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
    def catalog(self) -> Catalog:
        """The store's image catalog (``store.catalog``): built here, cached on disk."""
        return self.store.catalog(self._build_catalog)

    def changes(self) -> AbstractContextManager[None]:
        """Wrap a command's changes: the catalog is written again once, when they are done."""
        return self.store.changes(self._build_catalog)

    def summaries(self) -> list[ImageSummary]:
        """Every image with its references, size and family, newest first."""
        containers: dict[Digest, int] = {}
        for use in self.store.container_uses():
            containers[use.image_id] = containers.get(use.image_id, 0) + 1
        out = []
        for record in self.catalog().images:
            image_id = Digest.parse(record.id)
            out.append(
                ImageSummary(
                    id=image_id,
                    repo_tags=record.repo_tags,
                    repo_digests=record.repo_digests,
                    created=record.created,
                    size=record.size,
                    parent=Digest.parse(record.parent) if record.parent else None,
                    labels=dict(record.labels),
                    has_children=record.has_children,
                    containers=containers.get(image_id, 0),
                    created_ts=record.created_ts,
                )
            )
        return out

    def _build_catalog(self, previous: Catalog | None = None) -> Catalog:
        """Read the image store: records, the name table, rendered inspect documents.

        An image whose references, parent and ``lastUpdated`` stamp are what ``previous``
        recorded keeps its record and document from there: its config and layers are immutable,
        and those three are all that can change around them.
        """
        from ..store.tagging import spellings

        refs_by_image: dict[Digest, list[refs.Reference]] = {}
        for entry in self.store.repositories.entries():
            refs_by_image.setdefault(entry.image_id, []).append(entry.reference)
        image_ids = self.store.images.ids()
        parents = {image_id: self.store.images.get_parent(image_id) for image_id in image_ids}
        with_children = {p for p in parents.values() if p is not None}
        reusable = {r.id: r for r in previous.images} if previous is not None else {}
        size_cache: dict[Digest, int] = {}
        records: list[CatalogImage] = []
        names: dict[str, str] = {}
        docs: dict[str, str] = {}
        for image_id in image_ids:
            key = str(image_id)
            references = refs_by_image.get(image_id, [])
            parent = parents[image_id]
            surroundings = (
                tuple(sorted(r.familiar() for r in references if r.digest is None)),
                tuple(sorted(r.familiar() for r in references if r.digest is not None)),
                str(parent) if parent else None,
                self._last_updated(image_id),
            )
            old = reusable.get(key)
            doc = previous.inspect_json(key) if old is not None else None
            if old is not None and doc is not None and _surroundings(old) == surroundings:
                record = old
            else:
                try:
                    config = self.store.images.get(image_id)
                except (NotFound, InvalidArgument):
                    continue  # ``system check`` reports it
                record = _catalog_record(key, config, surroundings, self.store.image_size(image_id, size_cache, config))
                try:
                    inspected = self._inspect_doc(image_id, config, references, parent, record.last_tag_time)
                    doc = jsonc.dumps_indented(inspected, 4, ensure_ascii=False)
                except (LaminaError, OSError):
                    doc = None  # a broken layer chain: ``inspect`` reports it when asked
            record.has_children = image_id in with_children
            records.append(record)
            if doc is not None:
                docs[key] = doc
            for reference in references:
                for spelling in spellings(reference):
                    names[spelling] = key
        records.sort(key=lambda r: (r.created_ts or 0.0, r.id), reverse=True)
        return Catalog(records, names, docs=docs)

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
                pivot_created = next(_created_key(s) for s in images if s.id == pivot)
                images = [
                    s
                    for s in images
                    if (_created_key(s) < pivot_created if key == "before" else _created_key(s) > pivot_created)
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
        """docker's ``image inspect`` document, from the catalog (built now if it is stale, so
        the next ``lamina inspect`` takes the fast path)."""
        image_id = self.resolve(name)
        text = self.catalog().inspect_json(str(image_id))
        if text is not None:
            return jsonc.loads(text)
        return self._inspect_doc(  # not in the catalog: a broken image, whose error this raises
            image_id,
            self.store.images.get(image_id),
            self.store.repositories.references_to(image_id),
            self.store.images.get_parent(image_id),
        )

    def _inspect_doc(
        self,
        image_id: Digest,
        config: ImageConfig,
        references: list[refs.Reference],
        parent: Digest | None,
        last_tag: str | None = None,
    ) -> dict[str, Any]:
        """docker's image inspect document (seed 002's field set)."""
        doc = config.doc
        records = self.store.layer_chain(list(config.diff_ids))
        size = sum(r.size for r in records)
        data: dict[str, Any] = {}
        if records:
            data = self.store.driver.metadata(records[-1].cache_id)
            if self.store.driver.name == "overlay2":
                lowers = [self.store.driver.diff_dir(r.cache_id) for r in reversed(records[:-1])]
                data = {k: v for k, v in data.items() if k != "LowerDir"}
                if lowers:
                    data["LowerDir"] = ":".join(lowers)
                data = dict(sorted(data.items()))
        if last_tag is None:
            last_tag = self._last_updated(image_id)
        return {
            "Id": str(image_id),
            "RepoTags": sorted(r.familiar() for r in references if r.digest is None),
            "RepoDigests": sorted(r.familiar() for r in references if r.digest is not None),
            "Parent": str(parent) if parent else "",
            "Comment": _comment(doc),
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
        """``image.history.image_history`` of the image ``name`` resolves to."""
        from .history import image_history

        image_id = self.resolve(name)
        return image_history(self.store.images, self.store.layers, self.store.repositories, image_id)

    def layer_chain_ids(self, image_id: Digest) -> list[Digest]:
        return chain_ids(list(self.store.images.get(image_id).diff_ids))


def _comment(doc: Any) -> str:
    """docker's inspect Comment: the config's own, else the last history entry's (commit and
    build write theirs only there)."""
    comment = doc.get("comment") or ""
    history = doc.get("history") or []
    if not comment and history and isinstance(history[-1], dict):
        comment = history[-1].get("comment") or ""
    return comment




def _pullable(name: str) -> bool:
    """Whether a missing image may be pulled by this name: references yes, ``sha256:`` IDs no."""
    if name.startswith("sha256:"):
        return False
    try:
        refs.parse(name)
    except InvalidReference:
        return False
    return True


def _looks_like_id(name: str) -> bool:
    hexpart = name.removeprefix("sha256:")
    return 0 < len(hexpart) <= 64 and all(c in "0123456789abcdef" for c in hexpart)


def _created_timestamp(created: str) -> float | None:
    try:
        return parse_time(created).timestamp()
    except InvalidArgument:
        return None


def _created_key(summary: ImageSummary) -> float:
    return summary.created_ts if summary.created_ts is not None else 0.0


def _surroundings(record: CatalogImage) -> tuple:
    """What can change around an image whose config and layers cannot: its references, parent
    and lastUpdated stamp. A catalog record whose surroundings are unchanged is still true."""
    return (record.repo_tags, record.repo_digests, record.parent, record.last_tag_time)


def _catalog_record(image_id: str, config: ImageConfig, surroundings: tuple, size: int) -> CatalogImage:
    repo_tags, repo_digests, parent, last_tag_time = surroundings
    return CatalogImage(
        id=image_id,
        repo_tags=repo_tags,
        repo_digests=repo_digests,
        created=config.created,
        created_ts=_created_timestamp(config.created),
        size=size,
        parent=parent,
        labels=dict(config.config.get("Labels") or {}),
        has_children=False,
        last_tag_time=last_tag_time,
    )


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

    import fnmatch

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
    return summary.replace(repo_tags=tags, repo_digests=digests)


def inspect_json(docs: list[dict[str, Any]]) -> str:
    """``inspect`` without -f: docker's indented JSON array."""
    return jsonc.dumps_indented(docs, 4, ensure_ascii=False)


def utcnow() -> datetime:
    from datetime import UTC, datetime

    return datetime.now(UTC)
