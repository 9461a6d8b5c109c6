"""``inspect``: docker's top-level inspect (``engine.inspect``'s order: a container, else an
image, …), answered here for containers (docker's files, ``ctx.containers()``) and images the
catalog resolves without doubt; networks, volumes, ``-s``, unknown names and errors go to the
full CLI, which words them.

A name that cannot be a container's (``team/app:1``) costs no container lookup
(``ContainerStore.resolve`` says so at once).
"""

from .args import Decline, Spec

SPEC = Spec(flags={"-s": "size", "--size": "size"}, values={"-f": "fmt", "--format": "fmt", "--type": "kind"},
            nargs=(1, None))


def run(ctx, opts: dict, args: list[str]) -> int:
    from ..image_output import render_documents

    kind = opts["kind"]
    if opts["size"] or kind not in (None, "container", "image"):
        raise Decline
    docs = [_document(ctx, name, kind) for name in args]
    ctx.write(render_documents(docs, opts["fmt"]))
    return 0


def _document(ctx, name: str, kind: str | None):
    """The object's document (a dict, or the catalog's JSON text), or ``Decline``."""
    from ...errors import NotFound

    if kind in (None, "container"):
        containers = ctx.containers()
        if containers is None:
            raise Decline
        try:
            return containers.get(name).inspect()
        except NotFound:
            if kind:
                raise Decline from None
    catalog = ctx.catalog()
    if catalog is None:
        raise Decline
    from .image_inspect import catalog_document

    text = catalog_document(catalog, name)
    if text is None:
        raise Decline
    return text
