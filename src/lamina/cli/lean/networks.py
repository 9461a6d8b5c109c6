"""``network ls`` / ``network list``: the network store's records (``network.store``), rendered
by ``render`` below, which the click command calls too.

Read with no engine: on a data root whose ``network/networks`` already holds docker's three
predefined networks (the first full ``network`` command writes them), without filters; anything
else goes to the full CLI (``engine.networks.list``).
"""

from .args import Decline, Spec

SPEC = Spec(
    flags={"--no-trunc": "no_trunc", "-q": "quiet", "--quiet": "quiet"},
    values={"-f": "filters", "--filter": "filters", "--format": "fmt"},
    multiple=("filters",),
)

HEADERS = {"ID": "NETWORK ID", "Name": "NAME", "Driver": "DRIVER", "Scope": "SCOPE", "CreatedAt": "CREATED AT"}
DEFAULT = "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}"


def run(ctx, opts: dict, args: list[str]) -> int:
    view = ctx.store_view()
    if view is None or opts["filters"]:
        raise Decline
    from ...network.model import PREDEFINED
    from ...network.store import NetworkStore

    try:
        nets = NetworkStore(view.root, create=False).networks()
    except FileNotFoundError:
        raise Decline from None
    if not {n.name for n in nets} >= set(PREDEFINED):
        raise Decline  # the full CLI writes them first
    ctx.write(render(nets, opts["quiet"], opts["no_trunc"], opts["fmt"]))
    return 0


def render(nets, quiet: bool, no_trunc: bool, fmt: str | None) -> str:
    """The whole output of ``network ls`` for these ``Network`` records, sorted by name."""
    rows = _rows(sorted(nets, key=lambda n: n.name), no_trunc)
    if quiet:
        return "".join(row["ID"] + "\n" for row in rows)
    from ...format import table as tables

    return tables.render(fmt, rows, DEFAULT, HEADERS)


def _rows(nets, no_trunc: bool) -> list[dict]:
    return [
        {
            "ID": net.id if no_trunc else net.id[:12],
            "Name": net.name,
            "Driver": net.driver,
            "Scope": "local",
            "IPv6": "false",
            "Internal": "true" if net.internal else "false",
            "Labels": ",".join(f"{k}={v}" for k, v in sorted(net.labels.items())),
            "CreatedAt": _created_at(net.created),
        }
        for net in nets
    ]


def _created_at(created: str) -> str:
    """docker's ``2024-01-02 15:04:05.999999999 -0700 MST`` (local time)."""
    from datetime import datetime

    moment = datetime.fromisoformat(created[:26] + "+00:00").astimezone()
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f") + "000 " + moment.strftime("%z %Z")
