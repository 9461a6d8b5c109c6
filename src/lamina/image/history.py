"""``history``: an image's steps, newest first, each with its layer's size and the local image
that ends at that step.

Apart from ``image.service`` so that the lean ``history`` (``cli.lean.history``) runs the same
code on the store's parts (``ImageDB``, ``LayerDB``, ``Repositories``) without building the
Store or loading the image service (``json``, ``re``, ``functools``: ~20 ms of start-up).
"""

from __future__ import annotations

from ..digest import Digest
from ..oci.config import chain_ids
from ..value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only (typing costs start-up time: lamina.value says why)
    from ..store.imagedb import ImageDB
    from ..store.layerdb import LayerDB
    from ..store.repositories import Repositories

__all__ = ["HistoryEntry", "image_history"]


class HistoryEntry(Value):
    __slots__ = ("id", "created", "created_by", "size", "comment", "tags")
    id: str  # image ID, or "<missing>"
    created: str
    created_by: str
    size: int
    comment: str
    tags: tuple[str, ...]

    def __init__(self, id: str, created: str, created_by: str, size: int, comment: str, tags: tuple[str, ...] = ()) -> None:
        self._init(id=id, created=created, created_by=created_by, size=size, comment=comment, tags=tags)


def image_history(images: ImageDB, layers: LayerDB, repositories: Repositories, image_id: Digest) -> list[HistoryEntry]:
    """Newest first. An entry shows an image ID where a local image ends at that step
    (the image itself, or a parent recorded by commit/build), ``<missing>`` elsewhere."""
    config = images.get(image_id)
    entries = config.history or [{"created": config.created, "comment": config.doc.get("comment", "")}]
    records = [layers.get(chain) for chain in chain_ids(list(config.diff_ids))]
    known = _ancestor_ids(images, image_id)
    out = []
    layer_index = 0
    for position, step in enumerate(entries):
        size = 0
        if not step.get("empty_layer"):
            if layer_index < len(records):
                size = records[layer_index].size
            layer_index += 1
        out.append((position, step, size))
    result = []
    for position, step, size in reversed(out):
        ident = known.get(position + 1, "<missing>")
        tags = tuple(
            r.familiar() for r in repositories.references_to(Digest.parse(ident)) if r.digest is None
        ) if ident != "<missing>" else ()
        result.append(
            HistoryEntry(
                id=ident,
                created=step.get("created", ""),
                created_by=step.get("created_by", ""),
                size=size,
                comment=step.get("comment", ""),
                tags=tags,
            )
        )
    return result


def _ancestor_ids(images: ImageDB, image_id: Digest) -> dict[int, str]:
    """Map "number of history steps" → local image ID, walking recorded parents."""
    found: dict[int, str] = {}
    current: Digest | None = image_id
    while current is not None and images.exists(current):
        steps = len(images.get(current).history) or 1
        found.setdefault(steps, str(current))
        current = images.get_parent(current)
    return found
