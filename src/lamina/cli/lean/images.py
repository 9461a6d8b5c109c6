"""``images`` / ``image ls``: the catalog's records, rendered by ``cli.image_output``.

Answered here without filters or a repository argument (those go to the full CLI, which asks
the image service); with ``--format`` the template engine loads (``re``, ~8 ms).
"""

from .args import Spec

SPEC = Spec(
    flags={"-a": "all_images", "--all": "all_images", "-q": "quiet", "--quiet": "quiet", "--digests": "digests", "--no-trunc": "no_trunc"},
    values={"--format": "fmt"},
)


def run(ctx, opts: dict, args: list[str]) -> int | None:
    catalog = ctx.catalog()
    if catalog is None:
        return None
    import time

    from ..image_output import render_images

    images = catalog.images
    if not opts["all_images"]:
        images = [i for i in images if i.repo_tags or i.repo_digests or not i.has_children]
    ctx.write(render_images(images, time.time(), opts["quiet"], opts["digests"], opts["no_trunc"], opts["fmt"]))
    return 0
