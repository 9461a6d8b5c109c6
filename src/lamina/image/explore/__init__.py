"""The layer explorer: which layer holds a file, what each layer changed, what it wastes.

``Explorer`` opens an image (from the store, or from a saved archive without loading it);
:mod:`.analysis` answers questions about its stack of layer file indexes; the CLI
(``lamina image layers|blame|diff|waste|tree``) renders the answers.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .source import BuildStep, ExploredImage, LayerInfo, Step

if TYPE_CHECKING:
    from ..service import ImageService

__all__ = ["Explorer", "ExploredImage", "LayerInfo", "Step", "BuildStep"]


class Explorer:
    def __init__(self, service: ImageService) -> None:
        self.service = service

    def open(self, name: str) -> ExploredImage:
        """An image of the store (built, pulled, loaded, committed or imported)."""
        from .source import open_stored

        return open_stored(self.service, name)

    def open_archive(self, path: str, name: str | None = None) -> ExploredImage:
        """An image inside a ``docker save`` archive or an OCI layout tar, not loaded."""
        from .source import open_archive

        store = self.service.store
        return open_archive(path, name, store.paths.tmp(), store.limits)
