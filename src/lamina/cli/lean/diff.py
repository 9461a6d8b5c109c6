"""``diff`` / ``container diff``: ``container.filesystem.changes``, one ``KIND /path`` line per
change (the click command prints the same lines through ``engine.container_files``).

It needs only the data root's paths, not the engine: on a data root with a store already in it
(``image/<driver>/layerdb``, whichever driver the store would pick), it reads the container's
files directly; anywhere else it leaves the command to the full CLI.
"""

from .args import Decline, Spec

SPEC = Spec(nargs=(1, 1))
WRITES = False


def run(ctx, opts: dict, args: list[str]) -> int:
    from ...container import filesystem

    view = ctx.store_view()
    if view is None:
        raise Decline
    changes = filesystem.changes(view.paths, filesystem.resolve(view.paths, args[0]))
    ctx.write("".join(change.line() + "\n" for change in changes))
    return 0
