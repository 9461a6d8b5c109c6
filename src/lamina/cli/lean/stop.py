"""``stop`` / ``container stop``: ``handle.stop`` (StopSignal, the timeout, then SIGKILL)."""

from .args import Spec
from .lifecycle import run_each

SPEC = Spec(
    values={"-t": "timeout", "--time": "timeout", "--timeout": "timeout", "-s": "sig", "--signal": "sig"},
    types={"timeout": int},
    nargs=(1, None),
)
WRITES = True


def run(ctx, opts: dict, args: list[str]) -> int:
    from ..container_output import stop_with

    return run_each(ctx, args, stop_with(opts["timeout"], opts["sig"]))
