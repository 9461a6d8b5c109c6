"""What every command needs from the group: the engine, built lazily from global flags."""

from __future__ import annotations

import click

from ..engine import Engine


def engine(ctx: click.Context) -> Engine:
    root = ctx.find_root()
    obj = root.obj
    if obj.get("engine") is None:
        obj["engine"] = Engine(obj["data_root"], obj.get("storage_driver"))
    return obj["engine"]
