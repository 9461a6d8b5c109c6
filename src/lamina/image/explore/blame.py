"""``image blame``: for each path (or every path a glob matches, or everything under a directory
with ``recursive``; a path without a leading ``/`` matches at any depth), the layer that added it, each later layer that changed it and the one
that deleted it, with what made each layer and where the surviving version lies on disk."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass

from .analysis import Event, glob_matcher, path_history
from .source import ExploredImage

_GLOB_CHARS = frozenset("*?[")


@dataclass
class BlameReport:
    path: str  # with a leading slash
    events: list[Event]
    labels: dict[int, str]  # layer -> what made it ("RUN make install, Dockerfile:31")
    location: str  # the surviving version's file on disk (or in the archive's layer), "" if deleted

    def lines(self) -> list[str]:
        out = []
        for i, event in enumerate(self.events):
            text = f"{event.what} in layer {event.layer}{_how(event)}"
            label = self.labels.get(event.layer)
            if label:
                text += f" ({label})"
            out.append(f"{self.path}: {text}" if i == 0 else f"  {text}")
        if self.location:
            out.append(f"  now: {self.location}")
        return out

    def as_json(self) -> dict:
        return {
            "Path": self.path,
            "Events": [
                {"Layer": e.layer, "What": e.what, "How": e.how, "Via": "/" + e.via if e.via else "",
                 "CreatedBy": self.labels.get(e.layer, "")}
                for e in self.events
            ],
            "Location": self.location,
        }


def _how(event: Event) -> str:
    if event.what != "deleted":
        return ""
    via = "/" + event.via
    if event.how == "whiteout":
        return f" by a whiteout of {via}" if event.via else " by a whiteout"
    if event.how == "opaque":
        return f": {via} was made opaque"
    return f": {via} was replaced by a non-directory"


def _normalize(path: str) -> str:
    return "/".join(p for p in path.split("/") if p not in ("", "."))


def expand(image: ExploredImage, patterns: Iterable[str], recursive: bool) -> tuple[list[str], list[str]]:
    """The index paths the patterns name (sorted, each once) and the patterns naming nothing."""
    indexes = image.indexes()
    found: set[str] = set()
    missing = []
    for pattern in patterns:
        before = len(found)
        if any(c in _GLOB_CHARS for c in pattern) or not pattern.startswith("/"):
            match = glob_matcher(pattern)
            roots = {p for index in indexes for p in index.paths if p and match(p)}
        else:
            target = _normalize(pattern)
            roots = {target} if any(index.find(target) >= 0 or len(index.under(target)) for index in indexes) else set()
        found |= roots
        if recursive:
            for root in roots:
                below = {index.paths[i] for index in indexes for i in index.under(root)}
                found |= below
                for path in below:  # directories only implied by what lies below them
                    head = path.rpartition("/")[0]
                    while len(head) > len(root) and head not in found:
                        found.add(head)
                        head = head.rpartition("/")[0]
        if len(found) == before and not roots:
            missing.append(pattern)
    return sorted(found), missing


def blame(image: ExploredImage, patterns: Iterable[str], recursive: bool = False) -> tuple[list[BlameReport], list[str]]:
    paths, missing = expand(image, patterns, recursive)
    indexes = image.indexes()
    labels = {info.number: image.describe(info.number) for info in image.layers}
    reports = []
    for path in paths:
        events = path_history(indexes, path)
        if not events:
            continue  # a whiteout of something no lower layer had
        location = ""
        last = events[-1]
        if last.what != "deleted" and image.on_disk:
            location = os.path.join(image.layers[last.layer - 1].location, path)
            # the surviving version is the last layer that added or changed it
        reports.append(BlameReport("/" + path, events, labels, location))
    return reports, missing
