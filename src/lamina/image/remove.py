"""``image rm`` and ``image prune`` with docker's rules (seed 002, "Removing Images").

* By reference: untag; delete the image only when no reference remains.
* By ID: only when the image has at most one tag (digests of the same repository do not
  count), unless forced; then every reference goes.
* A container using the image (running or stopped) is a conflict unless forced; a running
  one, or dependent child images, block even a forced delete.
* Untagged parents go too, unless ``no_prune``; quietly, stopping at the first conflict.

The algorithm (docker's daemon/images/image_delete.go and image_prune.go) runs against a
:class:`_StoreView`. The live view changes the store; the dry-run view only records what
would go and hides it from later reads, so ``prune --dry-run`` follows exactly the same steps
as ``prune`` and prints exactly what ``prune`` will print.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable

from .. import reference as refs
from ..digest import Digest
from ..errors import Conflict, InvalidReference
from ..format.units import parse_timestamp_filter
from ..oci import chain_ids
from ..value import Value
from .service import (
    ImageService,
    ImageSummary,
    _created_key,
    changes_images,
    dangling_value,
    parse_filters,
)

__all__ = ["ImageRemover", "DeleteEvent", "PruneReport"]


class DeleteEvent(Value):
    __slots__ = ("kind", "value")
    kind: str  # "Untagged" or "Deleted"
    value: str

    def __init__(self, kind: str, value: str) -> None:
        self._init(kind=kind, value=value)

    def line(self) -> str:
        return f"{self.kind}: {self.value}"


class PruneReport:
    """What a prune removed (or, dry, would remove) and the bytes that frees; filled in as it
    goes (a plain class: ``lamina.value`` says why not a dataclass)."""

    __slots__ = ("events", "space_reclaimed")

    def __init__(self, events: list[DeleteEvent] | None = None, space_reclaimed: int = 0) -> None:
        self.events = [] if events is None else events
        self.space_reclaimed = space_reclaimed

    def __eq__(self, other):
        if other.__class__ is not PruneReport:
            return NotImplemented
        return (self.events, self.space_reclaimed) == (other.events, other.space_reclaimed)

    __hash__ = None

    def __repr__(self) -> str:
        return f"PruneReport(events={self.events!r}, space_reclaimed={self.space_reclaimed!r})"


class _Conflict(Conflict):
    def __init__(self, message: str, hard: bool, used: bool) -> None:
        super().__init__(message)
        self.hard = hard
        self.used = used


class _StoreView:
    """The store as the delete algorithm sees it; ``dry_run`` records instead of changing."""

    def __init__(self, service: ImageService, dry_run: bool) -> None:
        self.store = service.store
        self.dry_run = dry_run
        self.uses = self.store.container_uses()
        self._gone_images: set[Digest] = set()
        self._gone_refs: set[str] = set()
        self._gone_layers: set[Digest] = set()
        self._gone_blob_diffs: set[Digest] = set()
        self.reclaimed = 0

    # reads -------------------------------------------------------------------------------
    def exists(self, image_id: Digest) -> bool:
        return image_id not in self._gone_images and self.store.images.exists(image_id)

    def references_to(self, image_id: Digest) -> list[refs.Reference]:
        return [r for r in self.store.repositories.references_to(image_id) if str(r) not in self._gone_refs]

    def lookup(self, ref: refs.Reference) -> Digest | None:
        return None if str(ref) in self._gone_refs else self.store.repositories.get(ref)

    def children(self, image_id: Digest) -> list[Digest]:
        return [c for c in self.store.images.children(image_id) if c not in self._gone_images]

    def parent(self, image_id: Digest) -> Digest | None:
        return self.store.images.get_parent(image_id)

    def ids(self) -> list[Digest]:
        return [i for i in self.store.images.ids() if i not in self._gone_images]

    # changes -----------------------------------------------------------------------------
    def untag(self, ref: refs.Reference) -> bool:
        if self.lookup(ref) is None:
            return False
        if self.dry_run:
            self._gone_refs.add(str(ref))
            return True
        return self.store.repositories.delete(ref)

    def delete_image(self, image_id: Digest) -> list[Digest]:
        """Remove the config and the layers only it used; return the deleted ChainIDs."""
        if not self.dry_run:
            before = {r.chain_id: r.size for r in self.store.layers.list()}
            blobs_before = self.store.blobs.total_size()
            deleted = self.store.delete_image_data(image_id)
            self.reclaimed += sum(before.get(c, 0) for c in deleted)
            self.reclaimed += blobs_before - self.store.blobs.total_size()  # kept blobs go too
            return deleted
        self._gone_images.add(image_id)
        in_use = set(self.store.pinned_layers())
        for other in self.ids():
            in_use.update(chain_ids(list(self.store.images.get(other).diff_ids)))
        deleted = []
        for chain in reversed(chain_ids(list(self.store.images.get(image_id).diff_ids))):
            if chain in in_use:
                break
            if chain in self._gone_layers or not self.store.layers.exists(chain):
                continue
            self._gone_layers.add(chain)
            self.reclaimed += self.store.layers.get(chain).size
            deleted.append(chain)
        if deleted and self.store.blobs.any():
            self.reclaimed += self._blob_bytes_going()
        return deleted

    def _blob_bytes_going(self) -> int:
        """Bytes of kept blobs whose DiffID no remaining layer has (counted once per run)."""
        records = self.store.layers.list()
        remaining = {r.diff_id for r in records if r.chain_id not in self._gone_layers}
        going = {r.diff_id for r in records if r.chain_id in self._gone_layers} - remaining - self._gone_blob_diffs
        self._gone_blob_diffs |= going
        return sum(self.store.blobs.size_for(d) for d in going)


class ImageRemover:
    def __init__(self, service: ImageService) -> None:
        self.service = service
        self.store = service.store

    # rm ----------------------------------------------------------------------------------
    @changes_images
    def remove(self, name: str, force: bool = False, prune: bool = True) -> list[DeleteEvent]:
        with self.store.lock():
            view = _StoreView(self.service, dry_run=False)
            image_id = self.service.resolve(name)
            return self._remove(view, name, image_id, force, prune)

    def _remove(self, view: _StoreView, name: str, image_id: Digest, force: bool, prune: bool) -> list[DeleteEvent]:
        events: list[DeleteEvent] = []
        by_id = self._named_by_id(view, name, image_id)
        refs_now = view.references_to(image_id)
        if not by_id:
            target = refs.parse(name).with_default_tag()
            if not force and _single_reference(refs_now):
                user = self._first_container(view, image_id)
                if user is not None:
                    raise Conflict(
                        f'conflict: unable to remove repository reference "{name}" (must force) - '
                        f"container {user[:12]} is using its referenced image {image_id.short()}"
                    )
            if view.untag(target):
                events.append(DeleteEvent("Untagged", target.familiar()))
            remaining = view.references_to(image_id)
            if target.digest is None and not any(r.digest is None and r.name == target.name for r in remaining):
                # the last tag of a repository takes that repository's digests with it
                for other in [r for r in remaining if r.digest is not None and r.name == target.name]:
                    view.untag(other)
                    events.append(DeleteEvent("Untagged", other.familiar()))
                remaining = view.references_to(image_id)
            if remaining:
                return events
        elif len(refs_now) > 1 and not force and not _single_reference(refs_now):
            raise _Conflict(
                f"conflict: unable to delete {image_id.short()} (must be forced) - image is "
                "referenced in multiple repositories",
                hard=False,
                used=False,
            )
        elif refs_now and (force or _single_reference(refs_now)):
            # a forced delete by ID, or the one tag: hard conflicts first, then untag everything
            self._check_conflicts(view, image_id, hard_only=force, ignore_references=True)
            for ref in refs_now:
                view.untag(ref)
                events.append(DeleteEvent("Untagged", ref.familiar()))
        # after untagging by name, conflicts of the now-unreferenced image are reported only
        # if it is dangling (docker's removedRepositoryRef → quiet)
        self._delete(view, image_id, events, force, prune, quiet=not by_id)
        return events

    def _named_by_id(self, view: _StoreView, name: str, image_id: Digest) -> bool:
        """True when ``name`` reached the image as an ID rather than through a reference."""
        try:
            ref = refs.parse(name).with_default_tag()
        except InvalidReference:
            return True
        return view.lookup(ref) != image_id

    def _delete(
        self, view: _StoreView, image_id: Digest, events: list[DeleteEvent], force: bool, prune: bool, quiet: bool
    ) -> None:
        try:
            self._check_conflicts(view, image_id, hard_only=force)
        except _Conflict as conflict:
            if quiet and (not self._dangling(view, image_id) or conflict.used):
                return
            raise
        parent = view.parent(image_id)
        for ref in view.references_to(image_id):
            view.untag(ref)
            events.append(DeleteEvent("Untagged", ref.familiar()))
        removed_layers = view.delete_image(image_id)
        events.append(DeleteEvent("Deleted", str(image_id)))
        events.extend(DeleteEvent("Deleted", str(layer)) for layer in removed_layers)
        if prune and parent is not None and view.exists(parent):
            self._delete(view, parent, events, force=False, prune=True, quiet=True)

    @staticmethod
    def _dangling(view: _StoreView, image_id: Digest) -> bool:
        """docker's imageIsDangling: no references and no children."""
        return not view.references_to(image_id) and not view.children(image_id)

    @staticmethod
    def _first_container(view: _StoreView, image_id: Digest) -> str | None:
        for use in view.uses:
            if use.image_id == image_id:
                return use.container_id
        return None

    def _check_conflicts(
        self, view: _StoreView, image_id: Digest, hard_only: bool, ignore_references: bool = False
    ) -> None:
        short = image_id.short()
        if view.children(image_id):
            raise _Conflict(
                f"conflict: unable to delete {short} (cannot be forced) - image has dependent child images",
                hard=True,
                used=False,
            )
        uses = [u for u in view.uses if u.image_id == image_id]
        for use in uses:
            if use.running:
                raise _Conflict(
                    f"conflict: unable to delete {short} (cannot be forced) - image is being used "
                    f"by running container {use.container_id[:12]}",
                    hard=True,
                    used=True,
                )
        if hard_only:
            return
        if not ignore_references and view.references_to(image_id):
            raise _Conflict(
                f"conflict: unable to delete {short} (must be forced) - image is referenced in one or more repositories",
                hard=False,
                used=False,
            )
        for use in uses:
            raise _Conflict(
                f"conflict: unable to delete {short} (must be forced) - image is being used by "
                f"stopped container {use.container_id[:12]}",
                hard=False,
                used=True,
            )

    # prune -------------------------------------------------------------------------------
    def _prune_candidates(self, view: _StoreView, all_images: bool, keep: Callable[[ImageSummary], bool]) -> list[Digest]:
        """docker's ImagesPrune selection, newest first: dangling heads, or (``-a``) every image
        but untagged intermediates; never one a container uses, nor one ``keep`` (the filters)
        spares."""
        used = {u.image_id for u in view.uses}
        out = []
        for s in self.service.summaries():
            if s.id in used or keep(s):
                continue
            referenced = bool(s.repo_tags or s.repo_digests)
            if not referenced and s.has_children:
                continue  # an intermediate image: its head's deletion takes it
            if all_images or not s.repo_tags:
                out.append(s.id)
        return out

    @changes_images
    def prune(self, all_images: bool = False, dry_run: bool = False, filters: Iterable[str] = ()) -> PruneReport:
        """Remove unused images; ``dry_run`` runs the same steps against a recording view.

        ``filters`` are docker's prune filters: ``until=<time or duration>``, ``label=<k>[=<v>]``,
        ``label!=<k>[=<v>]``, ``dangling=false`` (the same as ``all_images``).
        """
        all_images, keep = _prune_filters(filters, all_images)
        report = PruneReport()
        with self.store.lock():
            view = _StoreView(self.service, dry_run=dry_run)
            for image_id in self._prune_candidates(view, all_images, keep):
                if not view.exists(image_id):
                    continue
                references = view.references_to(image_id)
                names = [r.familiar() for r in references] if references else [image_id.hex]
                for name in names:
                    if not view.exists(image_id):
                        break
                    try:
                        report.events.extend(self._remove(view, name, image_id, force=False, prune=True))
                    except Conflict:
                        continue
            report.space_reclaimed = view.reclaimed
        return report


def _prune_filters(filters: Iterable[str], all_images: bool) -> tuple[bool, Callable[[ImageSummary], bool]]:
    """(all_images, keep): ``keep(summary)`` is true for an image the filters spare."""
    parsed = parse_filters(filters, allowed=("until", "label", "label!", "dangling"))
    until = parse_timestamp_filter(parsed["until"][-1]) if "until" in parsed else None
    if not all([dangling_value(v) for v in parsed.get("dangling", [])]):  # checks every value
        all_images = True  # dangling=false: every unused image, as -a
    wanted = [_label_pair(v) for v in parsed.get("label", [])]
    unwanted = [_label_pair(v) for v in parsed.get("label!", [])]

    def has(labels: dict[str, str], label: tuple[str, str | None]) -> bool:
        name, expected = label
        return name in labels and (expected is None or labels[name] == expected)

    def keep(s: ImageSummary) -> bool:
        if until is not None and _created_key(s) >= until:
            return True
        if any(not has(s.labels, label) for label in wanted):
            return True
        return any(has(s.labels, label) for label in unwanted)

    return all_images, keep


def _label_pair(value: str) -> tuple[str, str | None]:
    """``key`` or ``key=value`` of a label filter."""
    name, has_value, expected = value.partition("=")
    return name, expected if has_value else None


def _single_reference(references: list[refs.Reference]) -> bool:
    """docker's isSingleReference: one tag, plus digests of that same repository only."""
    if len(references) <= 1:
        return len(references) == 1
    single = None
    canonical_names = set()
    for ref in references:
        if ref.digest is not None:
            canonical_names.add(ref.name)
        elif single is None:
            single = ref
        else:
            return False
    if single is None:
        single = references[0]
    return len(canonical_names) == 1 and single.name in canonical_names
