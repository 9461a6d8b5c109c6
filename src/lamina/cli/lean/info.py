"""``info`` / ``system info``: ``Engine.info()`` rendered by ``cli.system_output``."""

from .args import Spec

SPEC = Spec(values={"-f": "fmt", "--format": "fmt"})


def run(ctx, opts: dict, args: list[str]) -> int:
    from ..system_output import render_info

    ctx.write(render_info(ctx.engine().info(), opts["fmt"]))
    return 0
