"""``tag`` / ``image tag``: the image service's ``tag``, so every rule of the store holds (the
store lock, the catalog taken out of use before repositories.json changes, atomic writes, the
catalog written again when done)."""

from .args import Spec

SPEC = Spec(nargs=(2, 2))
WRITES = True


def run(ctx, opts: dict, args: list[str]) -> int:
    ctx.engine().images.tag(args[0], args[1])
    return 0
