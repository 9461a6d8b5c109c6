"""``pause`` / ``container pause``: ``handle.pause`` (the runtime freezes the cgroup)."""

from .args import Spec
from .lifecycle import run_each

SPEC = Spec(nargs=(1, None))
WRITES = True


def run(ctx, opts: dict, args: list[str]) -> int:
    return run_each(ctx, args, lambda h: h.pause())
