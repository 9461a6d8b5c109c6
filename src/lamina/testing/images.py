"""Reading a stored image's merged filesystem in tests (through lamina.build.imagefs)."""

from __future__ import annotations

from ..build.imagefs import ImageFS
from ..digest import Digest


def image_fs(engine, image_id: Digest) -> ImageFS:
    """The image's files as its layers stack them (whiteouts and opaque directories honoured)."""
    config = engine.store.images.get(image_id)
    layers = engine.store.layer_chain(list(config.diff_ids))
    driver = engine.store.driver
    return ImageFS([driver.diff_dir(layer.cache_id) for layer in reversed(layers)], driver.whiteouts == "overlay")
