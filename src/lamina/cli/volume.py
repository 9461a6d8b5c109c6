"""``lamina volume create|ls|inspect|rm|prune``: docker's flags, columns and messages; the work
is ``engine.volumes``."""

from __future__ import annotations

import json

import click

from ..errors import InvalidArgument, LaminaError
from ..format.units import human_size
from .context import engine


@click.group("volume")
def volume_group() -> None:
    """Manage volumes."""


def _pairs(items, what: str) -> dict[str, str]:
    out = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {what}: {item!r}")
        out[key] = value if sep else ""
    return out


@volume_group.command("create")
@click.argument("name", required=False)
@click.option("-d", "--driver", default="local", show_default=True, help="Specify volume driver name")
@click.option("--label", "labels", multiple=True, help="Set metadata for a volume")
@click.option("-o", "--opt", "opts", multiple=True, help="Set driver specific options")
@click.option("--name", "name_flag", default=None, hidden=True)
@click.pass_context
def create_cmd(ctx, name, driver, labels, opts, name_flag):
    """Create a volume."""
    if name and name_flag and name != name_flag:
        raise InvalidArgument("conflicting options: either specify --name or provide positional arg, not both")
    volume = engine(ctx).volumes.create(name or name_flag, driver=driver, driver_opts=_pairs(opts, "option") or None,
                                        labels=_pairs(labels, "label") or None)
    click.echo(volume.name)


@volume_group.command("ls")
@click.option("-q", "--quiet", is_flag=True, help="Only display volume names")
@click.option("-f", "--filter", "filters", multiple=True, help="Provide filter values (e.g. 'dangling=true')")
@click.option("--format", "fmt", default=None, help="Format output using a custom template")
@click.pass_context
def ls_cmd(ctx, quiet, filters, fmt):
    """List volumes."""
    from .lean.volumes import render  # what the lean path prints too

    volumes = engine(ctx).volumes.list(filters)
    click.echo(render([v.record for v in volumes], quiet, fmt), nl=False)


@volume_group.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "fmt", default=None, help="Format output using a custom template")
@click.pass_context
def inspect_cmd(ctx, names, fmt):
    """Display detailed information on one or more volumes."""
    service = engine(ctx).volumes
    docs, failed = [], []
    for name in names:
        try:
            docs.append(service.get(name).attrs)
        except LaminaError as exc:
            failed.append(exc)
    if fmt:
        from .image_output import render_inspect

        click.echo(render_inspect(docs, fmt), nl=False)
    else:
        click.echo(json.dumps(docs, indent=4, ensure_ascii=False))
    for exc in failed:
        click.echo(f"Error: {exc}", err=True)
    if failed:
        ctx.exit(1)


@volume_group.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Force the removal of one or more volumes")
@click.pass_context
def rm_cmd(ctx, names, force):
    """Remove one or more volumes. You cannot remove a volume that is in use by a container."""
    from .errors import exit_code_for

    service = engine(ctx).volumes
    code = 0
    for name in names:
        try:
            service.remove(name, force=force)
        except LaminaError as exc:
            click.echo(f"Error: {exc}", err=True)
            code = code or exit_code_for(exc)
            continue
        click.echo(name)
    if code:
        ctx.exit(code)


@volume_group.command("prune")
@click.option("-a", "--all", "all_volumes", is_flag=True, help="Remove all unused volumes, not just anonymous ones")
@click.option("--filter", "filters", multiple=True, help="Provide filter values (e.g. 'label=<label>')")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.pass_context
def prune_cmd(ctx, all_volumes, filters, force):
    """Remove unused local volumes."""
    if not force:
        warning = ("WARNING! This will remove all local volumes not used by at least one container."
                   if all_volumes else "WARNING! This will remove anonymous local volumes not used by at least one container.")
        if not click.confirm(f"{warning}\nAre you sure you want to continue?", default=False):
            return
    report = engine(ctx).volumes.prune(filters, all_volumes=all_volumes)
    if report.deleted:
        click.echo("Deleted Volumes:")
        for name in report.deleted:
            click.echo(name)
        click.echo()
    click.echo(f"Total reclaimed space: {human_size(report.space_reclaimed)}")


volume_group.add_command(ls_cmd, "list")
volume_group.add_command(rm_cmd, "remove")
