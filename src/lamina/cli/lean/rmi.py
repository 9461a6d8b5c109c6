"""``rmi`` / ``image rm``: docker's untag/delete rules in ``image.remove``; one line per event,
an ``Error:`` line per name that fails, exit 1 if any did. The click command runs ``remove``
below too."""

from .args import Spec

SPEC = Spec(flags={"-f": "force", "--force": "force", "--no-prune": "no_prune"}, nargs=(1, None))
WRITES = True


def run(ctx, opts: dict, args: list[str]) -> int:
    return remove(ctx.engine().image_remover, args, opts["force"], not opts["no_prune"], ctx.write, ctx.error)


def remove(remover, names, force: bool, prune: bool, write, error) -> int:
    """Remove each name in turn, as docker does; the exit code."""
    from ...errors import LaminaError

    failed = False
    for name in names:
        try:
            events = remover.remove(name, force=force, prune=prune)
        except LaminaError as exc:
            error(f"Error: {exc}\n")
            failed = True
            continue
        write("".join(event.line() + "\n" for event in events))
    return 1 if failed else 0
