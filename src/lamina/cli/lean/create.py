"""``create`` / ``container create``: the container, its ID on stdout (``lean.run`` does the work)."""

from .run import create as create_container
from .run import spec_for

__all__ = ["SPEC", "run"]

WRITES = True
SPEC = spec_for({}, {})


def run(ctx, opts: dict, args: list[str]) -> int:
    handle = create_container(ctx, opts, args, detach=True)
    ctx.write(handle.id + "\n")
    return 0
