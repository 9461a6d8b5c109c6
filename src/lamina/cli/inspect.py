"""``lamina inspect``: docker's top-level inspect, any kind of object (``engine.inspect``: a
container, else an image, a network, a volume). ``image inspect``, ``container inspect`` …
are each group's own. The lean path answers containers and images (``cli/lean/inspect.py``)."""

from __future__ import annotations

import click

from ..errors import LaminaError
from .context import engine
from .image_output import render_documents


@click.command("inspect")
@click.option("-f", "--format", "fmt", default=None, help="Format output using a custom template")
@click.option("-s", "--size", is_flag=True, help="Display total file sizes if the type is container")
@click.option("--type", "kind", default=None, help="Return JSON for specified type")
@click.argument("names", nargs=-1, required=True)
@click.pass_context
def inspect_cmd(ctx, fmt, size, kind, names):
    """Return low-level information on lamina objects (containers, images, networks, volumes)."""
    eng = engine(ctx)
    docs, failed = [], []
    for name in names:
        try:
            docs.append(eng.inspect(name, kind, size))
        except LaminaError as exc:
            failed.append(str(exc))
    click.echo(render_documents(docs, fmt), nl=False)
    for message in failed:
        click.echo(f"Error: {message}", err=True)
    if failed:
        ctx.exit(1)
