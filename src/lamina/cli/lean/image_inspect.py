"""``image inspect``: the documents the catalog keeps rendered (``catalog_documents`` below is
also the image half of the top-level ``inspect``, ``cli/lean/inspect.py``).

Names the catalog resolves without doubt are answered here; any other (unknown, an ambiguous
ID prefix, a spelling not in its table) goes to the full resolver, which words the error.
"""

from .args import Decline, Spec

SPEC = Spec(values={"-f": "fmt", "--format": "fmt"}, nargs=(1, None))


def run(ctx, opts: dict, args: list[str]) -> int:
    from ..image_output import render_documents

    catalog = ctx.catalog()
    if catalog is None:
        raise Decline
    texts = []
    for name in args:
        text = catalog_document(catalog, name)
        if text is None:
            raise Decline
        texts.append(text)
    ctx.write(render_documents(texts, opts["fmt"]))
    return 0


def catalog_document(catalog, name: str) -> str | None:
    """The image's inspect document as the catalog keeps it (indented JSON), or None."""
    image_id = catalog.resolve(name)
    return catalog.inspect_json(image_id) if image_id else None
