"""What ``ps`` and the lifecycle commands (``stop``, ``kill``, ``rm``, ``wait``, …) print: shared by
the click commands (``cli/container.py``) and the lean path (``cli/lean/``), so both print the
same bytes because they run this same code.

The rows are read from each container's own records (config.v2.json through
``container.model``); the default table needs only ``format.humanize`` and ``format.tabwriter``,
``--format`` loads the template engine when asked.
"""

from ..format.humanize import format_time_created_at, human_duration, human_size

__all__ = ["PS_HEADERS", "PS_DEFAULT", "parse_filters", "render_ps", "ps_rows", "each", "stop_with", "wait_for",
           "render_container_inspect", "write_logs"]

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


# stop, kill, rm, restart, pause, unpause, wait ------------------------------------------------
def each(containers, refs, action, write, error, echo: bool = True) -> int:
    """Apply ``action(handle)`` to each container of ``engine.containers`` in turn, as docker
    does: the name given on stdout as each is done (``echo``), docker's "Error response from
    daemon: …" on stderr for each failure; the exit code (1 if any failed)."""
    from ..errors import LaminaError

    failed = False
    for ref in refs:
        try:
            action(containers.get(ref))
            if echo:
                write(f"{ref}\n")
        except LaminaError as exc:
            error(f"Error response from daemon: {exc}\n")
            failed = True
    return 1 if failed else 0


def stop_with(timeout: int | None, sig: str | None):
    """``stop``'s action: ``-s`` becomes the container's StopSignal, then ``handle.stop``."""

    def stop(h) -> None:
        if sig:
            h.record.config["StopSignal"] = sig
            h.service.records.update(h.id, lambda r: r.config.__setitem__("StopSignal", sig))
        h.stop(timeout)

    return stop


def wait_for(write):
    """``wait``'s action: block until the container stops, print its exit code."""
    return lambda h: write(f"{h.wait()['StatusCode']}\n")


def render_container_inspect(containers, refs, fmt: str | None, size: bool, write, error) -> int:
    """``container inspect``: the documents found (nothing on stdout if none), then "Error: No
    such container: …" for each name not found; the exit code."""
    from ..errors import NotFound
    from .image_output import render_documents

    docs, missing = [], []
    for ref in refs:
        try:
            docs.append(containers.get(ref).inspect(size=size))
        except NotFound as exc:
            missing.append(str(exc))
    if docs:
        write(render_documents(docs, fmt, ensure_ascii=True))  # json.dumps's default, as it was
    for message in missing:
        error(f"Error: {message}\n")
    return 1 if missing else 0


def write_logs(handle, follow: bool, tail: str, timestamps: bool, since: str | None, until: str | None, out, err) -> None:
    """``logs``: each entry of the json-file log to ``out`` or ``err`` (binary streams) as it is
    read, flushed, so ``-f`` shows lines as they come (``tail``: a count, anything else all)."""
    from ..runtime.logs import parse_moment

    if tail != "all":
        try:
            int(tail)
        except ValueError:
            tail = "all"
    for stream, data in handle.logs(timestamps=timestamps, tail=tail, since=parse_moment(since),
                                    until=parse_moment(until), follow=follow):
        target = err if stream == "stderr" else out
        target.write(data)
        target.flush()
