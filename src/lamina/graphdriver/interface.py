"""The graph driver interface (``overlay2`` and ``vfs`` implement it)."""

from __future__ import annotations

from typing import Protocol

from ..mount import Mount

__all__ = ["GraphDriver"]


class GraphDriver(Protocol):
    name: str
    #: how archive.apply_layer must treat ``.wh.`` entries for this driver
    whiteouts: str

    def create(self, cache_id: str, parent: str | None) -> str:
        """Make an empty layer on top of ``parent``; return its diff directory."""

    def remove(self, cache_id: str) -> None: ...

    def exists(self, cache_id: str) -> bool: ...

    def diff_dir(self, cache_id: str) -> str: ...

    def parent_dir(self, cache_id: str) -> str | None:
        """For vfs diffs: the directory holding the parent's full tree (None for overlay)."""

    def list_ids(self) -> list[str]: ...

    def mount_spec(self, cache_id: str) -> Mount | None:
        """How to present the merged tree of the layer and all below it (None: diff dir itself)."""

    def metadata(self, cache_id: str) -> dict[str, str]:
        """GraphDriver.Data for inspect: LowerDir, UpperDir, MergedDir, WorkDir."""
