"""Networks and endpoints as stored, and docker's inspect shapes for them.

A record here is what ``<data-root>/network/`` keeps (``store``); ``to_inspect`` renders the
fields ``docker network inspect`` shows, so templates written for docker work unchanged.
"""

from __future__ import annotations

from ..value import Value

# records are ``Value``s, not dataclasses, and ``ipaddress`` loads where it is used: ``network
# ls`` and ``rm``'s endpoint check run on the lean path (``lamina.value`` says why)
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    import ipaddress
    from typing import Any

#: drivers lamina implements; "null" is docker's name for the ``none`` network's driver
DRIVERS = ("bridge", "host", "null")
PREDEFINED = ("bridge", "host", "none")

#: the default bridge of the default data root: lamina0 on 172.30.0.0/16, so that it never
#: takes docker0's 172.17/16 from a dockerd running beside lamina on the same host (other data
#: roots get ``lm0-<scope>`` on a 10.252.x.0/24: ``NetworkService._default_bridge``)
DEFAULT_BRIDGE_NAME = "lamina0"
DEFAULT_BRIDGE_SUBNET = "172.30.0.0/16"
BRIDGE_NAME_OPTION = "com.docker.network.bridge.name"
DEFAULT_BRIDGE_OPTION = "com.docker.network.bridge.default_bridge"


class IPAMPool(Value):
    """One subnet of a network: where addresses come from and where the gateway sits."""

    __slots__ = ("subnet", "gateway", "ip_range")

    def __init__(self, subnet: str, gateway: str, ip_range: str = "") -> None:
        self._init(subnet=subnet, gateway=gateway, ip_range=ip_range)

    @property
    def network(self) -> ipaddress.IPv4Network:
        import ipaddress

        return ipaddress.IPv4Network(self.subnet)

    def to_json(self) -> dict[str, str]:
        doc = {"Subnet": self.subnet, "Gateway": self.gateway}
        if self.ip_range:
            doc["IPRange"] = self.ip_range
        return doc

    @classmethod
    def from_json(cls, doc: dict[str, str]) -> IPAMPool:
        return cls(doc["Subnet"], doc.get("Gateway", ""), doc.get("IPRange", ""))


class Network(Value):
    """A network as stored (``created``: RFC 3339 with nanoseconds, as docker writes it)."""

    __slots__ = ("id", "name", "driver", "created", "pools", "internal", "labels", "options")

    def __init__(self, id: str, name: str, driver: str, created: str, pools: tuple[IPAMPool, ...] = (),
                 internal: bool = False, labels: dict[str, str] | None = None, options: dict[str, str] | None = None) -> None:
        self._init(id=id, name=name, driver=driver, created=created, pools=pools, internal=internal,
                   labels={} if labels is None else labels, options={} if options is None else options)

    @property
    def is_predefined(self) -> bool:
        return self.name in PREDEFINED

    @property
    def is_default_bridge(self) -> bool:
        return self.name == "bridge" and self.driver == "bridge"

    @property
    def bridge_name(self) -> str:
        """The host bridge device: ``-o com.docker.network.bridge.name`` or ``lm-<id12>``
        (docker's ``br-<id12>``, renamed so that the two engines never share a device)."""
        return self.options.get(BRIDGE_NAME_OPTION) or f"lm-{self.id[:12]}"

    @property
    def resolves_names(self) -> bool:
        """Docker's embedded DNS serves user-defined bridge networks, never the default one."""
        return self.driver == "bridge" and not self.is_default_bridge

    def to_json(self) -> dict[str, Any]:
        return {
            "Id": self.id,
            "Name": self.name,
            "Driver": self.driver,
            "Created": self.created,
            "IPAM": [p.to_json() for p in self.pools],
            "Internal": self.internal,
            "Labels": self.labels,
            "Options": self.options,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Network:
        return cls(
            id=doc["Id"],
            name=doc["Name"],
            driver=doc["Driver"],
            created=doc["Created"],
            pools=tuple(IPAMPool.from_json(p) for p in doc.get("IPAM", [])),
            internal=bool(doc.get("Internal", False)),
            labels=dict(doc.get("Labels") or {}),
            options=dict(doc.get("Options") or {}),
        )


class PortBinding(Value):
    """One published port: host ``host_ip:host_port`` to the container's ``port/proto``
    (``host_port`` 0: any free port, chosen when the container starts)."""

    __slots__ = ("container_port", "proto", "host_ip", "host_port")

    def __init__(self, container_port: int, proto: str = "tcp", host_ip: str = "", host_port: int = 0) -> None:
        self._init(container_port=container_port, proto=proto, host_ip=host_ip, host_port=host_port)

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.proto}"

    def display(self) -> str:
        """``ps``'s PORTS cell: ``0.0.0.0:8080->80/tcp``."""
        return f"{self.host_ip or '0.0.0.0'}:{self.host_port}->{self.key}"

    def to_json(self) -> dict[str, Any]:
        return {"HostIp": self.host_ip, "HostPort": self.host_port, "ContainerPort": self.container_port, "Proto": self.proto}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> PortBinding:
        return cls(int(doc["ContainerPort"]), doc.get("Proto", "tcp"), doc.get("HostIp", ""), int(doc.get("HostPort", 0)))


class Sandbox(Value):
    """Where a container's network namespace is, and how to tell it still exists.

    ``netns`` is a path (``/proc/<pid>/ns/net`` of the container's init, or a bind mount);
    ``inode`` is that namespace's inode when attached. The namespace is alive while ``netns``
    still names the same inode: a dead container's endpoint is then found and torn down by
    reconciliation, whoever was killed (the CLI, the monitor), with no PID-reuse race.
    """

    __slots__ = ("netns", "inode")

    def __init__(self, netns: str, inode: int) -> None:
        self._init(netns=netns, inode=inode)

    def alive(self) -> bool:
        import os

        try:
            return os.stat(self.netns).st_ino == self.inode
        except OSError:
            return False

    def to_json(self) -> dict[str, Any]:
        return {"NetNS": self.netns, "Inode": self.inode}

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Sandbox:
        return cls(doc["NetNS"], int(doc["Inode"]))


class Endpoint(Value):
    """A container's attachment to one network (docker's EndpointSettings; ``ip`` without the
    prefix length)."""

    __slots__ = ("network_id", "container_id", "container_name", "endpoint_id", "ip", "prefix_len", "gateway",
                 "mac", "aliases", "ports", "host_veth", "sandbox")

    def __init__(self, network_id: str, container_id: str, container_name: str, endpoint_id: str, ip: str = "",
                 prefix_len: int = 0, gateway: str = "", mac: str = "", aliases: tuple[str, ...] = (),
                 ports: tuple[PortBinding, ...] = (), host_veth: str = "", sandbox: Sandbox | None = None) -> None:
        self._init(network_id=network_id, container_id=container_id, container_name=container_name,
                   endpoint_id=endpoint_id, ip=ip, prefix_len=prefix_len, gateway=gateway, mac=mac, aliases=aliases,
                   ports=ports, host_veth=host_veth, sandbox=sandbox)

    @property
    def ip_cidr(self) -> str:
        return f"{self.ip}/{self.prefix_len}" if self.ip else ""

    def to_json(self) -> dict[str, Any]:
        return {
            "NetworkID": self.network_id,
            "ContainerID": self.container_id,
            "ContainerName": self.container_name,
            "EndpointID": self.endpoint_id,
            "IPAddress": self.ip,
            "IPPrefixLen": self.prefix_len,
            "Gateway": self.gateway,
            "MacAddress": self.mac,
            "Aliases": list(self.aliases),
            "Ports": [p.to_json() for p in self.ports],
            "HostVeth": self.host_veth,
            "Sandbox": self.sandbox.to_json() if self.sandbox else None,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any]) -> Endpoint:
        sandbox = doc.get("Sandbox")
        return cls(
            network_id=doc["NetworkID"],
            container_id=doc["ContainerID"],
            container_name=doc.get("ContainerName", ""),
            endpoint_id=doc["EndpointID"],
            ip=doc.get("IPAddress", ""),
            prefix_len=int(doc.get("IPPrefixLen", 0)),
            gateway=doc.get("Gateway", ""),
            mac=doc.get("MacAddress", ""),
            aliases=tuple(doc.get("Aliases") or ()),
            ports=tuple(PortBinding.from_json(p) for p in doc.get("Ports") or ()),
            host_veth=doc.get("HostVeth", ""),
            sandbox=Sandbox.from_json(sandbox) if sandbox else None,
        )

    def settings(self, network: Network) -> dict[str, Any]:
        """docker's ``NetworkSettings.Networks[<name>]`` for this endpoint."""
        return {
            "IPAMConfig": None,
            "Links": None,
            "Aliases": list(self.aliases) or None,
            "MacAddress": self.mac,
            "NetworkID": network.id,
            "EndpointID": self.endpoint_id,
            "Gateway": self.gateway,
            "IPAddress": self.ip,
            "IPPrefixLen": self.prefix_len,
            "IPv6Gateway": "",
            "GlobalIPv6Address": "",
            "GlobalIPv6PrefixLen": 0,
            "DriverOpts": None,
            "DNSNames": [self.container_name, self.container_id[:12], *self.aliases]
            if network.resolves_names
            else None,
        }


def mac_for(ip: str) -> str:
    """Docker's MAC for an address: 02:42 then the IPv4 bytes (unique on the bridge)."""
    import ipaddress

    return "02:42:" + ":".join(f"{b:02x}" for b in ipaddress.IPv4Address(ip).packed)


def to_inspect(network: Network, endpoints: list[Endpoint]) -> dict[str, Any]:
    """``docker network inspect``'s document for one network."""
    options = dict(network.options)
    if network.is_default_bridge:
        options = {
            DEFAULT_BRIDGE_OPTION: "true",
            "com.docker.network.bridge.enable_icc": "true",
            "com.docker.network.bridge.enable_ip_masquerade": "true",
            "com.docker.network.bridge.host_binding_ipv4": "0.0.0.0",
            "com.docker.network.driver.mtu": "1500",
            **options,
        }
    return {
        "Name": network.name,
        "Id": network.id,
        "Created": network.created,
        "Scope": "local",
        "Driver": network.driver,
        "EnableIPv6": False,
        "IPAM": {"Driver": "default", "Options": None if network.is_predefined else {}, "Config": [p.to_json() for p in network.pools]},
        "Internal": network.internal,
        "Attachable": False,
        "Ingress": False,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": False,
        "Containers": {
            e.container_id: {
                "Name": e.container_name,
                "EndpointID": e.endpoint_id,
                "MacAddress": e.mac,
                "IPv4Address": e.ip_cidr,
                "IPv6Address": "",
            }
            for e in sorted(endpoints, key=lambda e: e.container_id)
        },
        "Options": options,
        "Labels": network.labels,
    }
