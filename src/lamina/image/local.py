"""Images held in the local store, behind the Image/Layer interfaces (for save and push)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from ..archive.pipe import piped
from ..archive.tarsplit import assemble
from ..digest import Digest, Hasher
from ..oci import ImageConfig
from ..store.layerdb import LayerRecord
from ..store.store import Store


@dataclass(frozen=True)
class LocalLayer:
    store: Store
    record: LayerRecord

    def diff_id(self) -> Digest:
        return self.record.diff_id

    def size(self) -> int:
        return self.record.size

    @contextmanager
    def uncompressed(self, hasher: Hasher | None = None) -> Iterator[BinaryIO]:
        """Stream the exact original tar, rebuilt from tar-split and the layer's files.

        A thread assembles it into a pipe (``archive.pipe``), so a 1 GB layer is never held in
        memory; with ``hasher``, that thread also hashes what it writes, off the reader's
        thread (push compresses there).
        """
        split_path = self.store.layers.tar_split_path(self.record.chain_id)
        diff_dir = self.store.driver.diff_dir(self.record.cache_id)

        def produce(out: BinaryIO) -> None:
            with open(split_path, "rb") as split:
                assemble(split, diff_dir, out if hasher is None else _Hashing(out, hasher))

        with piped(produce) as reader:
            yield reader


class _Hashing:
    """A writer that hashes what it passes on."""

    def __init__(self, out: BinaryIO, hasher: Hasher) -> None:
        self._out, self._hasher = out, hasher

    def write(self, data) -> int:
        self._hasher.update(data)
        return self._out.write(data)


@dataclass(frozen=True)
class LocalImage:
    store: Store
    image_id: Digest

    def config(self) -> ImageConfig:
        return self.store.images.get(self.image_id)

    def layers(self) -> list[LocalLayer]:
        records = self.store.layer_chain(list(self.config().diff_ids))
        return [LocalLayer(self.store, r) for r in records]
