"""``image save`` and ``image load``: between the local store and image archives."""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from typing import BinaryIO

from .. import reference as refs
from ..archive import tarsplit
from ..errors import InvalidReference
from ..oci import chain_ids
from ..store.atomic import temp_name
from ..store.blobs import KINDS as BLOB_KINDS
from ..store.layerdb import LayerRecord
from ..store.store import Store
from .archive import ImageArchive, ImageToSave, LayerSource, write_archive
from .service import ImageService, changes_images


@dataclass(frozen=True)
class LoadedImage:
    image_id: str
    tags: tuple[str, ...]

    def lines(self) -> list[str]:
        if self.tags:
            return [f"Loaded image: {t}" for t in self.tags]
        return [f"Loaded image ID: {self.image_id}"]


class ImageTransfer:
    def __init__(self, service: ImageService) -> None:
        self.service = service
        self.store: Store = service.store

    # save ------------------------------------------------------------------------------------
    def _targets(self, names: list[str]) -> list[ImageToSave]:
        """Images to save and the tags each carries: ``repo:tag`` names that tag, a bare
        repository every tag of it (as docker does), an ID or digest none."""
        tags_by_image: dict = {}
        for name in names:
            image_id = self.service.resolve(name)
            tags = tags_by_image.setdefault(image_id, [])
            try:
                ref = refs.parse(name)
            except InvalidReference:
                continue  # an ID
            if ref.digest is not None or self.store.repositories.get(ref.with_default_tag()) != image_id:
                continue
            if ref.tag is not None:
                _add(tags, ref)
                continue
            for entry in self.store.repositories.entries():
                other = entry.reference
                if other.name == ref.name and other.tag is not None and other.digest is None:
                    _add(tags_by_image.setdefault(entry.image_id, []), other)
        return [self._image_to_save(i, t) for i, t in tags_by_image.items()]

    def _image_to_save(self, image_id, tags) -> ImageToSave:
        config = self.store.images.get(image_id)
        with open(self.store.paths.image_config(image_id), "rb") as f:
            raw = f.read()
        layers = [self._layer_source(r) for r in self.store.layer_chain(list(config.diff_ids))]
        return ImageToSave(raw, layers, tags)

    def _layer_source(self, record: LayerRecord) -> LayerSource:
        split_path = self.store.layers.tar_split_path(record.chain_id)
        diff_dir = self.store.driver.diff_dir(record.cache_id)
        with open(split_path, "rb") as f:
            size = tarsplit.tar_size(f)

        def write(out: BinaryIO) -> None:
            with open(split_path, "rb") as split:
                tarsplit.assemble(split, diff_dir, out)

        def kept(kind: str):
            blob = self.store.blobs.find(record.diff_id, kind)
            return None if blob is None else (blob.path, blob.digest, blob.size)

        return LayerSource(record.diff_id, size, write, kept)

    def save(self, names: list[str], out: BinaryIO, fmt: str = "docker", compression: str = "none") -> None:
        """Write the images to ``out``; ``compression`` (none, gzip, zstd) for the layer blobs."""
        write_archive(self._targets(names), out, fmt, compression, scratch=self.store.paths.tmp())

    # load ------------------------------------------------------------------------------------
    def _load_layer(self, archive: ImageArchive, layer, lease, parent: LayerRecord | None) -> LayerRecord:
        """Extract one layer; a compressed blob from a layout is kept (store/blobs.py) so that
        ``save`` in that compression sends the same bytes."""
        kind = archive.layer_compression(layer)
        keep = kind in BLOB_KINDS and layer.blob_digest is not None and layer.blob_digest.algorithm == "sha256"
        tmp = temp_name(os.path.join(self.store.paths.tmp(), "blob")) if keep else None
        try:
            with open(tmp, "wb") if tmp else contextlib.nullcontext() as copy:
                stream, verifier = archive.open_layer_blob(layer, tee=copy)
                record = self.store.create_layer(lease, parent, stream, layer.expected_diff_id, compression=kind)
                if verifier is not None:
                    while verifier.read(1 << 20):
                        pass
                    verifier.verify()
            if tmp:
                with self.store.lock():
                    self.store.blobs.keep(tmp, layer.blob_digest, record.diff_id, kind)
            return record
        finally:
            if tmp and os.path.exists(tmp):
                os.unlink(tmp)

    @changes_images
    def load(self, source: BinaryIO) -> list[LoadedImage]:
        loaded = []
        with self.store.lease() as lease, ImageArchive(source, self.store.paths.tmp(), self.store.limits) as archive:
            for image in archive.images():
                config = image.config
                parent: LayerRecord | None = None
                for layer, chain in zip(image.layers, chain_ids(list(config.diff_ids)), strict=True):
                    existing = self.store.pin_existing(lease, chain)
                    if existing is not None:
                        parent = existing
                        continue
                    parent = self._load_layer(archive, layer, lease, parent)
                image_id = self.store.register_image(image.config_raw)
                shown = []
                for tag in image.tags:
                    ref = refs.parse(tag).with_default_tag()
                    with self.store.lock():
                        self.store.repositories.set(ref, image_id)
                        self.store.images.touch(image_id)
                    shown.append(ref.familiar())
                loaded.append(LoadedImage(str(image_id), tuple(shown)))
        return loaded


def _add(tags: list, ref) -> None:
    if ref not in tags:
        tags.append(ref)
