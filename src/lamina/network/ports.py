"""``-p/--publish`` and ``--expose`` grammar (docker's ``nat.ParsePortSpec``), pure.

``[ip:][hostPort[-end]:]containerPort[-end][/tcp|udp]``: ``80`` publishes on any free host
port, ``8080:80`` on 8080, ``127.0.0.1::80`` on a free port of one address, ``8000-8002:80-82``
a range one to one, ``8000-8010:80`` any free port of a host range.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from ..errors import InvalidArgument
from .model import PortBinding

PROTOCOLS = ("tcp", "udp")


@dataclass(frozen=True, slots=True)
class PortRequest:
    """One container port to publish and the host side asked for (a port or a range)."""

    container_port: int
    proto: str
    host_ip: str = ""
    host_start: int = 0  # 0: any free port
    host_end: int = 0

    @property
    def key(self) -> str:
        return f"{self.container_port}/{self.proto}"

    def fixed(self) -> PortBinding | None:
        """The binding if the host port is fixed, else None (it is chosen at start)."""
        if self.host_start and self.host_start == self.host_end:
            return PortBinding(self.container_port, self.proto, self.host_ip, self.host_start)
        return None


def _port(text: str, what: str, spec: str) -> int:
    if not text.isdigit() or not 0 < int(text) < 65536:
        raise InvalidArgument(f"invalid {what} port {text!r} in {spec!r}")
    return int(text)


def _range(text: str, what: str, spec: str) -> tuple[int, int]:
    start, sep, end = text.partition("-")
    low = _port(start, what, spec)
    high = _port(end, what, spec) if sep else low
    if high < low:
        raise InvalidArgument(f"invalid {what} port range {text!r} in {spec!r}")
    return low, high


def parse_publish(spec: str) -> list[PortRequest]:
    """One ``-p`` value into one request per container port."""
    rest, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOCOLS:
        raise InvalidArgument(f"invalid proto: {proto}")
    host_ip, host_part, container_part = "", "", rest
    if rest.startswith("["):  # [::1]:8080:80
        raise InvalidArgument(f"IPv6 host addresses are not supported: {spec!r}")
    parts = rest.split(":")
    if len(parts) == 2:
        host_part, container_part = parts
    elif len(parts) == 3:
        host_ip, host_part, container_part = parts
        try:
            ipaddress.IPv4Address(host_ip)
        except ValueError:
            raise InvalidArgument(f"invalid IP address: {host_ip}") from None
    elif len(parts) > 3:
        raise InvalidArgument(f"invalid port format for --publish: {spec!r}")
    c_low, c_high = _range(container_part, "container", spec)
    if not host_part:
        return [PortRequest(p, proto, host_ip) for p in range(c_low, c_high + 1)]
    h_low, h_high = _range(host_part, "host", spec)
    count = c_high - c_low + 1
    if count == 1:  # one container port, a host port or a host range to choose from
        return [PortRequest(c_low, proto, host_ip, h_low, h_high)]
    if h_high - h_low + 1 != count:
        raise InvalidArgument(f"invalid ranges specified for container and host Ports: {spec!r}")
    return [PortRequest(c_low + i, proto, host_ip, h_low + i, h_low + i) for i in range(count)]


def parse_expose(spec: str) -> list[str]:
    """``--expose 80[-90][/udp]`` (and an image's ExposedPorts keys) into ``port/proto`` keys."""
    rest, _, proto = spec.partition("/")
    proto = (proto or "tcp").lower()
    if proto not in PROTOCOLS:
        raise InvalidArgument(f"invalid proto: {proto}")
    low, high = _range(rest, "exposed", spec)
    return [f"{p}/{proto}" for p in range(low, high + 1)]


def publish_all(exposed: list[str], host_ip: str = "") -> list[PortRequest]:
    """``-P``: every exposed port on a free host port."""
    requests = []
    for key in exposed:
        for item in parse_expose(key):
            port, _, proto = item.partition("/")
            requests.append(PortRequest(int(port), proto, host_ip))
    return requests


def format_port_map(bindings: list[PortBinding]) -> list[str]:
    """``lamina port``'s lines: ``80/tcp -> 0.0.0.0:8080``."""
    return [f"{b.key} -> {b.host_ip or '0.0.0.0'}:{b.host_port}" for b in sorted(bindings, key=lambda b: (b.container_port, b.proto))]


def format_ps_ports(bindings: list[PortBinding], exposed: list[str] = ()) -> str:
    """``ps``'s PORTS cell of these bindings (``network.containers.ports_cell``, which reads
    them from docker's NetworkSettings.Ports, makes it)."""
    from .containers import ports_cell

    ports: dict[str, list[dict[str, str]]] = {}
    for b in bindings:
        ports.setdefault(b.key, []).append({"HostIp": b.host_ip, "HostPort": str(b.host_port)})
    return ports_cell({"Ports": ports}, dict.fromkeys(exposed))
