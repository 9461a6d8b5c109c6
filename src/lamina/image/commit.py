"""Make a new image from a parent image, an optional new layer and a config: docker's
``CommitImage`` (``image.NewChildImage``), shared by ``container commit`` and ``build``.

The new image is the parent's rootfs plus the layer (unless the layer is empty, as docker's
``layer.IsEmpty`` decides: a tar that is exactly the 1024-byte end-of-archive marker), the
parent's history plus one entry (``created``, ``created_by``, ``author``, ``comment``,
``empty_layer``), and the config given (or the parent's), with ``-c`` changes applied through
:mod:`lamina.image.changes`. The imagedb ``parent`` metadata records the parent, so ``history``
shows its ID and ``rmi`` knows the family.

Layers are registered the way ``import`` and ``load`` register them (``Store.create_layer``:
extracted into a new driver directory, tar-split written, renamed into place), so a layer made
here is byte for byte the tar it came from. The store's rules hold: the parent's layers are
pinned by a lease from the start (a concurrent ``rmi`` of the parent cannot take them), the
config is stored only once every layer is registered, the tag only after the config; the catalog
is written again once, at the end (``ImageService.changes``). Given the same inputs and
``created`` time, the image ID is the same: the tar from an upper directory is deterministic
(``archive.create``) and the config is canonical JSON.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO, Protocol

from .. import reference as refs
from ..digest import Digest
from ..errors import InvalidReference, NotFound, StoreCorrupt
from ..oci import canonical_json, chain_ids
from . import config as cfg
from .changes import apply_changes

if TYPE_CHECKING:
    from ..store.layerdb import LayerRecord
    from ..store.store import Store
    from .service import ImageService

__all__ = ["CommitSpec", "LayerSource", "TarLayer", "UpperDirLayer", "MovedUpperDir", "commit_image", "EMPTY_TAR_DIFF_ID"]

#: sha256 of 1024 zero bytes: the tar with no entries (docker's ``layer.DigestSHA256EmptyTar``)
EMPTY_TAR_DIFF_ID = Digest("sha256", "5f70bf18a086007016e948b04aed3b82103a36bea41755b6cddfaf10ace3c6ef")
_EMPTY_TAR = bytes(1024)


class LayerSource(Protocol):
    """Where the new layer's tar comes from."""

    def open(self) -> AbstractContextManager[BinaryIO]:
        """The uncompressed layer tar."""


@dataclass(frozen=True)
class TarLayer:
    """A layer given as an (uncompressed) tar stream, read once."""

    stream: BinaryIO

    @contextmanager
    def open(self) -> Iterator[BinaryIO]:
        yield self.stream


@dataclass(frozen=True)
class UpperDirLayer:
    """A layer given as an overlay upper directory (a container's ``diff/``): whiteouts as
    overlayfs stores them (0:0 character devices, ``trusted.overlay.opaque=y``) become ``.wh.``
    entries, as docker's overlay2 ``Diff`` writes them."""

    path: str

    @contextmanager
    def open(self) -> Iterator[BinaryIO]:
        try:
            entries = os.listdir(self.path)
        except FileNotFoundError:
            raise NotFound(f"no such layer directory: {self.path}") from None
        if not entries:
            yield io.BytesIO(_EMPTY_TAR)  # what docker's tar of an empty directory is
            return
        from ..archive.create import write_layer_from_overlay_upper
        from ..archive.pipe import piped

        with piped(lambda out: write_layer_from_overlay_upper(self.path, out)) as stream:
            yield stream


@dataclass(frozen=True)
class MovedUpperDir:
    """An overlay upper directory that is the caller's to give away (a build step's container,
    removed right after the commit): under overlay2 it is moved into the new layer
    (``Store.adopt_layer``) instead of being copied; elsewhere it is read as
    :class:`UpperDirLayer` is."""

    path: str

    def register(self, store: Store, lease, parent: LayerRecord | None) -> Digest | None:
        try:
            entries = os.listdir(self.path)
        except FileNotFoundError:
            raise NotFound(f"no such layer directory: {self.path}") from None
        if not entries:
            return None  # the empty tar: no layer, as docker decides
        if store.driver.whiteouts != "overlay":
            with UpperDirLayer(self.path).open() as stream:
                return _register_layer(store, lease, parent, stream)
        return store.adopt_layer(lease, parent, self.path).diff_id


@dataclass(frozen=True)
class CommitSpec:
    """What the new image says about itself.

    ``config`` is the new image's container config (docker's ``config``); None keeps the
    parent's. ``changes`` (``-c``) are applied on top. ``created`` (RFC 3339) defaults to now;
    a caller that wants reproducible IDs passes one.
    """

    config: Mapping[str, Any] | None = None
    changes: Sequence[str] = ()
    container_config: Mapping[str, Any] | None = None
    container: str = ""
    author: str = ""
    comment: str = ""
    created_by: str = ""
    created: str | None = None


def commit_image(
    images: ImageService,
    parent: Digest | None,
    layer: LayerSource | MovedUpperDir | None,
    spec: CommitSpec,
    reference: str | None = None,
) -> Digest:
    """Store the child image of ``parent`` (None: a base image) with ``layer`` on top; tag it
    ``reference`` if given. Returns the new image ID."""
    target = refs.parse(reference).with_default_tag() if reference else None
    if target is not None and target.digest is not None:
        raise InvalidReference("refusing to create a tag with a digest reference")
    store = images.store
    with images.changes(), store.lease() as lease:
        parent_doc: Mapping[str, Any] = {}
        top: LayerRecord | None = None
        parent_diff_ids: list[Digest] = []
        if parent is not None:
            parent_config = store.images.get(parent)
            parent_doc = parent_config.doc
            parent_diff_ids = list(parent_config.diff_ids)
            for chain in chain_ids(parent_diff_ids):
                top = store.pin_existing(lease, chain)
                if top is None:
                    raise StoreCorrupt(f"image {parent} has a missing layer {chain}")
        diff_id: Digest | None = None
        if isinstance(layer, MovedUpperDir):
            diff_id = layer.register(store, lease, top)
        elif layer is not None:
            with layer.open() as stream:
                diff_id = _register_layer(store, lease, top, stream)
        doc = child_config(parent_doc, parent_diff_ids, diff_id, spec)
        image_id = store.register_image(canonical_json(doc), parent)
        if target is not None:
            with store.lock():
                store.repositories.set(target, image_id)
                store.images.touch(image_id)
    return image_id


def child_config(
    parent: Mapping[str, Any], parent_diff_ids: list[Digest], diff_id: Digest | None, spec: CommitSpec
) -> dict[str, Any]:
    """docker's ``NewChildImage``: the parent's rootfs and history, one more of each."""
    empty = diff_id is None or diff_id == EMPTY_TAR_DIFF_ID
    created = spec.created or cfg.now_rfc3339()
    base = spec.config if spec.config is not None else (parent.get("config") or {})
    config = apply_changes(dict(base), list(spec.changes)) if spec.changes else dict(base)
    entry: dict[str, Any] = {"created": created}
    if spec.author:
        entry["author"] = spec.author
    if spec.created_by:
        entry["created_by"] = spec.created_by
    if spec.comment:
        entry["comment"] = spec.comment
    if empty:
        entry["empty_layer"] = True
    diff_ids = [str(d) for d in parent_diff_ids] + ([] if empty else [str(diff_id)])
    doc: dict[str, Any] = {
        "architecture": parent.get("architecture") or cfg.go_arch(),
        "config": cfg.full_container_config(config),
        "container_config": cfg.full_container_config(spec.container_config),
        "created": created,
        "docker_version": _docker_version(),
        "history": [*(parent.get("history") or []), entry],
        "os": parent.get("os") or "linux",
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }
    if spec.container:
        doc["container"] = spec.container
    if spec.author:
        doc["author"] = spec.author
    for key in ("variant", "os.version", "os.features"):
        if parent.get(key):
            doc[key] = parent[key]
    return doc


def _docker_version() -> str:
    from .service import DOCKER_VERSION

    return DOCKER_VERSION


def _register_layer(store: Store, lease, parent: LayerRecord | None, stream: BinaryIO) -> Digest | None:
    """Register the tar as a layer on ``parent``; None for an empty tar, which docker does not
    add to the rootfs (and whose registration it releases at once)."""
    head = _read_exactly(stream, len(_EMPTY_TAR) + 1)
    if head == _EMPTY_TAR:
        return None
    return store.create_layer(lease, parent, _Prefixed(head, stream)).diff_id


def _read_exactly(stream: BinaryIO, n: int) -> bytes:
    chunks, got = [], 0
    while got < n:
        data = stream.read(n - got)
        if not data:
            break
        chunks.append(data)
        got += len(data)
    return b"".join(chunks)


class _Prefixed(io.RawIOBase):
    """``head`` (bytes already read to peek) followed by the rest of ``stream``."""

    def __init__(self, head: bytes, stream: BinaryIO) -> None:
        self._head = memoryview(head)
        self._stream = stream

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        if self._head:
            n = min(len(buffer), len(self._head))
            buffer[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        into = getattr(self._stream, "readinto", None)
        if into is not None:
            return into(buffer) or 0
        data = self._stream.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)
