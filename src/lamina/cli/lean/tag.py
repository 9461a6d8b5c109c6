"""``tag`` / ``image tag``: repositories.json changed under the store lock and the catalog
edited in place (``store.tagging``), without building the store or the image service.

The source is resolved through the current catalog (read under the lock); a name it does not
resolve without doubt, or a store without a current catalog, goes to the image service's
``tag`` (the engine), which words every error and rebuilds the catalog.
"""

from .args import Spec

SPEC = Spec(nargs=(2, 2))
WRITES = True


def run(ctx, opts: dict, args: list[str]) -> int:
    source, target = args
    driver = ctx.driver()
    if driver is None:
        return _full(ctx, source, target)
    from ...store.tagging import Retag

    retag = Retag.open(ctx.data_root, driver)
    if retag is None:
        return _full(ctx, source, target)
    with retag:
        image_id = _resolve(retag, source)
        if image_id is not None:
            from ... import reference as refs
            from ...errors import InvalidReference

            ref = refs.parse(target)
            if ref.digest is not None:
                raise InvalidReference("refusing to create a tag with a digest reference")
            retag.tag(ref.with_default_tag(), image_id)
            return 0
    return _full(ctx, source, target)  # nothing changed: the image service resolves (and words) it


def _resolve(retag, name: str) -> str | None:
    """What ``ImageService.resolve`` answers, where the catalog's name table is sure of it."""
    from ...store.catalog import Catalog

    return Catalog(list(retag.records.values()), retag.names).resolve(name)


def _full(ctx, source: str, target: str) -> int:
    ctx.engine().images.tag(source, target)
    return 0
