"""``system df``: ``Engine.disk_usage()`` rendered by ``cli.system_output``."""

from .args import Spec

SPEC = Spec(flags={"-v": "verbose", "--verbose": "verbose"}, values={"--format": "fmt"})


def run(ctx, opts: dict, args: list[str]) -> int:
    from ..system_output import render_df

    ctx.write(render_df(ctx.engine(), opts["verbose"], opts["fmt"]))
    return 0
