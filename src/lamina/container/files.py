"""``engine.container_files``: the commands that work on a container's filesystem (diff, commit,
export, cp), over docker's on-disk format (``container.filesystem``), so they serve containers
that lamina made and containers a dockerd made on the same data root alike."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from . import filesystem

if TYPE_CHECKING:
    from ..digest import Digest
    from ..image.service import ImageService
    from .changes import Change


def pauser(containers: Any) -> Callable[[str], Any]:
    """``commit -p``: freeze a running container (``ContainerService``'s pause) while its layer
    is read, thaw it after."""
    from contextlib import contextmanager

    @contextmanager
    def paused(container_id: str):
        handle = containers.get(container_id)
        handle.pause()
        try:
            yield
        finally:
            handle.unpause()

    return paused


class ContainerFiles:
    def __init__(self, images: ImageService, pauser: Callable[[str], Any] | None = None) -> None:
        self.images = images
        self.store = images.store
        #: ``pauser(container_id)``: a context manager freezing a running container (commit -p)
        self.pauser = pauser

    def diff(self, ref: str) -> list[Change]:
        """``container diff``: A/C/D changes against the container's image."""
        return filesystem.changes(self.store.paths, filesystem.resolve(self.store.paths, ref))

    def commit(self, ref: str, repository: str | None = None, *, message: str = "", author: str = "",
               changes: Sequence[str] = (), pause: bool = True) -> Digest:
        """``container commit``: the container's changes as a new image; returns its ID."""
        from .commit import commit_container

        return commit_container(self.images, ref, repository, message=message, author=author, changes=changes,
                                pause=pause, pauser=self.pauser)

    def export(self, ref: str, out: BinaryIO) -> None:
        """``container export``: the container's whole filesystem as one tar."""
        from .commit import export_container

        export_container(self.images, ref, out)

    def copy(self, source: str, destination: str, *, archive: bool = False, follow_link: bool = False,
             stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
        """``cp``: ``CONTAINER:PATH`` on one side, a host path or ``-`` (a tar) on the other."""
        from .copy import copy

        copy(self.store, source, destination, archive=archive, follow_link=follow_link, stdin=stdin, stdout=stdout)
