"""Garbage collection: mark every blob a manifest reaches, sweep the rest — safely online.

Distribution's collector must run with the registry read-only: a blob uploaded while it marks
is unreferenced at that moment and gets swept under the pushing client. This one may run while
the registry serves pushes, by two rules:

* **time**: marking starts at ``T0``; a blob whose data was written or touched at or after
  ``T0`` is never swept. The server touches a blob whenever it becomes reachable (upload
  completed, mounted, referenced by a pushed manifest).
* **lock**: the server does those touch-and-link steps under the shared side of the registry's
  GC lock; the collector re-checks a blob's time and deletes it under the exclusive side. So a
  link either happens before the re-check (the blob is recent: kept) or after the delete (the
  server sees the blob missing and the client uploads it again) — never in between.

``delete_untagged`` also removes manifests that no tag reaches (directly, through an index, or
as a referrer of a reachable subject), as Distribution's ``--delete-untagged`` does.
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

__all__ = ["collect", "GCReport"]

#: filesystem timestamps can lag the clock a little; stay on the safe side
_SLACK = 2.0


@dataclass
class GCReport:
    marked: int = 0
    swept: list[Digest] = field(default_factory=list)
    manifests_deleted: list[tuple[str, Digest]] = field(default_factory=list)
    skipped_recent: int = 0


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


def collect(
    root: str,
    *,
    dry_run: bool = False,
    delete_untagged: bool = False,
    say: Callable[[str], None] = lambda _line: None,
) -> GCReport:
    registry = Registry(FilesystemDriver(root))
    report = GCReport()
    started = time.time()
    marked: set[Digest] = set()
    for name in registry.catalog():
        say(f"{name}")
        revisions: dict[Digest, bytes] = {}
        for d in registry.revisions(name):
            stored = registry.get_manifest(name, d)
            if stored is not None:
                revisions[d] = stored.raw
        keep = _reachable(registry, name, revisions) if delete_untagged else set(revisions)
        for d, raw in revisions.items():
            if d not in keep:
                if registry.driver.stat(paths.blob_data(d)).mtime >= started - _SLACK:
                    keep.add(d)  # pushed while we were marking: its tag may be on its way
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
        with registry.gc_lock.exclusive():
            try:
                mtime = registry.driver.stat(paths.blob_data(blob)).mtime
            except PathNotFound:
                mtime = 0.0  # a directory without data: debris, sweep it
            if mtime >= started - _SLACK:
                report.skipped_recent += 1
                continue
            say(f"blob eligible for deletion: {blob}")
            report.swept.append(blob)
            if not dry_run:
                try:
                    registry.driver.delete(paths.blob_dir(blob))
                except PathNotFound:
                    pass
    return report
