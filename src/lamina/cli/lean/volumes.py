"""``volume ls`` / ``volume list``: the local driver's volumes (``volume.local``), rendered by
``render`` below, which the click command calls too.

Read from the data root's ``volumes/`` with no image store (``ctx.store_view()``); filters go to
the full CLI (``engine.volumes.list`` reads docker's filter grammar).
"""

from .args import Decline, Spec

SPEC = Spec(
    flags={"-q": "quiet", "--quiet": "quiet"},
    values={"-f": "filters", "--filter": "filters", "--format": "fmt"},
    multiple=("filters",),
)

HEADERS = {"Driver": "DRIVER", "Name": "VOLUME NAME", "Mountpoint": "MOUNTPOINT", "Scope": "SCOPE",
           "Labels": "LABELS", "Links": "LINKS", "Size": "SIZE"}


def run(ctx, opts: dict, args: list[str]) -> int:
    view = ctx.store_view()
    if view is None or opts["filters"]:
        raise Decline
    from ...volume.local import LocalVolumes

    ctx.write(render(LocalVolumes(view).list(), opts["quiet"], opts["fmt"]))
    return 0


def render(records, quiet: bool, fmt: str | None) -> str:
    """The whole output of ``volume ls`` for these ``VolumeRecord``s."""
    if quiet:
        return "".join(r.name + "\n" for r in records)
    from ...format import table as tables

    return tables.render(fmt, [_row(r) for r in records], "table {{.Driver}}\t{{.Name}}", HEADERS)


def _row(r) -> dict[str, str]:
    return {
        "Availability": "N/A", "Driver": r.driver, "Group": "N/A",
        "Labels": ",".join(f"{k}={v}" for k, v in (r.labels or {}).items()),
        "Links": "N/A", "Mountpoint": r.mountpoint, "Name": r.name, "Scope": r.scope, "Size": "N/A", "Status": "N/A",
    }
