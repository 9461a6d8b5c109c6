"""Engine: the one facade that the CLI (and a future API server) use.

It owns the data root and hands out the services that work on it. Creating an Engine
creates the data root's skeleton, so the CLI builds one only when a command needs it.
"""

from __future__ import annotations

import os

from .archive.compression import Limits
from .image.remove import ImageRemover
from .image.service import ImageService
from .store.store import Store

DEFAULT_DATA_ROOT = "/var/lib/lamina"


class Engine:
    def __init__(
        self,
        data_root: str | None = None,
        storage_driver: str | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.data_root = os.path.abspath(
            data_root or os.environ.get("LAMINA_DATA_ROOT") or DEFAULT_DATA_ROOT
        )
        self.store = Store(self.data_root, storage_driver, limits)
        self.images = ImageService(self.store)
        self.image_remover = ImageRemover(self.images)

    @property
    def driver_name(self) -> str:
        return self.store.driver_choice.name
