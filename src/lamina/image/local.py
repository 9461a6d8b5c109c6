"""Images held in the local store, behind the Image/Layer interfaces (for save and push)."""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import BinaryIO

from ..archive.tarsplit import assemble
from ..digest import Digest
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
    def uncompressed(self) -> Iterator[BinaryIO]:
        """Stream the exact original tar, rebuilt from tar-split and the layer's files.

        A thread writes into a pipe so a 1 GB layer is never held in memory.
        """
        split_path = self.store.layers.tar_split_path(self.record.chain_id)
        diff_dir = self.store.driver.diff_dir(self.record.cache_id)
        read_fd, write_fd = os.pipe()
        errors: list[BaseException] = []

        def produce() -> None:
            try:
                with open(split_path, "rb") as split, os.fdopen(write_fd, "wb", buffering=1 << 20) as out:
                    assemble(split, diff_dir, out)
            except BrokenPipeError:
                pass
            except BaseException as exc:  # surfaced to the reader below
                errors.append(exc)

        thread = threading.Thread(target=produce, daemon=True)
        thread.start()
        reader = _CheckedPipe(os.fdopen(read_fd, "rb", buffering=1 << 20), errors, thread)
        try:
            yield reader
        finally:
            reader.close()
            thread.join()


class _CheckedPipe(io.RawIOBase):
    """Reads the pipe and re-raises the producer's error at end of stream."""

    def __init__(self, raw: BinaryIO, errors: list[BaseException], thread: threading.Thread) -> None:
        self._raw, self._errors, self._thread = raw, errors, thread

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if not data and n != 0:
            self._thread.join()
            if self._errors:
                raise self._errors[0]
        return data

    def readinto(self, buffer) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        if not self.closed:
            self._raw.close()
        super().close()


@dataclass(frozen=True)
class LocalImage:
    store: Store
    image_id: Digest

    def config(self) -> ImageConfig:
        return self.store.images.get(self.image_id)

    def layers(self) -> list[LocalLayer]:
        records = self.store.layer_chain(list(self.config().diff_ids))
        return [LocalLayer(self.store, r) for r in records]
