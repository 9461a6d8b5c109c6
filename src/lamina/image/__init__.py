"""Images as values: small read-only interfaces, implemented per medium.

Shaped after go-containerregistry's ``v1.Image``/``v1.Layer``: a Layer can give its blob
digest, DiffID, size, media type and its bytes compressed or uncompressed; an Image gives its
config and layers. Implementations live by medium: ``local`` (the data root), ``archive``
(docker-archive tars), ``layout`` (OCI image layouts). Code that moves images (save, load,
push, pull) asks only for these interfaces, so every source works with every sink.
"""

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
