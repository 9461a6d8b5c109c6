"""``network ls --filter`` and ``network prune --filter``, as docker reads them."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..errors import InvalidArgument
from .model import Network

if TYPE_CHECKING:
    from .store import NetworkStore

LS_KEYS = {"driver", "id", "label", "name", "scope", "type", "dangling"}
PRUNE_KEYS = {"until", "label", "label!"}


def parse(values: list[str], allowed: set[str]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in values:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidArgument(f"bad format of filter (expected name=value): {item}")
        if key not in allowed:
            raise InvalidArgument(f"invalid filter '{key}'")
        out.setdefault(key, []).append(value)
    return out


def _label_ok(net: Network, wanted: str) -> bool:
    key, sep, value = wanted.partition("=")
    return key in net.labels and (not sep or net.labels[key] == value)


def matches(net: Network, filters: dict[str, list[str]], store: NetworkStore) -> bool:
    for key, values in filters.items():
        if key == "driver" and net.driver not in values:
            return False
        if key == "id" and not any(net.id.startswith(v) for v in values):
            return False
        if key == "name" and not any(v in net.name for v in values):
            return False
        if key == "scope" and "local" not in values:
            return False
        if key == "label" and not all(_label_ok(net, v) for v in values):
            return False
        if key == "type":
            for v in values:
                if v not in ("custom", "builtin"):
                    raise InvalidArgument(f"invalid filter: 'type'='{v}'")
            kind = "builtin" if net.is_predefined else "custom"
            if kind not in values:
                return False
        if key == "dangling":
            want = values[-1].lower() in ("1", "true")
            dangling = not net.is_predefined and not store.endpoints(net.id)
            if dangling != want:
                return False
    return True


def prune_matches(net: Network, filters: dict[str, list[str]]) -> bool:
    for key, values in filters.items():
        if key == "label" and not all(_label_ok(net, v) for v in values):
            return False
        if key == "label!" and any(_label_ok(net, v) for v in values):
            return False
        if key == "until":
            from datetime import datetime

            from ..format.units import parse_timestamp_filter

            created = datetime.fromisoformat(net.created[:26] + "+00:00").timestamp()
            if any(created >= parse_timestamp_filter(v) for v in values):
                return False
    return True

