"""``wait`` / ``container wait``: block until each container stops, print its exit code."""

from .args import Spec
from .lifecycle import run_each

SPEC = Spec(nargs=(1, None))
WRITES = True


def run(ctx, opts: dict, args: list[str]) -> int:
    from ..container_output import wait_for

    return run_each(ctx, args, wait_for(ctx.say), echo=False)
