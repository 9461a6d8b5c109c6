"""What the lean lifecycle commands (``stop``, ``kill``, ``rm``, ``restart``, ``pause``,
``unpause``, ``wait``) share: each runs ``container_output.each`` (as its click command does)
over ``ctx.containers()``, ``engine.containers`` on docker's files without the image store."""

from .args import Decline


def run_each(ctx, refs: list[str], action, echo: bool = True) -> int:
    from ..container_output import each

    containers = ctx.containers()
    if containers is None:
        raise Decline  # no store here yet: the full CLI makes one and words the error
    return each(containers, refs, action, ctx.say, ctx.error, echo)
