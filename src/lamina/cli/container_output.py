"""What ``ps`` prints: shared by the click command (``cli/container.py``) and the lean path
(``cli/lean/ps.py``), so both print the same bytes because they run this same code.

The rows are read from each container's own records (config.v2.json through
``container.model``); the default table needs only ``format.humanize`` and ``format.tabwriter``,
``--format`` loads the template engine when asked.
"""

from ..format.humanize import format_time_created_at, human_duration, human_size

__all__ = ["PS_HEADERS", "PS_DEFAULT", "parse_filters", "render_ps", "ps_rows"]

PS_HEADERS = {
    "ID": "CONTAINER ID", "Image": "IMAGE", "Command": "COMMAND", "CreatedAt": "CREATED AT",
    "RunningFor": "CREATED", "Status": "STATUS", "Ports": "PORTS", "Names": "NAMES",
    "Size": "SIZE", "Labels": "LABELS", "Mounts": "MOUNTS", "Networks": "NETWORKS", "State": "STATE",
}
PS_DEFAULT = "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"


def parse_filters(items) -> dict[str, list[str]]:
    """``-f key=value`` words as ``engine.containers.list`` takes them."""
    from ..errors import InvalidArgument

    out: dict[str, list[str]] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise InvalidArgument(f"bad format of filter (expected name=value): {item}")
        out.setdefault(key.strip().lower(), []).append(value)
    return out


def render_ps(handles, now: float, quiet: bool, no_trunc: bool, size: bool, fmt: str | None) -> str:
    """The whole output of ``ps`` for these containers (``engine.containers.list``'s handles)."""
    if quiet:
        return "".join((h.id if no_trunc else h.short_id) + "\n" for h in handles)
    from ..format import table as tables

    rows = ps_rows(handles, now, not no_trunc, size)
    return tables.render(fmt, rows, PS_DEFAULT + ("\t{{.Size}}" if size else ""), PS_HEADERS)


def ps_rows(handles, now: float, trunc: bool, size: bool) -> list[dict]:
    from ..container.model import parse_rfc3339
    from ..container.service import status_text
    from ..jsonc import quote

    rows = []
    for h in handles:
        c = h.record
        command = c.command
        if trunc and len(command) > 20:
            command = command[:19] + "…"
        image = c.image_name
        if trunc and image.startswith("sha256:"):
            image = image[7:19]
        created = parse_rfc3339(c.created)
        row = {
            "ID": c.id if not trunc else c.short_id,
            "Image": image,
            "Command": quote(command),
            "CreatedAt": format_time_created_at(created),
            "RunningFor": human_duration(now - created) + " ago",
            "Status": status_text(c, now),
            "State": c.state.status,
            "Ports": _ports(c) if c.state.running else "",
            "Names": c.bare_name,
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(c.labels.items())),
            "Mounts": ",".join(p.get("Name") or p.get("Source", "") for p in c.mount_points.values()),
            "Networks": c.host_config.get("NetworkMode", ""),
        }
        if size:
            row["Size"] = f"{human_size(h.size_rw())} (virtual {human_size(h.size_root_fs())})"
        rows.append(row)
    return rows


def _ports(c) -> str:
    from ..network.containers import ports_cell

    return ports_cell(c.network_settings, c.config.get("ExposedPorts"))
