"""The bridge driver's data plane: the host bridge, one veth pair per endpoint, NAT, ports.

All link work is netlink (``netlink``), all packet filtering one ``iptables-restore`` per
change (``firewall``). Everything made here is named so that it can be found again without
a record: bridges are ``lamina0`` or ``lm-<network-id12>`` (or the name given with
``-o com.docker.network.bridge.name``), host ends of veth pairs ``lmv<4 hex of the data root><8 hex>``, rules
are tagged with their data root and network or container.
"""

from __future__ import annotations

import hashlib
import ipaddress
import os

from . import firewall
from .model import Endpoint, Network
from .netlink import Netlink
from .netns import netlink_in

VETH_PREFIX = "lmv"


def veth_prefix(scope: str) -> str:
    """Host ends of one data root's veth pairs start so (``lmv`` and 4 hex of the scope)."""
    return VETH_PREFIX + scope[:4]


def veth_name(scope: str, network_id: str, container_id: str) -> str:
    return veth_prefix(scope) + hashlib.sha256(f"{network_id}:{container_id}".encode()).hexdigest()[:8]


def _write(path: str, value: str) -> None:
    try:
        with open(path, "w") as f:
            f.write(value)
    except OSError:
        pass  # a sysctl this kernel lacks: the feature it serves degrades, nothing breaks


def ensure_network(net: Network, scope: str, nl: Netlink) -> dict[str, list[str]]:
    """Make the network's bridge and rules exist (after a reboot they do not); idempotent.

    A bridge that is there and up was made with its rules, so the common case costs one
    netlink request and no iptables exec (``reconcile`` restores rules someone flushed).
    Returns the iptables lines still to apply (the caller batches them with its own)."""
    pool = net.pools[0]
    name = net.bridge_name
    index = nl.link_index(name)
    if index is not None and nl.link_is_up(index):
        return {}
    if index is None:
        try:
            nl.add_bridge(name)
        except FileExistsError:
            pass  # a concurrent lamina made it
        index = nl.link_index(name)
    prefix = ipaddress.IPv4Network(pool.subnet).prefixlen
    nl.add_address(index, f"{pool.gateway}/{prefix}", exist_ok=True)
    nl.set_link(index, up=True)
    # published ports answer on 127.0.0.1 by DNAT in OUTPUT: the kernel routes such packets
    # out of a bridge only where route_localnet allows 127/8 sources there
    _write(f"/proc/sys/net/ipv4/conf/{name}/route_localnet", "1")
    if not net.internal:
        _write("/proc/sys/net/ipv4/ip_forward", "1")
    return network_rules_missing(net, scope, firewall.save())


def network_rules_missing(net: Network, scope: str, current: dict[str, list[str]]) -> dict[str, list[str]]:
    """lamina's chains and this network's rules, where ``current`` lacks them."""
    pool = net.pools[0]
    name = net.bridge_name
    missing = firewall.base_lines(current)
    tag = firewall.net_tag(scope, net.id)
    if tag not in firewall.tagged(current):
        missing = firewall.merge(missing, firewall.network_rules(tag, name, pool.subnet, net.internal))
    return missing


def remove_network(net: Network, scope: str, nl: Netlink) -> None:
    firewall.remove_tags({firewall.net_tag(scope, net.id)})
    nl.delete_link(net.bridge_name)


def attach(net: Network, ep: Endpoint, netns_path: str, ifname: str, nl: Netlink, default_route: bool) -> None:
    """Give the namespace at ``netns_path`` an interface on ``net``'s bridge, addressed as
    ``ep`` says; the host end joins the bridge with hairpin on (a container may reach its own
    published port through the host)."""
    bridge_index = nl.link_index(net.bridge_name)
    fd = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        nl.add_veth(ep.host_veth, ifname, fd, peer_mac=ep.mac)
    finally:
        os.close(fd)
    host_index = nl.link_index(ep.host_veth)
    nl.set_link(host_index, up=True, master=bridge_index)
    _write(f"/sys/class/net/{ep.host_veth}/brport/hairpin_mode", "1")
    with Netlink(netlink_in(netns_path)) as inner:
        lo = inner.link_index("lo")
        if lo is not None:
            inner.set_link(lo, up=True)
        index = inner.link_index(ifname)
        inner.add_address(index, ep.ip_cidr)
        inner.set_link(index, up=True)
        if default_route:
            inner.add_default_route(ep.gateway, index)


def detach(ep: Endpoint, nl: Netlink) -> None:
    if ep.host_veth:
        nl.delete_link(ep.host_veth)


def free_ifname(netns_path: str) -> str:
    """The next ``ethN`` name free inside the namespace (``network connect`` adds eth1, …)."""
    with Netlink(netlink_in(netns_path)) as inner:
        names = set(inner.link_names())
    n = 0
    while f"eth{n}" in names:
        n += 1
    return f"eth{n}"


def has_default_route(netns_path: str) -> bool:
    """Whether the namespace already routes somewhere by default (its first network)."""
    from .netns import inside

    def read() -> bool:
        with open("/proc/thread-self/net/route") as f:
            return any(line.split()[1] == "00000000" for line in list(f)[1:])

    return inside(netns_path, read)
