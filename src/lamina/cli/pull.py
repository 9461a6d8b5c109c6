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
        results = images.pull_all_tags(name, platform, display, lambda r: display.line(f"Digest: {r.digest}"))
        if not quiet:
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


@click.command("push")
@click.argument("name")
@click.option("-a", "--all-tags", is_flag=True, help="Push all tagged images in the repository")
@click.option("-q", "--quiet", is_flag=True, help="Suppress verbose output")
@click.option("--compression", type=click.Choice(["gzip", "zstd"]), default="gzip", show_default=True,
              help="Layer compression (zstd pushes an OCI manifest)")
@click.pass_context
def push_cmd(ctx, name, all_tags, quiet, compression):
    """Upload an image to a registry."""
    display = ProgressDisplay(quiet=quiet)
    results = engine(ctx).images.push(name, all_tags=all_tags, compression=compression, progress=display)
    if quiet:
        click.echo(refs.parse(name).name if all_tags else str(refs.parse(name).with_default_tag()))
        return
    for result in results:
        display.line(result.line())


SEARCH_FORMAT = "table {{.Name}}\t{{.Description}}\t{{.StarCount}}\t{{.IsOfficial}}\t{{.IsAutomated}}"
SEARCH_HEADERS = {"Name": "NAME", "Description": "DESCRIPTION", "StarCount": "STARS", "IsOfficial": "OFFICIAL", "IsAutomated": "AUTOMATED"}


@click.command("search")
@click.argument("term")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output based on conditions provided (stars=N, is-official=BOOL, is-automated=BOOL)")
@click.option("--format", "fmt", default=None, help="Pretty-print search using a Go template")
@click.option("--limit", type=int, default=25, show_default=True, help="Max number of search results")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
def search_cmd(term, filters, fmt, limit, no_trunc):
    """Search a registry for images (HOST:PORT/TERM for a private registry)."""
    from ..errors import InvalidArgument
    from ..format import table as tables
    from ..registry.client.search import search

    stars, official, automated = 0, None, None
    for item in filters:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidArgument(f"bad format of filter (expected name=value): {item}")
        if key == "stars":
            if not value.isdigit():
                raise InvalidArgument(f"Invalid filter 'stars={value}'")
            stars = int(value)
        elif key in ("is-official", "is-automated"):
            if value.lower() not in ("true", "false", "1", "0"):
                raise InvalidArgument(f"Invalid filter '{key}={value}'")
            flag = value.lower() in ("true", "1")
            official, automated = (flag, automated) if key == "is-official" else (official, flag)
        else:
            raise InvalidArgument(f"Invalid filter '{key}'")
    results = [
        r for r in search(term, limit)
        if r.StarCount >= stars
        and (official is None or r.IsOfficial == official)
        and (automated is None or r.IsAutomated == automated)
    ]
    if fmt is None:
        rows = [
            {
                **r.__dict__,
                "Description": r.Description if no_trunc or len(r.Description) <= 45 else r.Description[:45] + "...",
                "IsOfficial": "[OK]" if r.IsOfficial else "",
                "IsAutomated": "[OK]" if r.IsAutomated else "",
            }
            for r in results
        ]
        click.echo(tables.render(None, rows, SEARCH_FORMAT, SEARCH_HEADERS), nl=False)
        return
    click.echo(tables.render(fmt, results, SEARCH_FORMAT, SEARCH_HEADERS), nl=False)
