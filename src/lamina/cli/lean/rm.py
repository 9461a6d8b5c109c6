"""``rm`` / ``container rm``: ``handle.remove`` (``-f`` kills a running one first, ``-v`` takes
its anonymous volumes too)."""

from .args import Spec
from .lifecycle import run_each

SPEC = Spec(flags={"-f": "force", "--force": "force", "-v": "volumes", "--volumes": "volumes"}, nargs=(1, None))
WRITES = True


def run(ctx, opts: dict, args: list[str]) -> int:
    force, volumes = opts["force"], opts["volumes"]
    return run_each(ctx, args, lambda h: h.remove(force=force, v=volumes))
