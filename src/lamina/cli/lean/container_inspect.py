"""``container inspect``: ``handle.inspect`` of each container, read from docker's files
(``ctx.containers()``; with ``-s`` the image store too, through ``ctx.engine()``), rendered by
``container_output.render_container_inspect`` as the click command renders it."""

from .args import Decline, Spec

SPEC = Spec(flags={"-s": "size", "--size": "size"}, values={"-f": "fmt", "--format": "fmt"}, nargs=(1, None))


def run(ctx, opts: dict, args: list[str]) -> int:
    from ..container_output import render_container_inspect

    containers = ctx.engine().containers if opts["size"] else ctx.containers()
    if containers is None:
        raise Decline
    return render_container_inspect(containers, args, opts["fmt"], opts["size"], ctx.write, ctx.error)
