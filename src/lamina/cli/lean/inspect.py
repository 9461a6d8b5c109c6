"""``inspect`` / ``image inspect``: the documents the catalog keeps rendered.

Names the catalog resolves without doubt are answered here; any other (unknown, an ambiguous
ID prefix, a spelling not in its table) goes to the full resolver, which words the error.
"""

from .args import Spec

SPEC = Spec(values={"-f": "fmt", "--format": "fmt"}, nargs=(1, None))


def run(ctx, opts: dict, args: list[str]) -> int | None:
    catalog = ctx.catalog()
    if catalog is None:
        return None
    texts = []
    for name in args:
        image_id = catalog.resolve(name)
        text = catalog.inspect_json(image_id) if image_id else None
        if text is None:
            return None
        texts.append(text)
    fmt = opts["fmt"]
    if fmt and fmt != "json":
        import json

        from ..image_output import render_inspect

        ctx.write(render_inspect([json.loads(text) for text in texts], fmt))
    else:
        # json.dumps(docs, indent=4): each document one level in
        ctx.write("[\n    " + ",\n    ".join(text.replace("\n", "\n    ") for text in texts) + "\n]\n")
    return 0
