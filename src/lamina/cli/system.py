"""``lamina system df|check|info`` and ``lamina info``."""

from __future__ import annotations

import click

from .context import engine
from .system_output import render_df, render_info


@click.group("system")
def system_group() -> None:
    """Manage lamina."""


@click.command("df")
@click.option("-v", "--verbose", is_flag=True, help="Show detailed information on space usage")
@click.option("--format", "fmt", default=None, help="Format output using a custom template")
@click.pass_context
def df_cmd(ctx, verbose, fmt):
    """Show lamina disk usage."""
    click.echo(render_df(engine(ctx), verbose, fmt), nl=False)


@click.command("check")
@click.option("--repair", is_flag=True, help="Remove what the check finds (safe while lamina runs)")
@click.pass_context
def check_cmd(ctx, repair):
    """Find (and with --repair remove) what interrupted operations left behind."""
    report = engine(ctx).check(repair=repair)
    for finding in report.findings:
        click.echo(("removed " if repair and finding.kind not in _REPORT_ONLY else "") + finding.line())
    if report.clean:
        click.echo("The data root is consistent.")
    elif not repair:
        click.echo(f"{len(report.findings)} problem(s) found; run 'lamina system check --repair' to remove them.")
        ctx.exit(1)


_REPORT_ONLY = ("image with missing layers", "corrupt image", "layer with missing data")


@click.command("info")
@click.option("-f", "--format", "fmt", default=None, help="Format output using a custom template")
@click.pass_context
def info_cmd(ctx, fmt):
    """Display system-wide information."""
    click.echo(render_info(engine(ctx).info(), fmt), nl=False)


for _cmd in (df_cmd, check_cmd, info_cmd):
    system_group.add_command(_cmd)


@click.command("version")
@click.option("-f", "--format", "fmt", default=None, help="Format output using a custom template")
def version_cmd(fmt):
    """Show the lamina version information."""
    from .lean.version import render_version

    click.echo(render_version(fmt), nl=False)
