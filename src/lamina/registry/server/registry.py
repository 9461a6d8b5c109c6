"""The registry's content model over a storage driver: blobs, repositories, manifests, tags.

Blobs are stored once under ``blobs/`` and made visible to a repository by a link file; a
repository can only serve what it links, so one repository's pushes never leak through another
name. Manifests are blobs too, linked as revisions; a tag is a link to a revision.

Every change that makes an existing blob reachable (an upload's completion, a mount, a
manifest that references it) happens under the shared side of :class:`GCLock` and touches the
blob, so a garbage collection that started earlier never sweeps it (see ``gc.py``).
"""

from __future__ import annotations

import asyncio
import fcntl
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from ...digest import Digest
from ...errors import InvalidArgument
from ...oci import mediatypes as mt
from ...oci.model import Index, Manifest, parse_manifest_or_index
from ...reference import is_valid_repository_path, is_valid_tag
from . import paths, sweep
from .cache import BlobDescriptorCache
from .errors import RegistryError
from .storage import PathNotFound, StorageDriver

__all__ = ["Registry", "StoredManifest", "GCLock", "parse_digest", "check_name", "check_tag"]

#: docker and containerd refuse manifests above 4 MiB; so does Distribution
MAX_MANIFEST_BYTES = 4 << 20
MANIFEST_TYPES = mt.MANIFESTS | mt.INDEXES


def parse_digest(text: str) -> Digest:
    """A digest from a URL or query, or DIGEST_INVALID (400) — never a path."""
    try:
        return Digest.parse(text)
    except InvalidArgument as exc:
        raise RegistryError("DIGEST_INVALID", str(exc)) from None


def check_name(name: str) -> str:
    if not name or len(name) > 255 or not is_valid_repository_path(name):
        raise RegistryError("NAME_INVALID", f"invalid repository name: {name[:300]!r}", detail={"name": name[:300]})
    return name


def check_tag(tag: str) -> str:
    if not is_valid_tag(tag):
        raise RegistryError("TAG_INVALID", f"invalid tag: {tag[:200]!r}", detail={"tag": tag[:200]})
    return tag


@dataclass(frozen=True)
class StoredManifest:
    digest: Digest
    media_type: str
    raw: bytes


class GCLock:
    """Link operations hold it shared; garbage collection takes it exclusively per blob."""

    def __init__(self, driver: StorageDriver) -> None:
        local = driver.local_path(paths.ROOT + "/_gc.lock")
        self._path = local
        if local is not None:
            os.makedirs(os.path.dirname(local), exist_ok=True)

    @contextmanager
    def _held(self, mode: int) -> Iterator[None]:
        if self._path is None:
            yield
            return
        fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, mode)
            yield
        finally:
            os.close(fd)

    @property
    def held(self) -> bool:
        """False where storage has no local lock (an object store): re-checks under it would
        only repeat the round trips."""
        return self._path is not None

    def shared(self):
        return self._held(fcntl.LOCK_SH)

    def exclusive(self):
        return self._held(fcntl.LOCK_EX)


def manifest_media_type(raw: bytes, declared: str | None) -> str:
    """The media type a stored manifest is served with: its own, else what it looks like."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return declared or mt.OCI_MANIFEST
    if isinstance(doc, dict) and isinstance(doc.get("mediaType"), str):
        return doc["mediaType"]
    if isinstance(doc, dict) and "manifests" in doc:
        return mt.OCI_INDEX
    if isinstance(doc, dict) and doc.get("schemaVersion") == 1:
        return mt.DOCKER_SCHEMA1_SIGNED if "signatures" in doc else mt.DOCKER_SCHEMA1
    return declared or mt.OCI_MANIFEST


def parse_pushed_manifest(raw: bytes, content_type: str | None) -> Manifest | Index:
    """A pushed body as a manifest or index, or MANIFEST_INVALID (400) — whatever is wrong
    with it. The parser is the boundary with hostile input: any exception it raises (deep
    nesting's RecursionError, a type it did not expect) is the client's fault, never a 500."""
    declared = content_type.split(";")[0].strip() if content_type else None
    if declared not in MANIFEST_TYPES:
        declared = None  # docker sends its own types; anything else we judge by the body
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        raise RegistryError("MANIFEST_INVALID", "manifest is not valid JSON") from None
    if isinstance(doc, dict) and doc.get("schemaVersion") == 1:
        raise RegistryError("MANIFEST_INVALID", "schema 1 manifests are not accepted; push schema 2 or OCI")
    try:
        parsed = parse_manifest_or_index(raw, declared)
    except InvalidArgument as exc:
        raise RegistryError("MANIFEST_INVALID", str(exc)) from None
    except Exception as exc:  # noqa: BLE001 - see the docstring
        raise RegistryError("MANIFEST_INVALID", f"malformed manifest: {type(exc).__name__}") from None
    if content_type and declared is None and content_type.split(";")[0].strip() in (mt.DOCKER_SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED):
        raise RegistryError("MANIFEST_INVALID", "Content-Type does not match the manifest")
    return parsed


class Registry:
    def __init__(self, driver: StorageDriver, cache: BlobDescriptorCache | None = None) -> None:
        self.driver = driver
        self.gc_lock = GCLock(driver)
        #: serves only reads (blob GET/HEAD); writes and validation always ask storage, so a
        #: stale entry can never let a manifest reference a blob that is gone
        self.cache = cache or BlobDescriptorCache()

    async def call(self, fn, *args):
        """Run a storage-bound call from the event loop: in a thread when the driver waits on
        a network (an object store), inline when it is a local disk (cheaper than a hop)."""
        if self.driver.blocking:
            return await asyncio.to_thread(fn, *args)
        return fn(*args)

    # links -----------------------------------------------------------------------------
    def _read_link(self, path: str) -> Digest | None:
        try:
            text = self.driver.get_content(path).decode().strip()
        except PathNotFound:
            return None
        return Digest.parse(text) if Digest.is_valid(text) else None

    def _write_link(self, path: str, d: Digest) -> None:
        self.driver.put_content(path, str(d).encode())

    # blobs -----------------------------------------------------------------------------
    def blob_size(self, d: Digest) -> int | None:
        try:
            return self.driver.stat(paths.blob_data(d)).size
        except PathNotFound:
            return None

    def repo_has_blob(self, name: str, d: Digest) -> bool:
        linked = self._read_link(paths.layer_link(name, d)) == d
        if not linked:
            # manifests fetched through the blob endpoint (Distribution allows it)
            linked = self._read_link(paths.revision_link(name, d)) == d
        return linked and self.blob_size(d) is not None

    def note_push_check(self, name: str, d: Digest) -> bool:
        """A client asked whether ``name`` has blob ``d`` (HEAD): it is about to skip uploading
        it and reference it from a manifest, so refresh the link garbage collection reads.
        False when the blob turns out to be gone (swept, maybe by another instance): the
        answer must then be 404, so that the client uploads it."""
        with self.gc_lock.shared():
            touched = self._touch_link(name, d)
            return self.gc_lock.held or (touched and self._settled(d))

    def _settled(self, d: Digest) -> bool:
        """After a touch: whether blob ``d`` is still stored and no sweep can take it (see
        :mod:`.sweep`; a filesystem's lock has already made sure)."""
        return True if self.gc_lock.held else sweep.settled_presence(self.driver, d)

    def _stored_once_settled(self, d: Digest) -> bool:
        """Whether blob ``d`` is stored, once any sweep of it in progress has ended (so that
        data written next is not deleted with the old)."""
        return self.blob_size(d) is not None if self.gc_lock.held else sweep.settled_presence(self.driver, d)

    def _touch_link(self, name: str, d: Digest) -> bool:
        for link in (paths.layer_link(name, d), paths.revision_link(name, d)):
            try:
                self.driver.touch(link)
                return True
            except PathNotFound:
                continue
        return False

    def touch_blob(self, d: Digest) -> None:
        """Mark blob ``d`` as just used by a push (garbage collection keeps it for the grace).

        A filesystem renews the data's mtime; an object store cannot without copying the whole
        object, so it writes a small ``lastused`` object beside ``data`` instead (Distribution
        reads only ``data`` in a blob's directory and deletes the directory whole)."""
        if self.driver.cheap_touch:
            self.driver.touch(paths.blob_data(d))
        else:
            self.driver.put_content(paths.blob_last_used(d), b"")

    def blob_last_used(self, d: Digest) -> float:
        """When blob ``d`` was last written or touched (0 when it is gone)."""
        newest = 0.0
        for path in (paths.blob_data(d), paths.blob_last_used(d)) if not self.driver.cheap_touch else (paths.blob_data(d),):
            try:
                newest = max(newest, self.driver.stat(path).mtime)
            except PathNotFound:
                continue
        return newest

    def blob_descriptor(self, name: str, d: Digest) -> int | None:
        """The size of blob ``d`` if repository ``name`` serves it (cached), else None."""
        size = self.cache.repo_size(name, d)
        if size is not None:
            return size
        if not self.repo_has_blob(name, d):
            return None
        size = self.blob_size(d)
        if size is not None:
            self.cache.remember(name, d, size)
        return size

    def link_blob(self, name: str, d: Digest) -> bool:
        """Make a stored blob visible in ``name`` (a mount); False when it turns out to be
        gone (swept meanwhile): the client must then upload it."""
        with self.gc_lock.shared():
            self.touch_blob(d)
            self._write_link(paths.layer_link(name, d), d)
            return self._settled(d)

    def commit_upload(self, name: str, upload_path: str, d: Digest) -> None:
        """Move verified upload data into the blob store (once) and link it."""
        with self.gc_lock.shared():
            moved = not self._stored_once_settled(d)
            if moved:
                self.driver.move(upload_path, paths.blob_data(d))
            if not (moved and self.driver.move_renews_mtime):
                self.touch_blob(d)
            self._write_link(paths.layer_link(name, d), d)
            if not moved and not self._settled(d):
                self.driver.move(upload_path, paths.blob_data(d))  # swept after all: ours replaces it

    def put_blob_bytes(self, name: str, data: bytes, d: Digest) -> None:
        with self.gc_lock.shared():
            if not self._stored_once_settled(d):
                self.driver.put_content(paths.blob_data(d), data)
            self.touch_blob(d)
            self._write_link(paths.layer_link(name, d), d)
            if not self._settled(d):
                self.driver.put_content(paths.blob_data(d), data)

    def unlink_blob(self, name: str, d: Digest) -> bool:
        self.cache.forget(d, name)
        try:
            self.driver.delete(os.path.dirname(paths.layer_link(name, d)))
        except PathNotFound:
            return False
        return True

    def blob_local_path(self, d: Digest) -> str | None:
        return self.driver.local_path(paths.blob_data(d))

    def open_blob(self, d: Digest, offset: int = 0):
        return self.driver.reader(paths.blob_data(d), offset)

    # repositories ----------------------------------------------------------------------
    def repo_exists(self, name: str) -> bool:
        try:
            return self.driver.stat(paths.repo(name)).is_dir
        except PathNotFound:
            return False

    def catalog(self) -> list[str]:
        """Every repository name (a directory holding ``_manifests`` or ``_layers``), sorted."""
        names: list[str] = []

        def visit(path: str, prefix: str) -> None:
            try:
                children = self.driver.list(path)
            except PathNotFound:
                return
            leaf_names = [c.rsplit("/", 1)[1] for c in children]
            if any(n in ("_manifests", "_layers") for n in leaf_names):
                names.append(prefix)
            for child, leaf in zip(children, leaf_names, strict=True):
                if not leaf.startswith("_") and self.driver.stat(child).is_dir:
                    visit(child, f"{prefix}/{leaf}" if prefix else leaf)

        visit(paths.repositories_root(), "")
        return sorted(names)

    # manifests -------------------------------------------------------------------------
    def resolve_tag(self, name: str, tag: str) -> Digest | None:
        return self._read_link(paths.tag_current(name, tag))

    def get_manifest(self, name: str, d: Digest) -> StoredManifest | None:
        if self._read_link(paths.revision_link(name, d)) != d:
            return None
        try:
            raw = self.driver.get_content(paths.blob_data(d))
        except PathNotFound:
            return None
        return StoredManifest(d, manifest_media_type(raw, None), raw)

    def validate_manifest(self, name: str, raw: bytes, content_type: str | None) -> Manifest | Index:
        """Parse and check a pushed manifest: media types agree, everything it names exists."""
        if len(raw) > MAX_MANIFEST_BYTES:
            raise RegistryError("SIZE_INVALID", f"manifest is larger than {MAX_MANIFEST_BYTES} bytes", status=413)
        parsed = parse_pushed_manifest(raw, content_type)
        self._check_references(name, parsed)
        return parsed

    def _check_references(self, name: str, parsed: Manifest | Index) -> None:
        """Every blob and child manifest must be in the repository, except layers that are
        never distributed (non-distributable and Docker foreign layers): the spec accepts
        those without their blobs. Both kinds of absence answer the spec's code,
        MANIFEST_BLOB_UNKNOWN."""
        missing = []
        if isinstance(parsed, Manifest):
            for desc in (parsed.config, *parsed.layers):
                if desc.media_type in mt.NONDISTRIBUTABLE_LAYERS:
                    continue
                if not self.repo_has_blob(name, desc.digest):
                    missing.append(desc.digest)
        else:
            for desc in parsed.manifests:
                if self._read_link(paths.revision_link(name, desc.digest)) != desc.digest:
                    missing.append(desc.digest)
        if missing:
            what = "blob" if isinstance(parsed, Manifest) else "manifest"
            raise RegistryError("MANIFEST_BLOB_UNKNOWN", f"{what} unknown to registry: {missing[0]}", detail={"digest": str(missing[0])})

    def put_manifest(self, name: str, raw: bytes, parsed: Manifest | Index, d: Digest, tag: str | None) -> None:
        with self.gc_lock.shared():
            if self.gc_lock.held:
                # re-check under the lock: a collection may have swept a blob since validation
                self._check_references(name, parsed)
            # refresh the links the collector re-checks (small objects), not the blobs' data:
            # on an object store touching data is a server-side copy of every layer
            children = parsed.layers + (parsed.config,) if isinstance(parsed, Manifest) else ()
            for desc in children:
                self._touch_link(name, desc.digest)
            if not self.gc_lock.held:
                # no lock to re-check under: a blob that a sweep took since validation (on
                # any instance) is unknown, as it would be under the lock
                for desc in children:
                    if desc.media_type not in mt.NONDISTRIBUTABLE_LAYERS and not self._settled(desc.digest):
                        raise RegistryError("MANIFEST_BLOB_UNKNOWN", f"blob unknown to registry: {desc.digest}",
                                            detail={"digest": str(desc.digest)})
            if self.blob_size(d) is None:
                self.driver.put_content(paths.blob_data(d), raw)
            self.touch_blob(d)
            if not self._settled(d):
                self.driver.put_content(paths.blob_data(d), raw)  # swept as we came: again
            self._write_link(paths.revision_link(name, d), d)
            if parsed.subject is not None:
                self._write_link(paths.referrer_link(name, parsed.subject.digest, d), d)
            if tag is not None:
                # current/link first: a crash between the two leaves a tag that resolves (its
                # index entry is only history); the other order could list a tag that 404s
                self._write_link(paths.tag_current(name, tag), d)
                self._write_link(paths.tag_index(name, tag, d), d)

    def delete_manifest(self, name: str, d: Digest) -> bool:
        """Remove a revision and every tag pointing at it (Distribution's semantics)."""
        manifest = self.get_manifest(name, d)
        if manifest is None:
            return False
        for tag in self.tags(name):
            if self.resolve_tag(name, tag) == d:
                self.driver.delete(paths.tag_dir(name, tag))
        self.driver.delete(os.path.dirname(paths.revision_link(name, d)))
        try:
            parsed = parse_manifest_or_index(manifest.raw)
        except InvalidArgument:
            return True
        if parsed.subject is not None:
            try:
                self.driver.delete(os.path.dirname(paths.referrer_link(name, parsed.subject.digest, d)))
            except PathNotFound:
                pass
        return True

    def delete_tag(self, name: str, tag: str) -> bool:
        try:
            self.driver.delete(paths.tag_dir(name, tag))
        except PathNotFound:
            return False
        return True

    def tags(self, name: str) -> list[str]:
        """Tags that resolve to a manifest of ``name``: a directory left by a crash (or a
        writer of another implementation) without a usable current link is not listed."""
        try:
            children = self.driver.list(paths.tags_root(name))
        except PathNotFound:
            return []
        out = []
        for child in children:
            tag = child.rsplit("/", 1)[1]
            d = self.resolve_tag(name, tag)
            if d is not None and self._read_link(paths.revision_link(name, d)) == d:
                out.append(tag)
        return sorted(out)

    def revisions(self, name: str) -> list[Digest]:
        out = []
        for alg in ("sha256", "sha512"):
            try:
                children = self.driver.list(f"{paths.revisions_root(name)}/{alg}")
            except PathNotFound:
                continue
            for child in children:
                text = f"{alg}:{child.rsplit('/', 1)[1]}"
                if Digest.is_valid(text):
                    out.append(Digest.parse(text))
        return out

    def referrers(self, name: str, subject: Digest) -> list[StoredManifest]:
        base = paths.referrers_dir(name, subject)
        out = []
        for alg in ("sha256", "sha512"):
            try:
                children = self.driver.list(f"{base}/{alg}")
            except PathNotFound:
                continue
            for child in children:
                text = f"{alg}:{child.rsplit('/', 1)[1]}"
                if not Digest.is_valid(text):
                    continue
                stored = self.get_manifest(name, Digest.parse(text))
                if stored is not None:
                    out.append(stored)
        return out
