"""``system df``: disk usage where every byte is counted once.

An image's SIZE is the sum of its layers; SHARED SIZE the part of it in layers that other
images use too; UNIQUE SIZE the rest. The Images total is the sum over *distinct* layers, so
it equals the bytes in the layer directories, and RECLAIMABLE the distinct layers no
container's image uses.
"""

from __future__ import annotations

from ..digest import Digest
from ..image.service import ImageService, ImageSummary
from ..oci import chain_ids
from ..store.store import Store
from ..value import Value


class ImageUsage(Value):
    __slots__ = ("summary", "size", "shared", "unique", "containers")
    summary: ImageSummary
    size: int
    shared: int
    unique: int
    containers: int

    def __init__(self, summary: ImageSummary, size: int, shared: int, unique: int, containers: int) -> None:
        self._init(summary=summary, size=size, shared=shared, unique=unique, containers=containers)


class DiskUsage(Value):
    __slots__ = (
        "images", "total_images", "active_images", "layers_size", "reclaimable", "containers_total",
        "containers_active", "kept_blobs", "kept_blobs_size", "kept_blobs_reclaimable",
    )
    images: list[ImageUsage]
    total_images: int
    active_images: int
    layers_size: int
    reclaimable: int
    containers_total: int
    containers_active: int
    #: compressed blobs kept beside their layers (store/blobs.py); 0 when none were kept
    kept_blobs: int
    kept_blobs_size: int
    kept_blobs_reclaimable: int

    def __init__(
        self,
        images: list[ImageUsage],
        total_images: int,
        active_images: int,
        layers_size: int,
        reclaimable: int,
        containers_total: int,
        containers_active: int,
        kept_blobs: int = 0,
        kept_blobs_size: int = 0,
        kept_blobs_reclaimable: int = 0,
    ) -> None:
        self._init(
            images=images, total_images=total_images, active_images=active_images,
            layers_size=layers_size, reclaimable=reclaimable, containers_total=containers_total,
            containers_active=containers_active, kept_blobs=kept_blobs, kept_blobs_size=kept_blobs_size,
            kept_blobs_reclaimable=kept_blobs_reclaimable,
        )


def disk_usage(store: Store, service: ImageService) -> DiskUsage:
    summaries = service.summaries()
    records = store.layers.list()
    layer_size = {r.chain_id: r.size for r in records}
    chains_of: dict[Digest, list[Digest]] = {}
    users: dict[Digest, int] = {}
    for s in summaries:
        chains = chain_ids(list(store.images.get(s.id).diff_ids))
        chains_of[s.id] = chains
        for c in set(chains):
            users[c] = users.get(c, 0) + 1
    uses = store.container_uses()
    active_ids = {u.image_id for u in uses}
    active_chains = {c for i in active_ids for c in chains_of.get(i, [])}
    rows = []
    for s in summaries:
        chains = chains_of[s.id]
        size = sum(layer_size.get(c, 0) for c in chains)
        shared = sum(layer_size.get(c, 0) for c in chains if users.get(c, 0) > 1)
        rows.append(ImageUsage(s, size, shared, size - shared, s.containers))
    distinct = {c for chains in chains_of.values() for c in chains}
    total = sum(layer_size.get(c, 0) for c in distinct)
    reclaimable = sum(layer_size.get(c, 0) for c in distinct - active_chains)
    kept = store.blobs.entries() if store.blobs.any() else []
    active_diffs = {r.diff_id for r in records if r.chain_id in active_chains}
    return DiskUsage(
        images=rows,
        total_images=len(summaries),
        active_images=len([s for s in summaries if s.id in active_ids]),
        layers_size=total,
        reclaimable=reclaimable,
        containers_total=len(uses),
        containers_active=len([u for u in uses if u.running]),
        kept_blobs=len(kept),
        kept_blobs_size=sum(b.size for b in kept),
        kept_blobs_reclaimable=sum(b.size for b in kept if b.diff_id not in active_diffs),
    )
