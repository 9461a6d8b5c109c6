"""What every command needs from the group: the engine, built lazily from global flags."""

from __future__ import annotations

from dataclasses import replace

import click

from ..archive.compression import Limits
from ..engine import Engine
from ..errors import InvalidArgument
from ..format.units import parse_size


def engine(ctx: click.Context) -> Engine:
    root = ctx.find_root()
    obj = root.obj
    if obj.get("engine") is None:
        obj["engine"] = Engine(obj["data_root"], obj.get("storage_driver"), _limits(obj))
    return obj["engine"]


def _limits(obj: dict) -> Limits:
    """The decompression-bomb limits from ``--max-layer-size`` / ``--max-compression-ratio``."""
    changes = {}
    if obj.get("max_layer_size"):
        size = parse_size(obj["max_layer_size"])
        if size <= 0:
            raise InvalidArgument(f"--max-layer-size must be positive, not {obj['max_layer_size']!r}")
        changes["max_uncompressed"] = size
    if obj.get("max_compression_ratio"):
        changes["max_ratio"] = obj["max_compression_ratio"]
    return replace(Limits(), **changes)
