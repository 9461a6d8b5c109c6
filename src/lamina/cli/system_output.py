"""What ``system df`` and ``info`` print: shared by the click commands and the lean path."""

from ..format.humanize import human_size

__all__ = ["render_df", "render_info"]


def _percent(part: int, whole: int) -> str:
    return f"{human_size(part)} ({(part * 100 // whole) if whole else 0}%)"


def render_df(eng, verbose: bool, fmt: str | None) -> str:
    """``system df [-v] [--format]`` for the engine's data root."""
    from ..format import table as tables

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
        return tables.render(fmt, summary_rows, default, headers)
    from datetime import UTC, datetime

    from ..format.units import created_since, parse_time
    from .image_output import IMAGE_HEADERS

    now = datetime.now(UTC)
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
    return (
        "Images space usage:\n\n"
        + tables.render(None, rows, default, IMAGE_HEADERS)
        + f"\nImages total: {human_size(usage.layers_size)} in {len(eng.store.layers.list())} layers\n"
    )


def render_info(data: dict, fmt: str | None) -> str:
    """``info [--format]`` for ``Engine.info()``'s fields."""
    if fmt == "json":
        import json

        return json.dumps(data) + "\n"
    if fmt:
        from ..format.template import compile_template

        return compile_template(fmt).render(data) + "\n"
    return _render_info(data) + "\n"


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
        f"  Why: {data.get('DefaultRuntimeReason', '')}",
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
