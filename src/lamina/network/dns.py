"""The embedded DNS server: docker's 127.0.0.11 inside every container on a user network.

One server process per data root (``python -m lamina.network.dns <data-root>``), started by
the first ``attach`` to a user-defined network and ending by itself once no container needs it
for a minute. It holds, for each running container on such a network, a UDP socket bound to
``127.0.0.11:53`` *inside that container's network namespace* (it enters the namespace with
``setns`` just to create the socket), so it knows which container asks by the socket the
question came in on, with no iptables redirection in the container. It answers the names of
the networks that container is on (container name, ``--network-alias``, short ID; PTR for
their addresses) and forwards every other question to the host's resolvers, from the host's
namespace, where they are reachable.

``attach`` and ``detach`` send ``sync`` on the control socket (``network/dns/control.sock``)
and wait for the answer, so a container's names resolve from its first instruction. The
server is alive while it holds ``network/dns/server.lock`` (flock), however it dies.
"""

from __future__ import annotations

import errno
import fcntl
import ipaddress
import os
import socket
import subprocess
import sys
import time

LISTEN_ADDR = "127.0.0.11"
TTL = 600  # what docker's resolver answers with
IDLE_EXIT = 60.0
FORWARD_TIMEOUT = 4.0


# the client side: start the server if needed and make it sync -------------------------------
def _running(dns_dir: str) -> bool:
    fd = os.open(os.path.join(dns_dir, "server.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    finally:
        os.close(fd)
    return False


def notify(dns_dir: str, data_root: str, timeout: float = 5.0) -> None:
    """Make the server (started here if it is not running) serve the store as it is now."""
    if not _running(dns_dir):
        # lamina's own path first: the caller may be a monitor started without site (-S);
        # site stays on here, dnslib lives in site-packages
        here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        code = "import sys; sys.path.insert(0, sys.argv.pop(1)); from lamina.network.dns import main; sys.exit(main(sys.argv[1:]))"
        subprocess.Popen(
            [sys.executable, "-c", code, here, data_root],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(os.path.join(dns_dir, "server.log"), "ab"),  # noqa: SIM115 - handed over
            start_new_session=True,
        )
    control = os.path.join(dns_dir, "control.sock")
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as s:
        s.bind("")  # an abstract autobind address for the reply
        s.settimeout(0.5)
        while True:
            try:
                s.sendto(b"sync", control)
                if s.recv(16) == b"ok":
                    return
            except (FileNotFoundError, ConnectionRefusedError, TimeoutError):
                pass
            if time.monotonic() > deadline:
                raise OSError(errno.ETIMEDOUT, f"no answer on {control}")
            time.sleep(0.02)


def stop(dns_dir: str, timeout: float = 5.0) -> bool:
    """End the server if one runs (its pid is in the lock file it holds); True if one did."""
    import signal

    if not _running(dns_dir):
        return False
    try:
        with open(os.path.join(dns_dir, "server.lock")) as f:
            pid = int(f.read().strip() or 0)
    except (OSError, ValueError):
        return False
    if pid > 0:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            return False
    deadline = time.monotonic() + timeout
    while _running(dns_dir) and time.monotonic() < deadline:
        time.sleep(0.02)
    return True


def host_resolvers(path: str = "/etc/resolv.conf") -> list[str]:
    servers = []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0] == "nameserver":
                    servers.append(parts[1])
    except OSError:
        pass
    return [s for s in servers if _ipv4(s)] or ["8.8.8.8", "8.8.4.4"]


def container_dns(data_root: str, container_id: str) -> list[str]:
    """A container's ``--dns`` servers (HostConfig.Dns): the embedded server's upstream for
    it, as docker's ExtServers; asked from the host's namespace, so loopback ones work too."""
    import json

    try:
        with open(os.path.join(data_root, "containers", container_id, "hostconfig.json"), encoding="utf-8") as f:
            servers = json.load(f).get("Dns") or []
    except (OSError, ValueError):
        return []
    return [s for s in servers if _ipv4(s)]


def _ipv4(text: str) -> bool:
    try:
        ipaddress.IPv4Address(text)
        return True
    except ValueError:
        return False


# the server ----------------------------------------------------------------------------------
class Server:
    def __init__(self, data_root: str) -> None:
        import selectors

        from .store import NetworkStore

        self.store = NetworkStore(data_root)
        self.selector = selectors.DefaultSelector()
        self.listeners: dict[int, socket.socket] = {}  # sandbox inode -> socket in its netns
        self.sandboxes: dict[int, object] = {}  # sandbox inode -> model.Sandbox, to see it die
        self.checked = time.monotonic()
        self.views: dict[int, tuple[dict[str, list[str]], dict[str, str]]] = {}  # names, ptr
        self.pending: dict[socket.socket, tuple[socket.socket, object, float]] = {}
        self.upstream = host_resolvers()
        self.upstreams: dict[int, list[str]] = {}  # sandbox inode -> its container's --dns
        self.data_root = data_root
        self.idle_since = time.monotonic()
        control = os.path.join(self.store.dns_dir, "control.sock")
        try:
            os.unlink(control)
        except FileNotFoundError:
            pass
        self.control = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.control.bind(control)
        self.selector.register(self.control, 1, ("control", None))

    def sync(self) -> None:
        """Reload the store: serve every live sandbox on a user network, drop dead ones."""
        from .netns import inside

        nets = {n.id: n for n in self.store.networks() if n.resolves_names}
        by_sandbox: dict[int, list] = {}
        netns_of: dict[int, str] = {}
        members: dict[str, list] = {}
        for nid in nets:
            for ep in self.store.endpoints(nid):
                if ep.sandbox and ep.sandbox.alive():
                    members.setdefault(nid, []).append(ep)
                    by_sandbox.setdefault(ep.sandbox.inode, []).append(nid)
                    netns_of[ep.sandbox.inode] = ep.sandbox.netns
                    self.sandboxes[ep.sandbox.inode] = ep.sandbox
                    self.upstreams[ep.sandbox.inode] = container_dns(self.data_root, ep.container_id) or self.upstream
        for key in list(self.listeners):
            if key not in by_sandbox:
                sock = self.listeners.pop(key)
                self.selector.unregister(sock)
                sock.close()
        for key, nids in by_sandbox.items():
            names: dict[str, list[str]] = {}
            ptr: dict[str, str] = {}
            for nid in nids:
                for ep in members[nid]:
                    for name in (ep.container_name, ep.container_id[:12], *ep.aliases):
                        if name:
                            names.setdefault(name.lower(), []).append(ep.ip)
                            names.setdefault(f"{name.lower()}.{nets[nid].name.lower()}", []).append(ep.ip)
                    ptr.setdefault(ipaddress.IPv4Address(ep.ip).reverse_pointer, f"{ep.container_name}.{nets[nid].name}")
            self.views[key] = (names, ptr)
            if key not in self.listeners:
                def make() -> socket.socket:
                    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
                    s.bind((LISTEN_ADDR, 53))
                    return s

                try:
                    sock = inside(netns_of[key], make)
                except OSError:
                    continue  # the container went away meanwhile
                self.listeners[key] = sock
                self.selector.register(sock, 1, ("query", key))
        for key in list(self.views):
            if key not in by_sandbox:
                del self.views[key]
        for key in list(self.sandboxes):
            if key not in by_sandbox:
                del self.sandboxes[key]
                self.upstreams.pop(key, None)
        if self.listeners:
            self.idle_since = time.monotonic()

    def answer(self, data: bytes, key: int) -> bytes | None:
        """The reply for a question about the container's networks, or None to forward."""
        from dnslib import PTR, QTYPE, RR, A, DNSRecord

        try:
            request = DNSRecord.parse(data)
        except Exception:
            return None
        if not request.questions:
            return None
        q = request.questions[0]
        qname = str(q.qname).rstrip(".").lower()
        names, ptr = self.views.get(key, ({}, {}))
        if qname in names:
            reply = request.reply()
            if q.qtype in (QTYPE.A, QTYPE.ANY):
                for ip in dict.fromkeys(names[qname]):
                    reply.add_answer(RR(q.qname, QTYPE.A, rdata=A(ip), ttl=TTL))
            return reply.pack()  # AAAA and others: the name exists, no such record (NODATA)
        if q.qtype == QTYPE.PTR and qname in ptr:
            reply = request.reply()
            reply.add_answer(RR(q.qname, QTYPE.PTR, rdata=PTR(ptr[qname] + "."), ttl=TTL))
            return reply.pack()
        return None

    def forward(self, data: bytes, listener: socket.socket, client, key: int) -> None:
        up = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_NONBLOCK | socket.SOCK_CLOEXEC)
        try:
            up.connect((self.upstreams.get(key, self.upstream)[0], 53))
            up.send(data)
        except OSError:
            up.close()
            self._servfail(data, listener, client)
            return
        self.pending[up] = (listener, client, time.monotonic() + FORWARD_TIMEOUT)
        self.selector.register(up, 1, ("upstream", None))

    def _servfail(self, data: bytes, listener: socket.socket, client) -> None:
        from dnslib import RCODE, DNSRecord

        try:
            reply = DNSRecord.parse(data).reply()
            reply.header.rcode = RCODE.SERVFAIL
            listener.sendto(reply.pack(), client)
        except Exception:
            pass

    def serve(self) -> None:
        while True:
            for sel_key, _ in self.selector.select(timeout=1.0):
                kind, key = sel_key.data
                sock = sel_key.fileobj
                try:
                    data, peer = sock.recvfrom(4096)
                except OSError:
                    if kind == "upstream":
                        self._drop(sock)
                    continue
                if kind == "control":
                    if data == b"sync":
                        self.sync()
                        self._reply(peer)
                elif kind == "query":
                    reply = self.answer(data, key)
                    if reply is None:
                        self.forward(data, sock, peer, key)
                    else:
                        sock.sendto(reply, peer)
                else:
                    listener, client, _ = self.pending.get(sock, (None, None, 0))
                    if listener is not None:
                        try:
                            listener.sendto(data, client)
                        except OSError:
                            pass
                    self._drop(sock)
            now = time.monotonic()
            if now - self.checked > 5:  # containers that died without a detach
                self.checked = now
                if any(not sb.alive() for sb in self.sandboxes.values()):
                    self.sync()
            for up, (_, _, deadline) in list(self.pending.items()):
                if now > deadline:
                    self._drop(up)
            if not self.listeners and now - self.idle_since > IDLE_EXIT:
                return
            if not self.listeners:
                continue
            self.idle_since = now

    def _reply(self, peer) -> None:
        try:
            self.control.sendto(b"ok", peer)
        except OSError:
            pass

    def _drop(self, up: socket.socket) -> None:
        self.pending.pop(up, None)
        try:
            self.selector.unregister(up)
        except (KeyError, ValueError):
            pass
        up.close()


def main(argv: list[str]) -> int:
    from .store import NetworkStore

    store = NetworkStore(argv[0])
    fd = os.open(os.path.join(store.dns_dir, "server.lock"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return 0  # another server won the race; the client syncs with it
    os.ftruncate(fd, 0)
    os.write(fd, str(os.getpid()).encode())
    server = Server(argv[0])
    server.sync()
    server.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
