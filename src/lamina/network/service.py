"""``engine.networks``: docker's network commands, and attaching containers to networks.

The service is the only writer of the network store. Record before effect: an endpoint is
written (with its address lease and the names of the links it will make) before any link or
rule exists, and removed only after they are gone, so whatever a kill -9 interrupts is found
again by ``reconcile`` from the records and the tags, never leaked.
"""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from ..errors import Conflict, InvalidArgument, NotFound, RuntimeFailure
from .model import (
    BRIDGE_NAME_OPTION,
    DEFAULT_BRIDGE_NAME,
    DEFAULT_BRIDGE_SUBNET,
    PREDEFINED,
    Endpoint,
    IPAMPool,
    Network,
    PortBinding,
    Sandbox,
    mac_for,
    to_inspect,
)
from .store import NetworkStore

if TYPE_CHECKING:
    from ..store.store import Store
    from .ports import PortRequest

DEFAULT_DATA_ROOT = "/var/lib/lamina"
_NAME = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9_.-]*\Z")
_BRIDGE_DEV = re.compile(r"[a-zA-Z0-9_.-]{1,15}\Z")


def _now() -> str:
    moment = datetime.now(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond:06d}000Z"


@dataclass
class NetworkObject:
    """A network as docker-py hands it out: ``.id``, ``.name``, ``.attrs`` and methods."""

    service: NetworkService
    network: Network

    @property
    def id(self) -> str:
        return self.network.id

    @property
    def short_id(self) -> str:
        return self.network.id[:12]

    @property
    def name(self) -> str:
        return self.network.name

    @property
    def attrs(self) -> dict[str, Any]:
        return self.service.inspect(self.network.id)

    @property
    def endpoints(self) -> list[Endpoint]:
        return self.service.store.endpoints(self.network.id)

    def remove(self) -> None:
        self.service.remove(self.network.id)

    def reload(self) -> NetworkObject:
        self.network = self.service.store.get(self.network.id)
        return self


@dataclass
class ReconcileReport:
    endpoints: list[str] = field(default_factory=list)  # "<network>/<container>" torn down
    rules: int = 0
    links: list[str] = field(default_factory=list)
    leases: list[str] = field(default_factory=list)
    ports: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # rules a live network or endpoint lacks

    @property
    def clean(self) -> bool:
        return not (self.endpoints or self.rules or self.links or self.leases or self.ports or self.missing)


class NetworkService:
    def __init__(self, store: Store) -> None:
        self._lock = store.lock
        self.store = NetworkStore(store.root)
        self.root = store.root
        from .firewall import scope_of

        self.scope = scope_of(store.root)

    # lookup --------------------------------------------------------------------------------
    def _networks(self) -> list[Network]:
        nets = self.store.networks()
        if not {n.name for n in nets} >= set(PREDEFINED):
            with self._lock():
                nets = self.store.networks()
                names = {n.name for n in nets}
                for name, driver in (("bridge", "bridge"), ("host", "host"), ("none", "null")):
                    if name not in names:
                        pools, options = ((), {})
                        if driver == "bridge":
                            pools, options = self._default_bridge()
                        self.store.save(Network(secrets.token_hex(32), name, driver, _now(), pools, options=options))
                nets = self.store.networks()
        return nets

    def _default_bridge(self) -> tuple[tuple[IPAMPool, ...], dict[str, str]]:
        """``lamina0`` on 172.30.0.0/16 for the default data root; any other data root (a
        test's, a second engine's) gets a bridge and a /24 of its own, so that two lamina
        data roots on one host never hand out the same address on one bridge."""
        import ipaddress

        from .ipam import host_routes

        if os.path.realpath(self.root) == DEFAULT_DATA_ROOT:
            return (IPAMPool(DEFAULT_BRIDGE_SUBNET, "172.30.0.1"),), {BRIDGE_NAME_OPTION: DEFAULT_BRIDGE_NAME}
        taken = host_routes() + [ipaddress.IPv4Network(DEFAULT_BRIDGE_SUBNET)]
        start = int(self.scope, 16) % 256
        for i in range(256):
            net = ipaddress.IPv4Network(f"10.252.{(start + i) % 256}.0/24")
            if not any(net.overlaps(t) for t in taken):
                break
        return (IPAMPool(str(net), str(net.network_address + 1)),), {BRIDGE_NAME_OPTION: f"lm0-{self.scope}"}

    def _find(self, ref: str) -> Network:
        nets = self._networks()
        for match in (lambda n: n.id == ref, lambda n: n.name == ref, lambda n: n.id.startswith(ref)):
            found = [n for n in nets if match(n)]
            if len(found) == 1:
                return found[0]
            if len(found) > 1:
                raise Conflict(f"network {ref} is ambiguous ({len(found)} matches found based on ID prefix)")
        raise NotFound(f"network {ref} not found")

    def get(self, ref: str) -> NetworkObject:
        return NetworkObject(self, self._find(ref))

    def list(self, filters: dict[str, list[str]] | None = None) -> list[NetworkObject]:
        from .filters import matches

        nets = self._networks()
        return [NetworkObject(self, n) for n in nets if matches(n, filters or {}, self.store)]

    def inspect(self, ref: str) -> dict[str, Any]:
        net = self._find(ref)
        return to_inspect(net, self.store.endpoints(net.id))

    # create / remove -----------------------------------------------------------------------
    def create(
        self,
        name: str,
        driver: str = "bridge",
        subnet: str | None = None,
        gateway: str | None = None,
        ip_range: str | None = None,
        internal: bool = False,
        labels: dict[str, str] | None = None,
        options: dict[str, str] | None = None,
    ) -> NetworkObject:
        """``network create``: the record only; the bridge appears when a container first
        attaches (as docker makes it at once, but then a reboot would lose it anyway)."""
        from .ipam import host_routes, make_pool

        if not _NAME.match(name):
            raise InvalidArgument(f'invalid name "{name}": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed')
        if driver in ("host", "null", "none"):
            raise Conflict(f'only one instance of "{driver}" network is allowed')
        if driver != "bridge":
            raise NotFound(f'plugin "{driver}" not found')
        if gateway and not subnet or ip_range and not subnet:
            raise InvalidArgument("--gateway and --ip-range need --subnet")
        options = dict(options or {})
        bridge_dev = options.get(BRIDGE_NAME_OPTION)
        if bridge_dev is not None and not _BRIDGE_DEV.match(bridge_dev):
            raise InvalidArgument(f"invalid bridge name {bridge_dev!r}: up to 15 of [a-zA-Z0-9_.-]")
        with self._lock():
            nets = self._networks()
            if any(n.name == name for n in nets):
                raise Conflict(f"network with name {name} already exists")
            if bridge_dev and any(n.bridge_name == bridge_dev or (n.is_default_bridge and bridge_dev == DEFAULT_BRIDGE_NAME) for n in nets):
                raise Conflict(f"bridge name {bridge_dev} is already in use by another network")
            taken = [p.network for n in nets for p in n.pools] + host_routes_except(host_routes(), nets)
            pool = make_pool(subnet, gateway, ip_range, taken)
            net = Network(secrets.token_hex(32), name, driver, _now(), (pool,), internal, dict(labels or {}), options)
            self.store.save(net)
        return NetworkObject(self, net)

    def remove(self, ref: str) -> str:
        """``network rm``: refuses predefined networks and networks with live endpoints."""
        net = self._find(ref)
        if net.is_predefined:
            raise Conflict(f"{net.name} is a pre-defined network and cannot be removed")
        with self._lock():
            self._reap(net)
            if self.store.endpoints(net.id):
                raise Conflict(f"error while removing network: network {net.name} id {net.id} has active endpoints")
            self._drop_network(net)
        return net.name

    def _drop_network(self, net: Network) -> None:
        if net.driver == "bridge":
            from .netlink import Netlink

            with Netlink() as nl:
                from .bridge import remove_network

                remove_network(net, self.scope, nl)
        self.store.delete(net.id)

    def prune(self, filters: dict[str, list[str]] | None = None) -> list[str]:
        """``network prune``: user networks without a live endpoint."""
        from .filters import prune_matches

        removed = []
        with self._lock():
            for net in self._networks():
                if net.is_predefined or not prune_matches(net, filters or {}):
                    continue
                self._reap(net)
                if not self.store.endpoints(net.id):
                    self._drop_network(net)
                    removed.append(net.name)
        return removed

    # attach / detach -----------------------------------------------------------------------
    def attach(
        self,
        network: str,
        container_id: str,
        container_name: str,
        netns: str,
        aliases: Iterable[str] = (),
        ip: str | None = None,
        mac: str | None = None,
        publish: Iterable[PortRequest] = (),
    ) -> Endpoint:
        """Connect the network namespace at ``netns`` (a running container's) to ``network``:
        an address, a veth pair on the bridge, published ports. Undone whole if any part fails."""
        from . import bridge, firewall
        from .netlink import Netlink
        from .netns import inode

        net = self._find(network)
        if net.driver != "bridge":
            raise InvalidArgument(f"container cannot be attached to the {net.name} network this way")
        if ip and net.is_default_bridge:
            raise InvalidArgument("user specified IP address is supported on user defined networks only")
        sandbox = Sandbox(netns, inode(netns))
        with self._lock():
            stale = self.store.endpoint(net.id, container_id)
            if stale is not None:
                if stale.sandbox and stale.sandbox.alive():
                    raise Conflict(f"endpoint with name {container_name} already exists in network {net.name}")
                self._teardown(stale)  # its namespace is gone (a killed monitor left it): taken back
            self._check_aliases(net, container_id, [container_name, *aliases])
            try:
                addr = self.store.leases(net.id).acquire(net.pools[0], container_id, ip)
            except Conflict:
                # start-up reconciliation: what dead containers hold is taken back, then retried
                if not self._reap_dead():
                    raise
                addr = self.store.leases(net.id).acquire(net.pools[0], container_id, ip)
            pool = net.pools[0]
            ep = Endpoint(
                network_id=net.id,
                container_id=container_id,
                container_name=container_name,
                endpoint_id=secrets.token_hex(32),
                ip=addr,
                prefix_len=pool.network.prefixlen,
                gateway=pool.gateway,
                mac=mac or mac_for(addr),
                aliases=tuple(dict.fromkeys(aliases)),
                host_veth=bridge.veth_name(self.scope, net.id, container_id),
                sandbox=sandbox,
            )
            self.store.save_endpoint(ep)  # the record first: reconcile can undo what follows
            try:
                with Netlink() as nl:
                    pending = bridge.ensure_network(net, self.scope, nl)
                    first = not any(e.sandbox == sandbox for e in self.store.all_endpoints() if e.endpoint_id != ep.endpoint_id)
                    # an internal network routes nowhere but its subnet (docker sets no gateway there)
                    bridge.attach(net, ep, netns, bridge.free_ifname(netns), nl, default_route=first and not net.internal)
                    try:
                        bindings = self._claim_ports(container_id, list(publish))
                    except Conflict:
                        if not self._reap_dead():
                            raise
                        bindings = self._claim_ports(container_id, list(publish))
                    ep = ep.replace(ports=tuple(bindings))
                    self.store.save_endpoint(ep)
                    rules = firewall.port_rules(
                        firewall.ctr_tag(self.scope, container_id),
                        [(b.proto, b.host_ip, b.host_port, addr, b.container_port) for b in bindings],
                    )
                    firewall.restore(firewall.merge(pending, rules))
            except BaseException:
                self._teardown(ep)
                raise
        self._notify_dns(net)
        return ep

    def _check_aliases(self, net: Network, container_id: str, names: list[str]) -> None:
        if not net.resolves_names:
            return
        for other in self.store.endpoints(net.id):
            if other.container_id != container_id and other.container_name in names and other.sandbox and other.sandbox.alive():
                raise Conflict(f"endpoint with name {other.container_name} already exists in network {net.name}")

    def _claim_ports(self, container_id: str, requests: list[PortRequest]) -> list[PortBinding]:
        claims = self.store.ports
        bindings: list[PortBinding] = []
        try:
            for req in requests:
                fixed = req.fixed()
                if fixed:
                    if not claims.claim(req.proto, fixed.host_port, req.host_ip, container_id):
                        raise Conflict(
                            f"Bind for {req.host_ip or '0.0.0.0'}:{fixed.host_port} failed: port is already allocated"
                        )
                    bindings.append(fixed)
                else:
                    port = claims.claim_any(req.proto, req.host_ip, container_id, req.host_start, req.host_end)
                    bindings.append(PortBinding(req.container_port, req.proto, req.host_ip, port))
        except BaseException:
            for b in bindings:
                claims.release(b.proto, b.host_port, container_id)
            raise
        return bindings

    def detach(self, network: str, container_id: str) -> None:
        """Disconnect one container from one network (``network disconnect``)."""
        net = self._find(network)
        with self._lock():
            ep = self.store.endpoint(net.id, container_id)
            if ep is None:
                raise NotFound(f"container {container_id[:12]} is not connected to network {net.name}")
            self._teardown(ep)
        self._notify_dns(net)

    def release(self, container_id: str) -> list[Endpoint]:
        """Tear down every endpoint of a container (it stopped, or is being removed)."""
        with self._lock():
            eps = [e for e in self.store.all_endpoints() if e.container_id == container_id]
            for ep in eps:
                self._teardown(ep)
        return eps

    def endpoints_of(self, container_id: str) -> list[tuple[Network, Endpoint]]:
        out = []
        for net in self._networks():
            ep = self.store.endpoint(net.id, container_id)
            if ep:
                out.append((net, ep))
        return out

    def _teardown(self, ep: Endpoint) -> None:
        """Undo an endpoint in the reverse order of ``attach``; every step tolerates a part
        that was never made (a kill -9 may have stopped ``attach`` anywhere)."""
        from . import bridge, firewall
        from .netlink import Netlink

        if ep.ports:
            tag = firewall.ctr_tag(self.scope, ep.container_id)
            rules = firewall.port_rules(tag, [(b.proto, b.host_ip, b.host_port, ep.ip, b.container_port) for b in ep.ports])
            try:  # the rules attach wrote, deleted as written: one exec
                firewall.restore(firewall.deletions(rules))
            except RuntimeFailure:  # some were never made (a killed attach): find them by tag
                firewall.remove_tags({tag})
        with Netlink() as nl:
            bridge.detach(ep, nl)
        for b in ep.ports:
            self.store.ports.release(b.proto, b.host_port, ep.container_id)
        if ep.ip:
            self.store.leases(ep.network_id).release(ep.ip, ep.container_id)
        self.store.delete_endpoint(ep.network_id, ep.container_id)

    # reconciliation ------------------------------------------------------------------------
    def _reap_dead(self) -> bool:
        """Tear down every endpoint whose container is gone; True if there was one."""
        dead = [ep for ep in self.store.all_endpoints() if not (ep.sandbox and ep.sandbox.alive())]
        for ep in dead:
            self._teardown(ep)
        return bool(dead)

    def _reap(self, net: Network) -> None:
        for ep in self.store.endpoints(net.id):
            if not (ep.sandbox and ep.sandbox.alive()):
                self._teardown(ep)

    def reconcile(self, repair: bool = True, alive: Callable[[str], bool] | None = None) -> ReconcileReport:
        """Find (and with ``repair`` remove) what dead containers left: endpoints whose
        namespace is gone, rules, veths, leases and port claims that no live endpoint owns."""
        from . import bridge, firewall
        from .netlink import Netlink

        report = ReconcileReport()
        with self._lock():
            live: list[Endpoint] = []
            for ep in self.store.all_endpoints():
                dead = not (ep.sandbox and ep.sandbox.alive()) or (alive is not None and not alive(ep.container_id))
                if dead:
                    report.endpoints.append(f"{ep.network_id[:12]}/{ep.container_id[:12]}")
                    if repair:
                        self._teardown(ep)
                else:
                    live.append(ep)
            nets = {n.id: n for n in self._networks()}
            owners = {ep.container_id for ep in live}
            current = firewall.save()
            found = firewall.tagged(current)
            stale = set()
            for tag in found:
                scope, kind, ident = firewall.split_tag(tag)
                if scope == self.scope and ident not in (owners if kind == "ctr" else nets):
                    stale.add(tag)
            report.rules = sum(len(v) for t in stale for v in found[t].values())
            if repair:
                firewall.remove_tags(stale, current)
            wanted = {ep.host_veth for ep in live}
            with Netlink() as nl:
                # rules someone flushed under a bridge that is still there (a reboot takes both)
                for net in nets.values():
                    if net.driver == "bridge" and nl.link_index(net.bridge_name) is not None:
                        if firewall.net_tag(self.scope, net.id) not in found:
                            report.missing.append(net.name)
                            if repair:
                                firewall.restore(bridge.network_rules_missing(net, self.scope, current))
                for ep in live:
                    tag = firewall.ctr_tag(self.scope, ep.container_id)
                    if ep.ports and tag not in found:
                        report.missing.append(f"ports of {ep.container_id[:12]}")
                        if repair:
                            triples = [(b.proto, b.host_ip, b.host_port, ep.ip, b.container_port) for b in ep.ports]
                            firewall.restore(firewall.port_rules(tag, triples))
                for name in nl.link_names():
                    if name.startswith(bridge.veth_prefix(self.scope)) and name not in wanted:
                        report.links.append(name)
                        if repair:
                            nl.delete_link(name)
            for nid in os.listdir(self.store.ipam_dir):
                leases = self.store.leases(nid)
                for addr, owner in leases.all().items():
                    if owner not in owners or nid not in nets:
                        report.leases.append(f"{nid[:12]}/{addr}")
                        if repair:
                            leases.release(addr, owner)
            for (proto, port), owner in self.store.ports.all().items():
                if owner not in owners:
                    report.ports.append(f"{port}/{proto}")
                    if repair:
                        self.store.ports.release(proto, port, owner)
        return report

    def clear_host(self) -> None:
        """Remove everything this data root made on the host: endpoints' links, rules and
        leases, its bridges, the DNS server (and lamina's chains if no data root uses them).
        The network records stay; it is what a reboot does, and first use makes it again."""
        from . import firewall
        from .dns import stop
        from .netlink import Netlink

        self.reconcile(repair=True, alive=lambda cid: False)
        with self._lock():
            firewall.remove_tags({t for t in firewall.tagged(firewall.save()) if firewall.split_tag(t)[0] == self.scope})
            with Netlink() as nl:
                for net in self.store.networks():
                    if net.driver == "bridge":
                        nl.delete_link(net.bridge_name)
            firewall.remove_base_if_unused()
        stop(self.store.dns_dir)

    # names ---------------------------------------------------------------------------------
    def _notify_dns(self, net: Network) -> None:
        if not net.resolves_names:
            return
        from .dns import notify

        try:
            notify(self.store.dns_dir, self.root)
        except OSError as exc:
            raise RuntimeFailure(f"the embedded DNS server did not start: {exc}") from None


def host_routes_except(routes: list, nets: list[Network]) -> list:
    """Host routes other than lamina's own bridges' (those are lamina networks already)."""
    own = {p.network for n in nets for p in n.pools}
    return [r for r in routes if r not in own]

