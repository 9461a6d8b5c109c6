"""``lamina image …`` and the docker-style top-level aliases (images, rmi, tag, …)."""

from __future__ import annotations

import sys
from datetime import UTC, datetime

import click

from ..errors import InvalidArgument, LaminaError
from ..format.units import human_size
from ..image.service import inspect_json
from .context import engine
from .image_output import render_history, render_images, render_inspect
from .lazy import LazyGroup
from .lean.rmi import remove


class _GoBool(click.ParamType):
    """A boolean flag value written the pflag way too: ``-H=false`` (click hands us "=false")."""

    name = "boolean"

    def convert(self, value, param, ctx):
        if isinstance(value, bool):
            return value
        return click.BOOL.convert(str(value).removeprefix("="), param, ctx)


#: image sub-commands that live in other modules, imported when run
IMAGE_COMMANDS = {
    "save": "lamina.cli.transfer:save_cmd",
    "load": "lamina.cli.transfer:load_cmd",
    "layers": "lamina.cli.explore:layers_cmd",
    "blame": "lamina.cli.explore:blame_cmd",
    "diff": "lamina.cli.explore:diff_cmd",
    "waste": "lamina.cli.explore:waste_cmd",
    "tree": "lamina.cli.explore:tree_cmd",
    "build": "lamina.cli.build:build_cmd",
    "pull": "lamina.cli.pull:pull_cmd",
    "push": "lamina.cli.pull:push_cmd",
}


@click.group("image", cls=LazyGroup, lazy=IMAGE_COMMANDS)
def image_group() -> None:
    """Manage images."""


def _now() -> datetime:
    return datetime.now(UTC)


# import ------------------------------------------------------------------------------------
@click.command("import")
@click.argument("source")
@click.argument("reference", required=False)
@click.option("-c", "--change", "changes", multiple=True, help="Apply Dockerfile instruction to the created image")
@click.option("-m", "--message", default="", help="Set commit message for imported image")
@click.option("--platform", default=None, help="Set platform (only this host's is supported)")
@click.pass_context
def import_cmd(ctx, source, reference, changes, message, platform):
    """Import the contents from a tarball to create a filesystem image."""
    eng = engine(ctx)
    if source == "-":
        stream, name = sys.stdin.buffer, "-"
        image_id = eng.images.import_tarball(stream, name, reference, changes, message)
    elif source.startswith(("http://", "https://")):
        from ..image.fetch import open_url

        with open_url(source) as stream:
            image_id = eng.images.import_tarball(stream, source, reference, changes, message)
    else:
        try:
            stream = open(source, "rb")
        except OSError as exc:
            raise InvalidArgument(f"open {source}: {exc.strerror.lower()}") from None
        with stream:
            # docker's CLI streams a local file to the daemon as "-", so history says "Imported from -"
            image_id = eng.images.import_tarball(stream, "-", reference, changes, message)
    click.echo(str(image_id))


# ls ----------------------------------------------------------------------------------------
@click.command("ls")
@click.argument("repository", required=False)
@click.option("-a", "--all", "all_images", is_flag=True, help="Show all images (default hides intermediate images)")
@click.option("--digests", is_flag=True, help="Show digests")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output based on conditions provided")
@click.option("--format", "fmt", default=None, help="Format output using a custom template")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
@click.pass_context
def ls_cmd(ctx, repository, all_images, digests, filters, fmt, no_trunc, quiet):
    """List images."""
    images = engine(ctx).images.list(repository, filters, all_images)
    click.echo(render_images(images, _now().timestamp(), quiet, digests, no_trunc, fmt), nl=False)


# inspect -----------------------------------------------------------------------------------
@click.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "fmt", default=None, help="Format output using a custom template")
@click.pass_context
def inspect_cmd(ctx, names, fmt):
    """Display detailed information on one or more images."""
    eng = engine(ctx)
    docs, failed = [], []
    for name in names:
        try:
            docs.append(eng.images.inspect(name))
        except LaminaError as exc:
            failed.append(str(exc))
    if fmt and fmt != "json":
        click.echo(render_inspect(docs, fmt), nl=False)
    else:
        click.echo(inspect_json(docs))  # "[]" when nothing was found, as docker prints
    for message in failed:
        click.echo(f"Error: {message}", err=True)
    if failed:
        ctx.exit(1)


# history -----------------------------------------------------------------------------------
@click.command("history")
@click.argument("name")
@click.option("-H", "--human", type=_GoBool(), default=True, show_default=True, help="Print sizes and dates in human readable format")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-q", "--quiet", is_flag=True, help="Only show image IDs")
@click.option("--format", "fmt", default=None, help="Format output using a custom template")
@click.pass_context
def history_cmd(ctx, name, human, no_trunc, quiet, fmt):
    """Show the history of an image."""
    entries = engine(ctx).images.history(name)
    click.echo(render_history(entries, human, no_trunc, quiet, fmt), nl=False)


# tag / rm / prune --------------------------------------------------------------------------
@click.command("tag")
@click.argument("source")
@click.argument("target")
@click.pass_context
def tag_cmd(ctx, source, target):
    """Create a tag TARGET_IMAGE that refers to SOURCE_IMAGE."""
    engine(ctx).images.tag(source, target)


@click.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Force removal of the image")
@click.option("--no-prune", is_flag=True, help="Do not delete untagged parents")
@click.pass_context
def rm_cmd(ctx, names, force, no_prune):
    """Remove one or more images."""
    code = remove(engine(ctx).image_remover, names, force, not no_prune, _out, _err)
    if code:
        ctx.exit(code)


def _out(text: str) -> None:
    click.echo(text, nl=False)


def _err(text: str) -> None:
    click.echo(text, nl=False, err=True)


@click.command("prune")
@click.option("-a", "--all", "all_images", is_flag=True, help="Remove all unused images, not just dangling ones")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--dry-run", is_flag=True, help="Show what would be removed and the space it would reclaim")
@click.option("--filter", "filters", multiple=True, help="Provide filter values (e.g. 'until=<timestamp>', 'label=<key>=<value>')")
@click.pass_context
def prune_cmd(ctx, all_images, force, dry_run, filters):
    """Remove unused images."""
    if not force and not dry_run:
        warning = (
            "WARNING! This will remove all images without at least one container associated to them."
            if all_images
            else "WARNING! This will remove all dangling images."
        )
        if not click.confirm(f"{warning}\nAre you sure you want to continue?", default=False):
            return
    report = engine(ctx).image_remover.prune(all_images=all_images, dry_run=dry_run, filters=filters)
    if report.events:
        click.echo("Would delete:" if dry_run else "Deleted Images:")
        for event in report.events:
            click.echo(event.line())
        click.echo()
    label = "Total reclaimable space" if dry_run else "Total reclaimed space"
    click.echo(f"{label}: {human_size(report.space_reclaimed)}")


for _cmd in (import_cmd, ls_cmd, inspect_cmd, history_cmd, tag_cmd, rm_cmd, prune_cmd):
    image_group.add_command(_cmd)
image_group.add_command(ls_cmd, "list")
image_group.add_command(rm_cmd, "remove")
image_group.add_command(rm_cmd, "rmi")


__all__ = ["image_group"]
