"""``__complete images``: what the completion scripts (``cli/completion.py``) offer for an image
argument, one per line, read from the image catalog without click."""

from .args import Spec

SPEC = Spec(nargs=(1, 1))
KINDS = ("images",)


def run(ctx, opts: dict, args: list[str]) -> int | None:
    if args[0] not in KINDS:
        return None  # click words the error
    catalog = ctx.catalog()
    if catalog is None:
        catalog = ctx.engine().images.catalog()  # rebuilt, as the next `images` would
    ctx.write(candidates(catalog, args[0]))
    return 0


def candidates(catalog, kind: str) -> str:
    """Every repository:tag, and the bare repository where its tag is ``latest`` (``busybox``
    means ``busybox:latest``), sorted."""
    names = set()
    for image in catalog.images:
        for tag in image.repo_tags:
            names.add(tag)
            repo, _, name = tag.rpartition(":")
            if name == "latest":
                names.add(repo)
    return "".join(name + "\n" for name in sorted(names))
