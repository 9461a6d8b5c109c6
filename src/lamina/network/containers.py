"""The seam between containers and networks: what a container's start and stop call.

``container.netattach`` calls ``attach_container`` between ``runc create`` and ``runc start``
(the namespace exists, the user's program has not run a line) and ``detach_container`` when the
container has stopped. Everything is read from the container's own records, in docker's
fields: ``HostConfig.NetworkMode``, ``PortBindings``, ``PublishAllPorts``, ``Dns``,
``DnsSearch``, ``DnsOptions``, ``ExtraHosts``; ``Config.ExposedPorts``, ``Config.Hostname``;
and the endpoint settings asked for at create (``NetworkSettings.Networks[<net>]``: ``Aliases``,
``IPAMConfig.IPv4Address``, ``MacAddress``), which ``endpoint_config`` writes.
"""

from __future__ import annotations

import os

from ..errors import InvalidArgument

# ``ps`` (ports_cell) and ``rm`` (detach_container) run on the lean path: the records and the
# port grammar (dataclasses, ipaddress) are imported by the functions that use them
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from typing import Any

    from .model import Endpoint, Network
    from .ports import PortRequest

LOCAL_MODES = ("none", "host")


def network_name(mode: str) -> str:
    """docker's ``default`` network mode is the default bridge."""
    return "bridge" if mode in ("", "default") else mode


# create time: flags into docker's HostConfig / Config fields ---------------------------------
def port_bindings(publish: list[str]) -> dict[str, list[dict[str, str]]]:
    """``-p`` values as docker's ``HostConfig.PortBindings`` (``{"80/tcp": [{"HostIp": "",
    "HostPort": "8080"}]}``; a host range stays a range, chosen from at start)."""
    out: dict[str, list[dict[str, str]]] = {}
    if not publish:
        return out  # the usual case: the grammar (dataclasses, ipaddress) is not loaded for it
    from .ports import parse_publish

    for spec in publish:
        for req in parse_publish(spec):
            if not req.host_start:
                host_port = ""
            elif req.host_start == req.host_end:
                host_port = str(req.host_start)
            else:
                host_port = f"{req.host_start}-{req.host_end}"
            out.setdefault(req.key, []).append({"HostIp": req.host_ip, "HostPort": host_port})
    return out


def exposed_ports(expose: list[str], bindings: dict[str, Any], image_exposed: dict[str, Any] | None) -> dict[str, dict]:
    """``Config.ExposedPorts``: the image's, ``--expose``'s and every published port."""
    out = dict(image_exposed or {})
    for spec in expose:
        from .ports import parse_expose

        for key in parse_expose(spec):
            out[key] = {}
    for key in bindings:
        out[key] = {}
    return out


def endpoint_config(aliases: list[str], ip: str = "", mac: str = "") -> dict[str, Any]:
    """The endpoint settings asked for at create, as docker keeps them before the start."""
    if ip:
        import ipaddress

        try:
            ipaddress.IPv4Address(ip)
        except ValueError:
            raise InvalidArgument(f"invalid IPv4 address: {ip}") from None
    if mac:
        parts = mac.split(":")
        if len(parts) != 6 or not all(len(p) == 2 and all(c in "0123456789abcdefABCDEF" for c in p) for p in parts):
            raise InvalidArgument(f"invalid MAC address: {mac}")
    return {
        "IPAMConfig": {"IPv4Address": ip} if ip else None,
        "Links": None,
        "Aliases": list(aliases) or None,
        "MacAddress": mac.lower(),
    }


def check_network_mode(store: Any, mode: str, publish: bool, aliases: bool, ip: str) -> None:
    """Refuse at create what docker refuses: an unknown network, ports or aliases where the
    mode has no network of its own."""
    if mode in LOCAL_MODES or mode.startswith("container:"):
        if publish and mode != "none":
            raise InvalidArgument("conflicting options: port publishing and the container type network mode")
        if aliases or ip:
            raise InvalidArgument("network-scoped aliases and --ip are supported only for user-defined networks")
        return
    from ..errors import NotFound
    from .service import NetworkService

    try:
        net = NetworkService(store).get(network_name(mode)).network
    except NotFound as exc:
        raise InvalidArgument(str(exc)) from None  # docker run: 125, as any daemon error
    if net.is_default_bridge and (aliases or ip):
        raise InvalidArgument("network-scoped aliases and --ip are supported only for user-defined networks")


# start and stop -------------------------------------------------------------------------------
def _requests(c: Any) -> list[PortRequest]:
    from .ports import PortRequest

    out: list[PortRequest] = []
    bindings = c.host_config.get("PortBindings") or {}
    for key, hosts in sorted(bindings.items()):
        port, _, proto = key.partition("/")
        for h in hosts or [{}]:
            host_port = str(h.get("HostPort") or "")
            low, _, high = host_port.partition("-")
            start = int(low) if low else 0
            out.append(PortRequest(int(port), proto or "tcp", h.get("HostIp") or "", start, int(high) if high else start))
    if c.host_config.get("PublishAllPorts"):
        for key in sorted((c.config.get("ExposedPorts") or {}), key=lambda k: (int(k.partition("/")[0]), k)):
            if key not in bindings:
                port, _, proto = key.partition("/")
                out.append(PortRequest(int(port), proto or "tcp"))
    return out


def attach_container(store: Any, c: Any, netns: str) -> dict[str, Any]:
    """Connect the container to its network; write its hosts and resolv.conf for it; return
    the NetworkSettings to record."""
    from .service import NetworkService

    mode = c.host_config.get("NetworkMode") or ""
    if mode.startswith("container:") or mode in LOCAL_MODES:
        return {}  # another container's namespace, or none/host: nothing of lamina's to wire
    svc = NetworkService(store)
    name = network_name(mode)
    asked = ((c.network_settings or {}).get("Networks") or {}).get(name) or {}
    ip = ((asked.get("IPAMConfig") or {}).get("IPv4Address")) or None
    ep = svc.attach(
        name,
        c.id,
        c.bare_name,
        netns,
        aliases=list(asked.get("Aliases") or []),
        ip=ip,
        mac=asked.get("MacAddress") or c.config.get("MacAddress") or None,
        publish=_requests(c),
    )
    try:
        net = svc.get(name).network
        write_etc_files(store.paths.container(c.id), c, net, ep)
        settings = network_settings(net, ep, netns)
        # networks joined with ``network connect``: attached again at every start
        for other, extra in ((c.network_settings or {}).get("Networks") or {}).items():
            if other == name:
                continue
            extra_net = svc.get(other).network
            extra_ip = (extra.get("IPAMConfig") or {}).get("IPv4Address") or None
            more = svc.attach(other, c.id, c.bare_name, netns, list(extra.get("Aliases") or []), extra_ip)
            settings["Networks"][other] = more.settings(extra_net)
        return settings
    except BaseException:
        svc.release(c.id)
        raise


def shared_netns(containers_dir: str, ref: str) -> str:
    """``--network container:<name|id>``: the running container's network namespace."""
    import json

    from ..errors import Conflict, NotFound

    found = []
    try:
        ids = os.listdir(containers_dir)
    except FileNotFoundError:
        ids = []
    for cid in ids:
        try:
            with open(os.path.join(containers_dir, cid, "config.v2.json"), encoding="utf-8") as f:
                doc = json.load(f)
        except (OSError, ValueError):
            continue
        if cid == ref or doc.get("Name", "").lstrip("/") == ref:
            found = [doc]
            break
        if cid.startswith(ref):
            found.append(doc)
    if len(found) != 1:
        raise NotFound(f"No such container: {ref}")
    state = found[0].get("State") or {}
    if not state.get("Running") or not state.get("Pid"):
        raise Conflict(f"cannot join network of a non running container: {ref}")
    return f"/proc/{state['Pid']}/ns/net"


def detach_container(store: Any, c: Any) -> None:
    endpoints = os.path.join(store.root, "network", "endpoints")
    try:
        networks = os.listdir(endpoints)
    except FileNotFoundError:
        return  # no container of this data root was ever attached to a network
    if not any(os.path.exists(os.path.join(endpoints, nid, f"{c.id}.json")) for nid in networks):
        return  # nothing of this container's left (``NetworkService.release`` looks for the same)
    from .service import NetworkService

    NetworkService(store).release(c.id)


def write_etc_files(container_dir: str, c: Any, net: Network, ep: Endpoint) -> None:
    """hosts and resolv.conf for the container on ``net``. They are already bind-mounted
    into the created container, so they are rewritten in place, not replaced."""
    from .files import hosts_file, parse_add_host, resolv_conf

    hc = c.host_config
    extra = [parse_add_host(h, ep.gateway) for h in hc.get("ExtraHosts") or []]
    hostname = c.config.get("Hostname") or c.id[:12]
    domain = c.config.get("Domainname") or ""
    names = [f"{hostname}.{domain}", hostname] if domain else [hostname]
    texts = {
        "hosts": hosts_file(names[0], ep.ip, extra, names[1:]),
        "resolv.conf": resolv_conf(
            net.resolves_names, list(hc.get("Dns") or []), list(hc.get("DnsSearch") or []), list(hc.get("DnsOptions") or [])
        ),
    }
    for filename, text in texts.items():
        path = os.path.join(container_dir, filename)
        with open(path, "r+" if os.path.exists(path) else "w", encoding="utf-8") as f:
            f.truncate(0)
            f.write(text)


def network_settings(net: Network, ep: Endpoint, netns: str) -> dict[str, Any]:
    ports: dict[str, Any] = {}
    for b in ep.ports:
        ports.setdefault(b.key, []).append({"HostIp": b.host_ip or "0.0.0.0", "HostPort": str(b.host_port)})
    default = net.is_default_bridge
    return {
        "Bridge": "",
        "SandboxID": ep.endpoint_id,
        "SandboxKey": netns,
        "Ports": ports,
        "Gateway": ep.gateway if default else "",
        "IPAddress": ep.ip if default else "",
        "IPPrefixLen": ep.prefix_len if default else 0,
        "MacAddress": ep.mac if default else "",
        "Networks": {net.name: ep.settings(net)},
    }


def ports_cell(network_settings: dict[str, Any] | None, exposed: dict[str, Any] | None = None) -> str:
    """``ps``'s PORTS: ``0.0.0.0:8080->80/tcp`` for published ports, ``80/tcp`` for exposed
    ones not published, comma separated in port order. Read from docker's JSON with no record
    classes: ``ps`` calls it on its lean path."""
    cells, published = [], set()
    for key, hosts in ((network_settings or {}).get("Ports") or {}).items():
        port, _, proto = key.partition("/")
        key = f"{port}/{proto or 'tcp'}"
        for h in hosts or []:
            cells.append((int(port), proto or "tcp", f"{h.get('HostIp') or '0.0.0.0'}:{int(h.get('HostPort') or 0)}->{key}"))
            published.add(key)
    for key in exposed or {}:
        if key not in published:
            port, _, proto = key.partition("/")
            cells.append((int(port), proto or "tcp", key))
    return ", ".join(cell[2] for cell in sorted(cells))


def port_lines(network_settings: dict[str, Any] | None, which: str | None = None) -> list[str]:
    """``lamina port CONTAINER [PRIVATE_PORT[/PROTO]]``'s lines."""
    from .model import PortBinding
    from .ports import format_port_map

    bindings = []
    for key, hosts in ((network_settings or {}).get("Ports") or {}).items():
        port, _, proto = key.partition("/")
        for h in hosts or []:
            bindings.append(PortBinding(int(port), proto or "tcp", h.get("HostIp") or "", int(h.get("HostPort") or 0)))
    if which:
        port, _, proto = which.partition("/")
        bindings = [b for b in bindings if str(b.container_port) == port and b.proto == (proto or "tcp")]
        return [f"{b.host_ip or '0.0.0.0'}:{b.host_port}" for b in bindings]
    return format_port_map(bindings)


def connect(engine: Any, network: str, ref: str, aliases: list[str], ip: str | None) -> Endpoint:
    """``network connect``: a running container gets one more interface now; the request is
    kept in its NetworkSettings, so later starts attach it too (docker's behaviour)."""
    from ..errors import Conflict

    handle = engine.containers.get(ref)
    c = handle.record
    mode = c.host_config.get("NetworkMode") or ""
    if mode in LOCAL_MODES or mode.startswith("container:"):
        raise Conflict("container sharing network namespace with another container or host cannot be connected to any other network")
    net = engine.networks.get(network).network
    asked = endpoint_config(aliases, ip or "")
    ep = None
    if c.state.running and c.state.pid:
        ep = engine.networks.attach(net.name, c.id, c.bare_name, f"/proc/{c.state.pid}/ns/net", aliases, ip)

    def record(rec: Any) -> None:
        networks = rec.network_settings.setdefault("Networks", {})
        networks[net.name] = ep.settings(net) if ep else asked

    engine.containers.records.update(c.id, record)
    return ep


def disconnect(engine: Any, network: str, ref: str) -> None:
    from ..errors import NotFound

    c = engine.containers.get(ref).record
    net = engine.networks.get(network).network
    if net.name not in ((c.network_settings or {}).get("Networks") or {}):
        raise NotFound(f"container {c.short_id} is not connected to network {net.name}")
    if engine.networks.store.endpoint(net.id, c.id):
        engine.networks.detach(net.name, c.id)

    def record(rec: Any) -> None:
        (rec.network_settings.get("Networks") or {}).pop(net.name, None)

    engine.containers.records.update(c.id, record)
