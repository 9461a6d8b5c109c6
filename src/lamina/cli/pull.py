"""``pull``, ``push`` and ``search``: docker's commands against a registry (output as docker's)."""

from __future__ import annotations

import click

from .. import reference as refs
from .context import engine
from .progress import ProgressDisplay


@click.command("pull")
@click.argument("name")
@click.option("-a", "--all-tags", is_flag=True, help="Download all tagged images in the repository")
@click.option("--platform", default=None, help="Set platform if server is multi-platform capable (os/arch[/variant])")
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output")
@click.option("--dry-run", is_flag=True, help="Show how many bytes would be downloaded and how many are already held; fetch nothing else")
@click.pass_context
def pull_cmd(ctx, name, all_tags, platform, quiet, dry_run):
    """Download an image from a registry."""
    from ..format.humanize import human_size

    images = engine(ctx).images
    ref = refs.parse(name)
    display = ProgressDisplay(quiet=quiet)
    if dry_run:
        plan = images.pull_plan(name, platform)
        label = plan.reference.tag if plan.reference.digest is None else str(plan.reference.digest)
        click.echo(f"{label}: Pulling from {plan.reference.path} (dry run)")
        for layer in plan.layers:
            state = "Already exists" if layer.present else "Would download"
            click.echo(f"{layer.digest.hex[:12]}: {state} ({human_size(layer.size)})")
        missing = {layer.digest for layer in plan.layers if not layer.present}
        held = sum(1 for layer in plan.layers if layer.present)
        click.echo(f"Digest: {plan.digest}")
        click.echo(
            f"Would download {len(missing)} layer(s), {human_size(plan.download_bytes)}; "
            f"{held} layer(s), {human_size(plan.held_bytes)} already held"
        )
        return
    if all_tags:
        if not quiet:
            click.echo(f"Pulling all tags of {ref.familiar_name}")
        results = images.pull_all_tags(name, platform, display)
        if not quiet:
            for result in results:
                click.echo(f"{result.reference.tag}: Digest: {result.digest}")
            updated = any(r.updated for r in results)
            verb = "Downloaded newer image for" if updated else "Image is up to date for"
            click.echo(f"Status: {verb} {ref.familiar_name}")
        click.echo(ref.name)
        return
    if ref.tag is None and ref.digest is None and not quiet:
        display.line("Using default tag: latest")
    result = images.pull(name, platform, display)
    if not quiet:
        display.line(f"Digest: {result.digest}")
        display.line(result.status_line())
    click.echo(str(result.reference))
