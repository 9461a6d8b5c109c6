"""``kill`` / ``container kill``: ``handle.kill`` with ``-s`` (default KILL)."""

from .args import Spec
from .lifecycle import run_each

SPEC = Spec(values={"-s": "sig", "--signal": "sig"}, default={"sig": "KILL"}, nargs=(1, None))
WRITES = True


def run(ctx, opts: dict, args: list[str]) -> int:
    sig = opts["sig"]
    return run_each(ctx, args, lambda h: h.kill(sig))
