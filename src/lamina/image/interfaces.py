"""The Image and Layer interfaces (see ``lamina.image``)."""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import BinaryIO, Protocol

from ..digest import Digest
from ..oci import ImageConfig


class Layer(Protocol):
    def diff_id(self) -> Digest: ...

    def uncompressed(self) -> AbstractContextManager[BinaryIO]:
        """The layer tar, uncompressed (the bytes whose sha256 is the DiffID)."""


class Image(Protocol):
    def config(self) -> ImageConfig: ...

    def layers(self) -> Sequence[Layer]: ...


__all__ = ["Layer", "Image"]
