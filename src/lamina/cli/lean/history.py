"""``history`` / ``image history``: ``image.history.image_history`` rendered by
``cli.image_output``, on the store's parts (image configs, layer records, repositories.json)
without building the Store; the name is resolved through the current catalog, and a name it
does not resolve without doubt goes to ``ImageService.history`` (which words the error).

``-H``/``--human`` takes pflag's boolean spellings (``-H=false``), which click parses with its
own type: a command line with it goes to the full CLI.
"""

from .args import Spec

SPEC = Spec(
    flags={"--no-trunc": "no_trunc", "-q": "quiet", "--quiet": "quiet"},
    values={"--format": "fmt"},
    nargs=(1, 1),
)


def run(ctx, opts: dict, args: list[str]) -> int:
    from ..image_output import render_history

    entries = _from_catalog(ctx, args[0])
    if entries is None:
        entries = ctx.engine().images.history(args[0])
    ctx.write(render_history(entries, True, opts["no_trunc"], opts["quiet"], opts["fmt"]))
    return 0


def _from_catalog(ctx, name: str):
    catalog = ctx.catalog()
    image_id = catalog.resolve(name) if catalog is not None else None
    if image_id is None:
        return None
    from ...digest import Digest
    from ...image.history import image_history
    from ...store.imagedb import ImageDB
    from ...store.layerdb import LayerDB
    from ...store.paths import DataRoot
    from ...store.repositories import Repositories

    paths = DataRoot(ctx.data_root, ctx.driver())
    return image_history(ImageDB(paths), LayerDB(paths), Repositories(paths.repositories_json()), Digest.parse(image_id))
