"""``restart`` / ``container restart``: ``handle.restart`` (stop if running, then start)."""

from .args import Spec
from .lifecycle import run_each

SPEC = Spec(values={"-t": "timeout", "--time": "timeout", "--timeout": "timeout"}, types={"timeout": int}, nargs=(1, None))
WRITES = True


def run(ctx, opts: dict, args: list[str]) -> int:
    timeout = opts["timeout"]
    return run_each(ctx, args, lambda h: h.restart(timeout))
