"""``lamina system df|check|info`` and ``lamina info``."""

from __future__ import annotations

import json

import click

from ..format import table as tables
from ..format.template import compile_template
from ..format.units import created_since, human_size, parse_time
from .context import engine
from .image import _now
from .image_output import IMAGE_HEADERS


@click.group("system")
def system_group() -> None:
    """Manage lamina."""


def _percent(part: int, whole: int) -> str:
    return f"{human_size(part)} ({(part * 100 // whole) if whole else 0}%)"


@click.command("df")
@click.option("-v", "--verbose", is_flag=True, help="Show detailed information on space usage")
@click.option("--format", "fmt", default=None, help="Format output using a custom template")
@click.pass_context
def df_cmd(ctx, verbose, fmt):
    """Show lamina disk usage."""
    eng = engine(ctx)
    usage = eng.disk_usage()
    summary_rows = [
        {
            "Type": "Images",
            "TotalCount": str(usage.total_images),
            "Active": str(usage.active_images),
            "Size": human_size(usage.layers_size),
            "Reclaimable": _percent(usage.reclaimable, usage.layers_size),
        },
        {
            "Type": "Containers",
            "TotalCount": str(usage.containers_total),
            "Active": str(usage.containers_active),
            "Size": human_size(0),
            "Reclaimable": _percent(0, 0),
        },
        {"Type": "Local Volumes", "TotalCount": "0", "Active": "0", "Size": human_size(0), "Reclaimable": _percent(0, 0)},
        {"Type": "Build Cache", "TotalCount": "0", "Active": "0", "Size": human_size(0), "Reclaimable": human_size(0)},
    ]
    if usage.kept_blobs:  # lamina's own row: compressed layer blobs kept to re-save them as they came
        summary_rows.append(
            {
                "Type": "Kept Blobs",
                "TotalCount": str(usage.kept_blobs),
                "Active": "-",
                "Size": human_size(usage.kept_blobs_size),
                "Reclaimable": _percent(usage.kept_blobs_reclaimable, usage.kept_blobs_size),
            }
        )
    headers = {"Type": "TYPE", "TotalCount": "TOTAL", "Active": "ACTIVE", "Size": "SIZE", "Reclaimable": "RECLAIMABLE"}
    if not verbose:
        default = "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
        click.echo(tables.render(fmt, summary_rows, default, headers), nl=False)
        return
    click.echo("Images space usage:\n")
    now = _now()
    rows = []
    for u in usage.images:
        s = u.summary
        tags = list(s.repo_tags) or ["<none>:<none>"]
        for tag in tags:
            repo, _, t = tag.rpartition(":")
            rows.append(
                {
                    "Repository": repo,
                    "Tag": t,
                    "ID": s.id.short(),
                    "CreatedSince": created_since(parse_time(s.created), now),
                    "Size": human_size(u.size),
                    "SharedSize": human_size(u.shared),
                    "UniqueSize": human_size(u.unique),
                    "Containers": str(u.containers),
                }
            )
    default = (
        "table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{.CreatedSince}}\t{{.Size}}\t"
        "{{.SharedSize}}\t{{.UniqueSize}}\t{{.Containers}}"
    )
    click.echo(tables.render(None, rows, default, IMAGE_HEADERS), nl=False)
    click.echo(f"\nImages total: {human_size(usage.layers_size)} in {len(eng.store.layers.list())} layers")


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


def _render_info(data: dict) -> str:
    lines = [
        "Server:",
        f" Containers: {data['Containers']}",
        f"  Running: {data['ContainersRunning']}",
        f"  Paused: {data['ContainersPaused']}",
        f"  Stopped: {data['ContainersStopped']}",
        f" Images: {data['Images']}",
        f" Server Version: {data['ServerVersion']}",
        f" Storage Driver: {data['Driver']}",
    ]
    lines += [f"  {k}: {v}" for k, v in data["DriverStatus"]]
    lines += [
        f" Cgroup Version: {data['CgroupVersion']}",
        f" Runtimes: {' '.join(data['Runtimes']) or 'none found (install crun or runc)'}",
        f" Default Runtime: {data['DefaultRuntime']}",
        f" Kernel Version: {data['KernelVersion']}",
        f" Operating System: {data['OperatingSystem']}",
        f" OSType: {data['OSType']}",
        f" Architecture: {data['Architecture']}",
        f" CPUs: {data['NCPU']}",
        f" Total Memory: {data['MemTotal'] / (1 << 30):.4g}GiB",
        f" Name: {data['Name']}",
        f" Lamina Root Dir: {data['DockerRootDir']}",
    ]
    return "\n".join(lines)


@click.command("info")
@click.option("-f", "--format", "fmt", default=None, help="Format output using a custom template")
@click.pass_context
def info_cmd(ctx, fmt):
    """Display system-wide information."""
    data = engine(ctx).info()
    if fmt == "json":
        click.echo(json.dumps(data))
    elif fmt:
        click.echo(compile_template(fmt).render(data))
    else:
        click.echo(_render_info(data))


for _cmd in (df_cmd, check_cmd, info_cmd):
    system_group.add_command(_cmd)
