"""``lamina network create|ls|inspect|rm|prune|connect|disconnect``: parse, call, render."""

from __future__ import annotations

import click

from ..errors import InvalidArgument, LaminaError
from .context import engine


@click.group("network")
def network_group() -> None:
    """Manage networks."""


def _pairs(values: tuple[str, ...], what: str) -> dict[str, str]:
    out = {}
    for item in values:
        key, _, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {what}: {item!r}")
        out[key] = value
    return out


@click.command("create")
@click.argument("name")
@click.option("-d", "--driver", default="bridge", show_default=True, help="Driver to manage the Network")
@click.option("--subnet", multiple=True, help="Subnet in CIDR format that represents a network segment")
@click.option("--gateway", multiple=True, help="IPv4 Gateway for the master subnet")
@click.option("--ip-range", multiple=True, help="Allocate container ip from a sub-range")
@click.option("--internal", is_flag=True, help="Restrict external access to the network")
@click.option("--label", "labels", multiple=True, help="Set metadata on a network")
@click.option("-o", "--opt", "opts", multiple=True, help="Set driver specific options")
@click.pass_context
def create_cmd(ctx, name, driver, subnet, gateway, ip_range, internal, labels, opts):
    """Create a network."""
    if len(subnet) > 1 or len(gateway) > 1 or len(ip_range) > 1:
        raise InvalidArgument("lamina networks take one --subnet, --gateway and --ip-range")
    net = engine(ctx).networks.create(
        name,
        driver=driver,
        subnet=subnet[0] if subnet else None,
        gateway=gateway[0] if gateway else None,
        ip_range=ip_range[0] if ip_range else None,
        internal=internal,
        labels=_pairs(labels, "label"),
        options=_pairs(opts, "option"),
    )
    click.echo(net.id)


@click.command("ls")
@click.option("-f", "--filter", "filters", multiple=True, help="Provide filter values (e.g. 'driver=bridge')")
@click.option("--format", "fmt", default=None, help="Format output using a custom template")
@click.option("--no-trunc", is_flag=True, help="Do not truncate the output")
@click.option("-q", "--quiet", is_flag=True, help="Only display network IDs")
@click.pass_context
def ls_cmd(ctx, filters, fmt, no_trunc, quiet):
    """List networks."""
    from ..network.filters import LS_KEYS, parse
    from .lean.networks import render  # what the lean path prints too

    nets = engine(ctx).networks.list(parse(list(filters), LS_KEYS))
    click.echo(render([n.network for n in nets], quiet, no_trunc, fmt), nl=False)


@click.command("inspect")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--format", "fmt", default=None, help="Format output using a custom template")
@click.option("-v", "--verbose", is_flag=True, help="Verbose output for diagnostics")
@click.pass_context
def inspect_cmd(ctx, names, fmt, verbose):
    """Display detailed information on one or more networks."""
    from ..image.service import inspect_json
    from .image_output import render_inspect

    eng = engine(ctx)
    docs, failed = [], []
    for name in names:
        try:
            docs.append(eng.networks.inspect(name))
        except LaminaError:
            failed.append(name)
    if fmt and fmt != "json":
        click.echo(render_inspect(docs, fmt), nl=False)
    else:
        click.echo(inspect_json(docs))
    for name in failed:
        click.echo(f"Error: No such network: {name}", err=True)
    if failed:
        ctx.exit(1)


@click.command("rm")
@click.argument("names", nargs=-1, required=True)
@click.option("-f", "--force", is_flag=True, help="Do not error if the network does not exist")
@click.pass_context
def rm_cmd(ctx, names, force):
    """Remove one or more networks."""
    from ..errors import NotFound

    nets = engine(ctx).networks
    failed = False
    for name in names:
        try:
            nets.remove(name)
        except NotFound as exc:
            if not force:
                click.echo(f"Error: {exc}", err=True)
                failed = True
            continue
        except LaminaError as exc:
            click.echo(f"Error: {exc}", err=True)
            failed = True
            continue
        click.echo(name)
    if failed:
        ctx.exit(1)


@click.command("prune")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Provide filter values (e.g. 'until=<timestamp>')")
@click.pass_context
def prune_cmd(ctx, force, filters):
    """Remove all unused networks."""
    from ..network.filters import PRUNE_KEYS, parse

    parsed = parse(list(filters), PRUNE_KEYS)
    if not force:
        warning = "WARNING! This will remove all custom networks not used by at least one container."
        if not click.confirm(f"{warning}\nAre you sure you want to continue?", default=False):
            return
    removed = engine(ctx).networks.prune(parsed)
    if removed:
        click.echo("Deleted Networks:")
        for name in removed:
            click.echo(name)


for _cmd in (create_cmd, ls_cmd, inspect_cmd, rm_cmd, prune_cmd):
    network_group.add_command(_cmd)
network_group.add_command(ls_cmd, "list")
network_group.add_command(rm_cmd, "remove")

__all__ = ["network_group"]


@click.command("connect")
@click.argument("network")
@click.argument("container")
@click.option("--alias", "aliases", multiple=True, help="Add network-scoped alias for the container")
@click.option("--ip", default=None, help="IPv4 address (e.g., 172.30.100.104)")
@click.pass_context
def connect_cmd(ctx, network, container, aliases, ip):
    """Connect a container to a network."""
    from ..network.containers import connect

    eng = engine(ctx)
    connect(eng, network, container, list(aliases), ip)


@click.command("disconnect")
@click.argument("network")
@click.argument("container")
@click.option("-f", "--force", is_flag=True, help="Force the container to disconnect from a network")
@click.pass_context
def disconnect_cmd(ctx, network, container, force):
    """Disconnect a container from a network."""
    from ..network.containers import disconnect

    disconnect(engine(ctx), network, container)


network_group.add_command(connect_cmd)
network_group.add_command(disconnect_cmd)


@click.command("port")
@click.argument("container")
@click.argument("private_port", required=False)
@click.pass_context
def port_cmd(ctx, container, private_port):
    """List port mappings or a specific mapping for the container."""
    from ..errors import NotFound
    from ..network.containers import port_lines

    c = engine(ctx).containers.get(container).record
    lines = port_lines(c.network_settings if c.state.running else None, private_port)
    if private_port and not lines:
        raise NotFound(f"No public port '{private_port if '/' in private_port else private_port + '/tcp'}' published for {container}")
    for line in lines:
        click.echo(line)
