"""``engine.volumes``: docker-py's shape (``create``, ``get``, ``list``, ``prune``; ``Volume``
objects with ``attrs``, ``name``, ``remove()``, ``reload()``) over the local driver."""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..errors import Conflict, InvalidArgument, NotFound
from ..image.service import parse_filters
from .local import LocalVolumes, VolumeRecord

if TYPE_CHECKING:
    from ..store.store import Store

LIST_FILTERS = ("dangling", "driver", "label", "name")
PRUNE_FILTERS = ("label", "label!", "all")


class Volume:
    """One volume, as docker-py's ``Volume``."""

    def __init__(self, service: VolumeService, record: VolumeRecord) -> None:
        self._service = service
        self.record = record

    def __repr__(self) -> str:
        return f"<Volume: {self.name[:12]}>"

    @property
    def name(self) -> str:
        return self.record.name

    id = name

    @property
    def attrs(self) -> dict[str, Any]:
        return self.record.inspect()

    def reload(self) -> Volume:
        self.record = self._service.local.get(self.name)
        return self

    def remove(self, force: bool = False) -> None:
        self._service.remove(self.name, force=force)


@dataclass
class PruneReport:
    deleted: list[str] = field(default_factory=list)
    space_reclaimed: int = 0


def _labels_match(labels: dict[str, str] | None, wanted: list[str]) -> bool:
    labels = labels or {}
    for item in wanted:
        key, sep, value = item.partition("=")
        if key not in labels or (sep and labels[key] != value):
            return False
    return True


def _truth(value: str, what: str) -> bool:
    lowered = value.lower()
    if lowered not in ("true", "false", "1", "0"):
        raise InvalidArgument(f"invalid filter '{what}={value}'")
    return lowered in ("true", "1")


class VolumeService:
    def __init__(self, store: Store) -> None:
        self.local = LocalVolumes(store)

    def create(self, name: str | None = None, driver: str = "local", driver_opts: dict[str, str] | None = None,
               labels: dict[str, str] | None = None) -> Volume:
        record, _ = self.local.create(name, labels=labels, options=driver_opts, driver=driver)
        return Volume(self, record)

    def get(self, name: str) -> Volume:
        try:
            return Volume(self, self.local.get(name))
        except NotFound:
            raise NotFound(f"No such volume: {name}") from None

    def list(self, filters: Iterable[str] = ()) -> list[Volume]:
        """``volume ls``: by name, after docker's filters."""
        parsed = parse_filters(filters, LIST_FILTERS)
        out = []
        for record in self.local.list():
            if "dangling" in parsed and (not record.used_by) != _truth(parsed["dangling"][-1], "dangling"):
                continue
            if "driver" in parsed and record.driver not in parsed["driver"]:
                continue
            if "label" in parsed and not _labels_match(record.labels, parsed["label"]):
                continue
            if "name" in parsed and not any(p in record.name or fnmatch.fnmatchcase(record.name, p)
                                            for p in parsed["name"]):
                continue
            out.append(Volume(self, record))
        return out

    def remove(self, name: str, force: bool = False) -> None:
        self.local.remove(name, force=force)

    def prune(self, filters: Iterable[str] = (), all_volumes: bool = False) -> PruneReport:
        """Remove unused volumes: anonymous ones, or all with ``all_volumes`` (docker 23+)."""
        parsed = parse_filters(filters, PRUNE_FILTERS)
        if "all" in parsed:
            all_volumes = _truth(parsed["all"][-1], "all")
        report = PruneReport()
        for record in self.local.list():
            if record.used_by or (not all_volumes and not record.anonymous):
                continue
            if "label" in parsed and not _labels_match(record.labels, parsed["label"]):
                continue
            if "label!" in parsed and _labels_match(record.labels, parsed["label!"]):
                continue
            size = self.local.size(record.name)
            try:
                self.local.remove(record.name)
            except (Conflict, NotFound):
                continue  # taken into use meanwhile
            report.deleted.append(record.name)
            report.space_reclaimed += size
        return report

