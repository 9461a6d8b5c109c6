"""``logs`` / ``container logs``: the container's json-file log through ``handle.logs``, written
by ``container_output.write_logs`` as the click command writes it (``-f`` follows while the
container runs, a line at a time).

Ctrl-C ends a follow as click ends it ("Aborted!", exit 1: ``cli.fast``), and a closed pipe
(``lamina logs -f web | head -1``) ends it quietly with 0.
"""

from .args import Decline, Spec

SPEC = Spec(
    flags={"-f": "follow", "--follow": "follow", "-t": "timestamps", "--timestamps": "timestamps",
           "--details": "details"},
    values={"--tail": "tail", "-n": "tail", "--since": "since", "--until": "until"},
    default={"tail": "all"},
    nargs=(1, 1),
)
#: the log is written as it is read: nothing is redone by the full CLI once it has begun
WRITES = True


def run(ctx, opts: dict, args: list[str]) -> int:
    import sys

    from ..container_output import write_logs

    containers = ctx.containers()
    if containers is None:
        raise Decline
    handle = containers.get(args[0])
    write_logs(handle, opts["follow"], opts["tail"], opts["timestamps"], opts["since"], opts["until"],
               sys.stdout.buffer, sys.stderr.buffer)
    return 0
