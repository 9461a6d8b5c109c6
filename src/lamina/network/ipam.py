"""Addresses and host ports: subnet choice, and leases kept the way CNI's host-local keeps them.

A lease is one file, ``ipam/<network-id>/<address>``, created with ``O_EXCL`` and holding the
owner's container ID; a published host port is one file, ``ports/<proto>-<port>``, holding
``<container-id> <host-ip>``. Creating the file *is* taking the address or port, so two
``lamina run`` at once can never get the same one, with no lock held, and a process killed
between taking and using one leaves a file whose owner reconciliation finds dead.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import random
import socket

from ..errors import Conflict, InvalidArgument
from ..store.atomic import unlink_quietly
from .model import IPAMPool

#: where user networks' subnets come from when none is given, in order (docker's local pools
#: less 172.17/16, which a dockerd's docker0 takes, and 172.30/16, lamina0's)
USER_POOLS = [f"172.{n}.0.0/16" for n in range(18, 30)] + [f"192.168.{n}.0/20" for n in range(0, 256, 16)]


def host_routes() -> list[ipaddress.IPv4Network]:
    """Destinations the host already routes (its interfaces' subnets among them): a new
    network's subnet must not overlap one, or its traffic would go the wrong way."""
    nets = []
    try:
        with open("/proc/net/route") as f:
            next(f)
            for line in f:
                fields = line.split()
                dest, mask = int(fields[1], 16), int(fields[7], 16)
                if mask == 0:
                    continue  # the default route overlaps everything and says nothing
                nets.append(ipaddress.IPv4Network((socket.ntohl(dest), bin(mask).count("1")), strict=False))
    except OSError:
        pass
    return nets


def choose_subnet(taken: list[ipaddress.IPv4Network]) -> ipaddress.IPv4Network:
    """The first pool that overlaps neither another lamina network nor a host route."""
    for pool in USER_POOLS:
        net = ipaddress.IPv4Network(pool)
        if not any(net.overlaps(t) for t in taken):
            return net
    raise Conflict("could not find an available, non-overlapping IPv4 address pool among the defaults to assign to the network")


def make_pool(subnet: str | None, gateway: str | None, ip_range: str | None, taken: list[ipaddress.IPv4Network]) -> IPAMPool:
    """Validate ``--subnet/--gateway/--ip-range`` (or choose a subnet) into a pool."""
    try:
        net = ipaddress.IPv4Network(subnet, strict=False) if subnet else choose_subnet(taken)
    except ValueError as exc:
        raise InvalidArgument(f"invalid subnet {subnet}: {exc}") from None
    if subnet and str(net) != subnet and net.network_address != ipaddress.IPv4Interface(subnet).ip:
        raise InvalidArgument(f"invalid subnet {subnet}: it should be {net}")
    if net.prefixlen > 30:
        raise InvalidArgument(f"subnet {net} is too small for a network")
    if subnet and any(net.overlaps(t) for t in taken):
        raise Conflict(f"Pool overlaps with other one on this address space: {net}")
    gw = ipaddress.IPv4Address(gateway) if gateway else net.network_address + 1
    if gw not in net:
        raise InvalidArgument(f"no matching subnet for gateway {gateway}")
    rng = ""
    if ip_range:
        try:
            r = ipaddress.IPv4Network(ip_range, strict=False)
        except ValueError as exc:
            raise InvalidArgument(f"invalid ip-range {ip_range}: {exc}") from None
        if not r.subnet_of(net):
            raise InvalidArgument(f"no matching subnet for range {ip_range}")
        rng = str(r)
    return IPAMPool(str(net), str(gw), rng)


class Leases:
    """The address leases of one network."""

    def __init__(self, directory: str) -> None:
        self.dir = directory

    def _path(self, ip: str) -> str:
        return os.path.join(self.dir, str(ipaddress.IPv4Address(ip)))

    def _take(self, ip: str, owner: str) -> bool:
        try:
            fd = os.open(self._path(ip), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(owner)
        return True

    def acquire(self, pool: IPAMPool, owner: str, wanted: str | None = None) -> str:
        """Lease ``wanted`` or the next free address after the last one handed out."""
        os.makedirs(self.dir, exist_ok=True)
        net, gateway = pool.network, ipaddress.IPv4Address(pool.gateway)
        if wanted:
            ip = ipaddress.IPv4Address(wanted)
            if ip not in net or ip in (net.network_address, net.broadcast_address, gateway):
                raise InvalidArgument(f"invalid address {wanted}: it does not belong to any of this network's subnets")
            if not self._take(str(ip), owner):
                raise Conflict(f"Address already in use: {wanted}")
            return str(ip)
        space = ipaddress.IPv4Network(pool.ip_range) if pool.ip_range else net
        first, last = int(space.network_address), int(space.broadcast_address)
        start = self._last(first - 1) + 1
        size = last - first + 1
        for i in range(size):
            candidate = ipaddress.IPv4Address(first + (start - first + i) % size)
            if candidate in (net.network_address, net.broadcast_address, gateway):
                continue
            if self._take(str(candidate), owner):
                self._remember(str(candidate))
                return str(candidate)
        raise Conflict(f"no available IPv4 addresses on this network's address pools: {pool.subnet}")

    def _last(self, default: int) -> int:
        try:
            with open(os.path.join(self.dir, "last_reserved_ip.0")) as f:
                return int(ipaddress.IPv4Address(f.read().strip()))
        except (OSError, ValueError):
            return default

    def _remember(self, ip: str) -> None:
        # host-local's hint file: round robin, so a freed address is not reused at once
        # (a neighbour's ARP cache may still point it at the old MAC)
        from ..store.atomic import write_text

        write_text(os.path.join(self.dir, "last_reserved_ip.0"), ip, durable=False)

    def release(self, ip: str, owner: str) -> None:
        """Give ``ip`` back if ``owner`` holds it (a stale release never frees another's)."""
        if self.owner(ip) == owner:
            unlink_quietly(self._path(ip))

    def owner(self, ip: str) -> str | None:
        try:
            with open(self._path(ip)) as f:
                return f.read().strip()
        except OSError:
            return None

    def all(self) -> dict[str, str]:
        """address -> owner, for reconciliation."""
        out = {}
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return out
        for name in names:
            try:
                ipaddress.IPv4Address(name)
            except ValueError:
                continue
            owner = self.owner(name)
            if owner is not None:
                out[name] = owner
        return out


class PortClaims:
    """Host ports published by lamina containers, one claim file per protocol and port."""

    def __init__(self, directory: str) -> None:
        self.dir = directory

    def _path(self, proto: str, port: int) -> str:
        return os.path.join(self.dir, f"{proto}-{int(port)}")

    def claim(self, proto: str, port: int, host_ip: str, owner: str) -> bool:
        """Take ``port`` for ``owner``; False when lamina or a host process already has it."""
        os.makedirs(self.dir, exist_ok=True)
        try:
            fd = os.open(self._path(proto, port), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "w") as f:
            f.write(f"{owner} {host_ip or '0.0.0.0'}")
        if not port_free(proto, host_ip, port):
            unlink_quietly(self._path(proto, port))
            return False
        return True

    def claim_any(self, proto: str, host_ip: str, owner: str, low: int = 0, high: int = 0) -> int:
        """A free port of ``low..high`` (default: the kernel's ephemeral range)."""
        if not low:
            low, high = ephemeral_range()
        ports = list(range(low, high + 1))
        offset = random.randrange(len(ports))
        for port in ports[offset:] + ports[:offset]:
            if self.claim(proto, port, host_ip, owner):
                return port
        raise Conflict(f"Bind for {host_ip or '0.0.0.0'}:{low}-{high} failed: port is already allocated")

    def release(self, proto: str, port: int, owner: str) -> None:
        holder = self.holder(proto, port)
        if holder and holder[0] == owner:
            unlink_quietly(self._path(proto, port))

    def holder(self, proto: str, port: int) -> tuple[str, str] | None:
        try:
            with open(self._path(proto, port)) as f:
                owner, _, ip = f.read().strip().partition(" ")
                return owner, ip
        except OSError:
            return None

    def all(self) -> dict[tuple[str, int], str]:
        out = {}
        try:
            names = os.listdir(self.dir)
        except FileNotFoundError:
            return out
        for name in names:
            proto, _, port = name.partition("-")
            if proto in ("tcp", "udp") and port.isdigit():
                holder = self.holder(proto, int(port))
                if holder:
                    out[(proto, int(port))] = holder[0]
        return out


def ephemeral_range() -> tuple[int, int]:
    try:
        with open("/proc/sys/net/ipv4/ip_local_port_range") as f:
            low, high = (int(x) for x in f.read().split())
            return low, high
    except (OSError, ValueError):
        return 32768, 60999


def port_free(proto: str, host_ip: str, port: int) -> bool:
    """Whether a host process could bind ``host_ip:port`` now (lamina's DNAT would take its
    traffic otherwise, so a port a host service listens on is refused, as docker refuses it)."""
    kind = socket.SOCK_STREAM if proto == "tcp" else socket.SOCK_DGRAM
    with socket.socket(socket.AF_INET, kind) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # TIME_WAIT is no user
        try:
            s.bind((host_ip or "0.0.0.0", port))
        except OSError as exc:
            if exc.errno in (errno.EADDRINUSE, errno.EACCES):
                return False
            raise
    return True
