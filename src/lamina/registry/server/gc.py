"""Garbage collection: mark every blob a manifest reaches, sweep the rest — safely online.

Distribution's collector must run with the registry read-only: a blob uploaded while it marks
is unreferenced at that moment and gets swept under the pushing client. A client uploads a
push's layers seconds (over a slow link, hours) before the manifest that references them, so
"unreferenced" is not "garbage" until the push is over. This collector may run while any number
of instances serve pushes, by three rules (GitLab's online GC review delay, made per push):

* **grace**: an unreferenced blob is swept only once nothing has touched it for ``grace``
  seconds (24 h by default, as GitLab's review delay). The server touches a blob whenever a
  push uses it: upload completed, mounted, checked by HEAD (a client that finds a layer
  present skips uploading it), referenced by a pushed manifest.
* **pushes in progress**: a repository with push activity within ``grace`` (an upload
  receiving data, a layer linked or checked) keeps every blob linked into it. So a push of any
  duration is safe as long as it makes progress: its first layer is protected while its last
  one is still uploading, and the manifest follows the last layer within seconds.
* **lock**: the server does its touch-and-link steps under the shared side of the registry's
  GC lock; the collector re-checks a blob's times and deletes it under the exclusive side. So a
  link either happens before the re-check (the blob is recent: kept) or after the delete (the
  server sees the blob missing and the client uploads it again) — never in between. Instances
  on an object store, possibly on other hosts, share no lock: there the collector marks the
  blob before its re-check and servers look for the mark after their touch, which orders
  the two just as well (:mod:`.sweep`).

``delete_untagged`` also removes manifests that no tag reaches (directly, through an index, or
as a referrer of a reachable subject), as Distribution's ``--delete-untagged`` does, with the
same grace for manifests pushed by digest whose tag or index is on its way.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ...digest import Digest
from . import paths
from .registry import Registry
from .storage import FilesystemDriver, PathNotFound
from .sweep import Sweep

__all__ = ["collect", "GCReport"]

#: filesystem and object-store timestamps can lag the clock a little; stay on the safe side
_SLACK = 2.0
#: GitLab's default review delay
DEFAULT_GRACE = 24 * 3600.0


@dataclass
class GCReport:
    marked: int = 0
    swept: list[Digest] = field(default_factory=list)
    manifests_deleted: list[tuple[str, Digest]] = field(default_factory=list)
    skipped_recent: int = 0
    active_repositories: list[str] = field(default_factory=list)


def _references(raw: bytes) -> tuple[list[Digest], list[Digest], Digest | None]:
    """(blobs, child manifests, subject) named by a manifest or index."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return [], [], None
    if not isinstance(doc, dict):
        return [], [], None

    def digests(items) -> list[Digest]:
        out = []
        for item in items or []:
            if isinstance(item, dict) and Digest.is_valid(str(item.get("digest", ""))):
                out.append(Digest.parse(item["digest"]))
        return out

    blobs = digests([doc.get("config")] if isinstance(doc.get("config"), dict) else []) + digests(doc.get("layers"))
    children = digests(doc.get("manifests"))
    subject = digests([doc.get("subject")]) if isinstance(doc.get("subject"), dict) else []
    return blobs, children, subject[0] if subject else None


def _reachable(registry: Registry, name: str, revisions: dict[Digest, bytes]) -> set[Digest]:
    """Manifests of ``name`` that a tag reaches, through indexes and referrers."""
    seen: set[Digest] = set()
    stack = [d for tag in registry.tags(name) if (d := registry.resolve_tag(name, tag)) is not None]
    while stack:
        d = stack.pop()
        if d in seen or d not in revisions:
            continue
        seen.add(d)
        stack.extend(_references(revisions[d])[1])
    # a referrer (signature, SBOM) lives as long as its subject
    changed = True
    while changed:
        changed = False
        for d, raw in revisions.items():
            subject = _references(raw)[2]
            if d not in seen and subject is not None and subject in seen:
                seen.add(d)
                stack = list(_references(raw)[1])
                while stack:
                    child = stack.pop()
                    if child not in seen and child in revisions:
                        seen.add(child)
                        stack.extend(_references(revisions[child])[1])
                changed = True
    return seen


def _all_blobs(registry: Registry):
    driver = registry.driver
    for alg in ("sha256", "sha512"):
        try:
            prefixes = driver.list(f"{paths.blobs_root()}/{alg}")
        except PathNotFound:
            continue
        for prefix in prefixes:
            for blob_dir in driver.list(prefix):
                text = f"{alg}:{blob_dir.rsplit('/', 1)[1]}"
                if Digest.is_valid(text):
                    yield Digest.parse(text)


def _push_activity(registry: Registry, name: str) -> tuple[float, dict[Digest, str]]:
    """The newest push activity in ``name`` (layer links, upload data) and its layer links."""
    driver = registry.driver
    newest = 0.0
    links: dict[Digest, str] = {}
    for root in (paths.layers_root(name), paths.uploads_root(name)):
        try:
            files = list(driver.walk(root))
        except PathNotFound:
            continue
        for info in files:
            newest = max(newest, info.mtime)
            parts = info.path.rsplit("/", 3)
            if root.endswith("_layers") and parts[-1] == "link":
                text = f"{parts[-3]}:{parts[-2]}"
                if Digest.is_valid(text):
                    links[Digest.parse(text)] = info.path
    return newest, links


def _mtime(registry: Registry, path: str) -> float:
    try:
        return registry.driver.stat(path).mtime
    except PathNotFound:
        return 0.0


def collect(
    target: str | Registry,
    *,
    grace: float = DEFAULT_GRACE,
    dry_run: bool = False,
    delete_untagged: bool = False,
    say: Callable[[str], None] = lambda _line: None,
) -> GCReport:
    """Mark and sweep ``target`` (a filesystem root or a :class:`Registry` on any driver)."""
    registry = target if isinstance(target, Registry) else Registry(FilesystemDriver(target))
    report = GCReport()
    cutoff = time.time() - grace - _SLACK
    marked: set[Digest] = set()
    links_of: dict[Digest, list[str]] = {}
    for name in registry.catalog():
        say(f"{name}")
        activity, links = _push_activity(registry, name)
        for blob, link in links.items():
            links_of.setdefault(blob, []).append(link)
        if activity >= cutoff:
            # a push may be in progress here: everything it linked stays until it is over
            report.active_repositories.append(name)
            marked.update(links)
        revisions: dict[Digest, bytes] = {}
        for d in registry.revisions(name):
            stored = registry.get_manifest(name, d)
            if stored is not None:
                revisions[d] = stored.raw
        keep = _reachable(registry, name, revisions) if delete_untagged else set(revisions)
        for d, raw in revisions.items():
            if d not in keep:
                recent = max(registry.blob_last_used(d), _mtime(registry, paths.revision_link(name, d)))
                if recent >= cutoff or activity >= cutoff:
                    keep.add(d)  # pushed lately: its tag or index may be on its way
                else:
                    say(f"{name}: manifest eligible for deletion: {d}")
                    report.manifests_deleted.append((name, d))
                    if not dry_run:
                        registry.delete_manifest(name, d)
                    continue
            marked.add(d)
            say(f"{name}: marking manifest {d}")
            blobs, _children, _subject = _references(raw)
            for blob in blobs:
                if blob not in marked:
                    say(f"{name}: marking blob {blob}")
                marked.add(blob)
    report.marked = len(marked)
    for blob in list(_all_blobs(registry)):
        if blob in marked:
            continue
        if registry.gc_lock.held or dry_run:
            with registry.gc_lock.exclusive():
                _sweep_locked(registry, blob, links_of.get(blob, []), cutoff, dry_run, report, say)
        else:
            _sweep_marked(registry, blob, links_of.get(blob, []), cutoff, report, say)
    return report


def _last_used(registry: Registry, blob: Digest, links: list[str]) -> float:
    return max([registry.blob_last_used(blob)] + [_mtime(registry, link) for link in links])


def _sweep_locked(registry: Registry, blob: Digest, links: list[str], cutoff: float, dry_run: bool,
                  report: GCReport, say: Callable[[str], None]) -> None:
    """Under the exclusive lock (a filesystem): re-checked at deletion, since a push may have
    touched the blob since marking began."""
    if _last_used(registry, blob, links) >= cutoff:
        report.skipped_recent += 1
        return
    say(f"blob eligible for deletion: {blob}")
    report.swept.append(blob)
    if not dry_run:
        registry.cache.forget(blob)
        try:
            registry.driver.delete(paths.blob_dir(blob))
        except PathNotFound:
            pass


def _sweep_marked(registry: Registry, blob: Digest, links: list[str], cutoff: float,
                  report: GCReport, say: Callable[[str], None]) -> None:
    """With no shared lock (an object store, instances on other hosts): mark, re-check, then
    delete or unmark (the protocol in :mod:`.sweep`)."""
    pending = Sweep(registry.driver, blob)
    pending.mark()
    try:
        if _last_used(registry, blob, links) >= cutoff:
            report.skipped_recent += 1
            pending.keep()
            return
        if not pending.in_time():
            report.skipped_recent += 1  # too slow for the servers that wait on the mark
            pending.keep()
            return
        say(f"blob eligible for deletion: {blob}")
        report.swept.append(blob)
        registry.cache.forget(blob)
        pending.delete()
    except BaseException:
        pending.keep()
        raise
