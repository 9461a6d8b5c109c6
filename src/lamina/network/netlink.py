"""A minimal rtnetlink client: the handful of link, address and route requests lamina needs.

Why not pyroute2: importing it costs 130-165 ms here (its package imports ndb, ipdb and
conntrack whatever one asks for), more than the whole network set-up of a container; the
CNI plugins take ~40 ms (bridge) + ~70 ms (portmap) a container and ~200 ms to tear down,
because each execs iptables several times. These few requests, packed with ``struct``, take
well under a millisecond each (``bench/networks.py`` measures attach latency).

Every request asks for an acknowledgement, so a failure arrives as an ``OSError`` with the
kernel's errno, in order.
"""

from __future__ import annotations

import errno
import ipaddress
import os
import socket
import struct

NETLINK_ROUTE = 0
RTM_NEWLINK, RTM_DELLINK, RTM_GETLINK = 16, 17, 18
RTM_NEWADDR = 20
RTM_NEWROUTE = 24
NLM_F_REQUEST, NLM_F_ACK = 0x1, 0x4
NLM_F_EXCL, NLM_F_CREATE = 0x200, 0x400
NLMSG_ERROR, NLMSG_DONE = 2, 3
IFLA_ADDRESS, IFLA_IFNAME, IFLA_MTU, IFLA_MASTER, IFLA_LINKINFO, IFLA_NET_NS_FD = 1, 3, 4, 10, 18, 28
IFLA_INFO_KIND, IFLA_INFO_DATA = 1, 2
VETH_INFO_PEER = 1
NLA_F_NESTED = 0x8000
IFA_ADDRESS, IFA_LOCAL, IFA_BROADCAST = 1, 2, 4
RTA_DST, RTA_OIF, RTA_GATEWAY = 1, 4, 5
IFF_UP = 0x1
RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST = 254, 3, 0, 1

_HDR = struct.Struct("=IHHII")
_IFINFO = struct.Struct("=BxHiII")
_IFADDR = struct.Struct("=BBBBI")
_RTMSG = struct.Struct("=BBBBBBBBI")


def _attr(kind: int, payload: bytes) -> bytes:
    length = 4 + len(payload)
    return struct.pack("=HH", length, kind) + payload + b"\0" * (-length % 4)


def _nested(kind: int, *attrs: bytes) -> bytes:
    return _attr(kind | NLA_F_NESTED, b"".join(attrs))


def _name(text: str) -> bytes:
    return text.encode() + b"\0"


def _mac(text: str) -> bytes:
    return bytes(int(x, 16) for x in text.split(":"))


class Netlink:
    """One rtnetlink socket, in the network namespace it was created in."""

    def __init__(self, sock: socket.socket | None = None) -> None:
        self.sock = sock or socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE)
        self.sock.bind((0, 0))
        self._seq = 0

    def close(self) -> None:
        self.sock.close()

    def __enter__(self) -> Netlink:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _request(self, kind: int, flags: int, body: bytes) -> list[bytes]:
        """Send one request and read to its ACK (or error); returns the data messages."""
        self._seq += 1
        seq = self._seq
        self.sock.send(_HDR.pack(_HDR.size + len(body), kind, NLM_F_REQUEST | NLM_F_ACK | flags, seq, 0) + body)
        replies = []
        while True:
            data = self.sock.recv(65536)
            offset = 0
            while offset < len(data):
                length, mtype, _, mseq, _ = _HDR.unpack_from(data, offset)
                payload = data[offset + _HDR.size : offset + length]
                offset += (length + 3) & ~3
                if mseq != seq:
                    continue
                if mtype == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", payload)[0]
                    if code:
                        raise OSError(code, os.strerror(code))
                    return replies
                if mtype == NLMSG_DONE:
                    return replies
                replies.append(payload)

    # links ---------------------------------------------------------------------------------
    def link_index(self, name: str) -> int | None:
        """The index of link ``name``, or None if there is none."""
        try:
            replies = self._request(RTM_GETLINK, 0, _IFINFO.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(name)))
        except OSError as exc:
            if exc.errno in (errno.ENODEV, errno.ENOENT):
                return None
            raise
        for payload in replies:
            return _IFINFO.unpack_from(payload)[2]
        return None

    def link_is_up(self, index: int) -> bool:
        replies = self._request(RTM_GETLINK, 0, _IFINFO.pack(0, 0, index, 0, 0))
        return any(_IFINFO.unpack_from(p)[3] & IFF_UP for p in replies)

    def link_names(self) -> list[str]:
        """Every link's name in this namespace (a dump)."""
        self._seq += 1
        seq = self._seq
        body = _IFINFO.pack(0, 0, 0, 0, 0)
        self.sock.send(_HDR.pack(_HDR.size + len(body), RTM_GETLINK, NLM_F_REQUEST | 0x300, seq, 0) + body)
        names = []
        while True:
            data = self.sock.recv(65536)
            offset = 0
            while offset < len(data):
                length, mtype, _, mseq, _ = _HDR.unpack_from(data, offset)
                payload = data[offset + _HDR.size : offset + length]
                offset += (length + 3) & ~3
                if mseq != seq:
                    continue
                if mtype == NLMSG_DONE:
                    return names
                if mtype == NLMSG_ERROR:
                    code = -struct.unpack_from("=i", payload)[0]
                    raise OSError(code, os.strerror(code))
                pos = _IFINFO.size
                while pos + 4 <= len(payload):
                    alen, atype = struct.unpack_from("=HH", payload, pos)
                    if alen < 4:
                        break
                    if atype == IFLA_IFNAME:
                        names.append(payload[pos + 4 : pos + alen].rstrip(b"\0").decode())
                    pos += (alen + 3) & ~3

    def add_bridge(self, name: str, mtu: int = 1500) -> None:
        linkinfo = _nested(IFLA_LINKINFO, _attr(IFLA_INFO_KIND, b"bridge"))
        body = _IFINFO.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(name)) + _attr(IFLA_MTU, struct.pack("=I", mtu)) + linkinfo
        self._request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)

    def add_veth(self, name: str, peer: str, peer_netns_fd: int, peer_mac: str = "", mtu: int = 1500) -> None:
        """A veth pair whose ``peer`` end is born inside another namespace, named there."""
        peer_attrs = _attr(IFLA_IFNAME, _name(peer)) + _attr(IFLA_NET_NS_FD, struct.pack("=I", peer_netns_fd))
        peer_attrs += _attr(IFLA_MTU, struct.pack("=I", mtu))
        if peer_mac:
            peer_attrs += _attr(IFLA_ADDRESS, _mac(peer_mac))
        info_data = _nested(IFLA_INFO_DATA, _nested(VETH_INFO_PEER, _IFINFO.pack(0, 0, 0, 0, 0) + peer_attrs))
        linkinfo = _nested(IFLA_LINKINFO, _attr(IFLA_INFO_KIND, b"veth"), info_data)
        body = _IFINFO.pack(0, 0, 0, 0, 0) + _attr(IFLA_IFNAME, _name(name)) + _attr(IFLA_MTU, struct.pack("=I", mtu)) + linkinfo
        self._request(RTM_NEWLINK, NLM_F_CREATE | NLM_F_EXCL, body)

    def set_link(self, index: int, up: bool = True, master: int | None = None) -> None:
        body = _IFINFO.pack(0, 0, index, IFF_UP if up else 0, IFF_UP)
        if master is not None:
            body += _attr(IFLA_MASTER, struct.pack("=I", master))
        self._request(RTM_NEWLINK, 0, body)

    def delete_link(self, name: str) -> bool:
        """Remove link ``name`` (a veth takes its peer with it); False if it was not there."""
        index = self.link_index(name)
        if index is None:
            return False
        try:
            self._request(RTM_DELLINK, 0, _IFINFO.pack(0, 0, index, 0, 0))
        except OSError as exc:
            if exc.errno in (errno.ENODEV, errno.ENOENT):
                return False
            raise
        return True

    # addresses and routes ------------------------------------------------------------------
    def add_address(self, index: int, cidr: str, exist_ok: bool = False) -> None:
        iface = ipaddress.IPv4Interface(cidr)
        body = _IFADDR.pack(socket.AF_INET, iface.network.prefixlen, 0, RT_SCOPE_UNIVERSE, index)
        body += _attr(IFA_LOCAL, iface.ip.packed) + _attr(IFA_ADDRESS, iface.ip.packed)
        if iface.network.prefixlen < 31:
            body += _attr(IFA_BROADCAST, iface.network.broadcast_address.packed)
        try:
            self._request(RTM_NEWADDR, NLM_F_CREATE | NLM_F_EXCL, body)
        except FileExistsError:
            if not exist_ok:
                raise

    def add_default_route(self, gateway: str, index: int) -> None:
        body = _RTMSG.pack(socket.AF_INET, 0, 0, 0, RT_TABLE_MAIN, RTPROT_BOOT, RT_SCOPE_UNIVERSE, RTN_UNICAST, 0)
        body += _attr(RTA_GATEWAY, ipaddress.IPv4Address(gateway).packed) + _attr(RTA_OIF, struct.pack("=I", index))
        self._request(RTM_NEWROUTE, NLM_F_CREATE | NLM_F_EXCL, body)
