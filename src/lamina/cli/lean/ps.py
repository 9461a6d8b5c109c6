"""``ps`` / ``container ls|list|ps``: ``engine.containers.list``, rendered by
``cli.container_output.render_ps`` (the click command runs both too).

Containers are read from docker's own files (config.v2.json, hostconfig.json) with ``json`` and
no image store: a ``ContainerService`` on ``ctx.containers()``. What needs the images, ``-s``
(the image's size) and the ``ancestor`` filter, goes through ``ctx.engine()``.
"""

from .args import Decline, Spec

SPEC = Spec(
    flags={"-a": "show_all", "--all": "show_all", "-q": "quiet", "--quiet": "quiet", "-l": "latest",
           "--latest": "latest", "-s": "size", "--size": "size", "--no-trunc": "no_trunc"},
    values={"-n": "last", "--last": "last", "-f": "filters", "--filter": "filters", "--format": "fmt"},
    multiple=("filters",),
    types={"last": int},
    default={"last": -1},
)
#: a running container whose monitor died is marked exited as it is listed (as the full CLI does)
WRITES = False


def run(ctx, opts: dict, args: list[str]) -> int:
    import time

    from ..container_output import parse_filters, render_ps

    filters = parse_filters(opts["filters"])
    if opts["size"] or "ancestor" in filters:
        service = ctx.engine().containers
    else:
        service = ctx.containers()
        if service is None:
            raise Decline
    handles = service.list(all=opts["show_all"], filters=filters, limit=opts["last"], latest=opts["latest"])
    ctx.write(render_ps(handles, time.time(), opts["quiet"], opts["no_trunc"], opts["size"], opts["fmt"]))
    return 0
