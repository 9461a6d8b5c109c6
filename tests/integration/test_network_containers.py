"""Containers on networks, as the seeds use them (root): seed 001's ``run -p 8080:80 httpd``
answering "It works!" on localhost and refusing after ``stop``; two containers talking by name
on a user network (seed 000's ``registry-network``); nothing left behind, even after a kill -9
in the middle of ``run -p``. Traffic goes only to loopback and to the test's own containers."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import time

import httpx
import pytest

from lamina import Engine
from lamina.network import dns, firewall
from lamina.network.bridge import veth_prefix
from lamina.network.netlink import Netlink

PAGE = "<html><body><h1>It works!</h1></body></html>"
SERVE = f"mkdir -p /www && echo '{PAGE}' > /www/index.html && exec httpd -f -p 80 -h /www"


@pytest.fixture
def ctr(lamina, busybox_tar):
    lamina.run("image", "import", "-c", 'CMD ["/bin/sh"]', busybox_tar, "busybox:latest")
    yield lamina
    ids = lamina.run("ps", "-aq", "--no-trunc", check=False).out.split()
    if ids:
        lamina.run("rm", "-f", *ids, check=False)
    eng = Engine(lamina.root)
    eng.networks.clear_host()
    assert not dns.stop(eng.networks.store.dns_dir)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, tries: int = 100) -> str:
    """The page on 127.0.0.1:port once the server in the container listens."""
    for _ in range(tries):
        try:
            return httpx.get(f"http://127.0.0.1:{port}/", timeout=5).text
        except httpx.TransportError:
            time.sleep(0.05)
    raise AssertionError(f"nothing answered on 127.0.0.1:{port}")


def leftovers(root: str) -> list[str]:
    eng = Engine(root)
    scope = eng.networks.scope
    found = []
    with Netlink() as nl:
        found += [n for n in nl.link_names() if n.startswith(veth_prefix(scope))]
    found += [t for t in firewall.tagged(firewall.save()) if t.startswith(f"lamina:{scope}:ctr:")]
    store = eng.networks.store
    found += [f"endpoint {e.container_id[:12]}" for e in store.all_endpoints()]
    found += [f"port {p}" for p in store.ports.all()]
    for nid in os.listdir(store.ipam_dir):
        found += [f"lease {a}" for a in store.leases(nid).all()]
    return found


def test_published_httpd_like_seed_001(ctr):
    port = free_port()
    cid = ctr.run("run", "-d", "--name", "myhttpd", "-p", f"{port}:80", "busybox", "sh", "-c", SERVE).out.strip()
    assert get(port).strip() == PAGE
    ps = ctr.run("ps").out.splitlines()
    assert ps[0].split()[:2] == ["CONTAINER", "ID"] and "PORTS" in ps[0]
    assert f"0.0.0.0:{port}->80/tcp" in ps[1] and ps[1].split()[-1] == "myhttpd"
    assert ctr.run("port", "myhttpd").out == f"80/tcp -> 0.0.0.0:{port}\n"
    assert ctr.run("port", "myhttpd", "80/tcp").out == f"0.0.0.0:{port}\n"
    settings = json.loads(ctr.run("container", "inspect", "-f", "{{json .NetworkSettings}}", cid).out)
    assert settings["Ports"] == {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": str(port)}]}
    ip = settings["Networks"]["bridge"]["IPAddress"]
    assert settings["IPAddress"] == ip and httpx.get(f"http://{ip}/", timeout=5).text.strip() == PAGE

    ctr.run("stop", "-t", "1", "myhttpd")
    with pytest.raises(httpx.ConnectError):  # curl: (7) ... Connection refused
        httpx.get(f"http://127.0.0.1:{port}/", timeout=5)
    assert leftovers(ctr.root) == []
    ctr.run("start", "myhttpd")  # the same port again, a fresh endpoint
    assert get(port).strip() == PAGE
    ctr.run("rm", "-f", "myhttpd")
    assert leftovers(ctr.root) == []


def test_publish_all_and_free_ports(ctr):
    cid = ctr.run("run", "-d", "--expose", "80", "-P", "-p", "127.0.0.1::80/udp", "busybox", "sh", "-c", SERVE).out.strip()
    lines = ctr.run("port", cid).out.splitlines()
    tcp = [line for line in lines if line.startswith("80/tcp -> 0.0.0.0:")]
    assert len(tcp) == 1 and any(line.startswith("80/udp -> 127.0.0.1:") for line in lines), lines
    assert get(int(tcp[0].rsplit(":", 1)[1])).strip() == PAGE
    taken = int(tcp[0].rsplit(":", 1)[1])
    clash = ctr.run("run", "-d", "-p", f"{taken}:80", "busybox", "sleep", "60", check=False)
    assert clash.returncode == 125 and "port is already allocated" in clash.err


def test_containers_talk_by_name_on_a_user_network(ctr):
    ctr.run("network", "create", "--subnet", "10.251.92.0/24", "registry-network")
    ctr.run("run", "-d", "--name", "web", "--network", "registry-network", "--network-alias", "www",
            "--ip", "10.251.92.50", "--mac-address", "02:42:0a:fb:5c:aa", "busybox", "sh", "-c", SERVE)
    script = "for i in $(seq 50); do wget -qO- http://web/ && break; sleep 0.1; done; wget -qO- http://www/; cat /etc/resolv.conf /etc/hosts"
    out = ctr.run("run", "--rm", "--network", "registry-network", "--hostname", "client", "--add-host", "gw:host-gateway",
                  "busybox", "sh", "-c", script).out
    assert out.count(PAGE) == 2
    assert "nameserver 127.0.0.11\n" in out and "10.251.92.1\tgw\n" in out and "\tclient\n" in out
    doc = json.loads(ctr.run("network", "inspect", "registry-network").out)[0]
    [(_, web)] = doc["Containers"].items()
    assert web["Name"] == "web" and web["IPv4Address"] == "10.251.92.50/24" and web["MacAddress"] == "02:42:0a:fb:5c:aa"
    # the default bridge resolves no names (docker's behaviour), and the user network's
    # containers are not on it
    lone = ctr.run("run", "--rm", "busybox", "sh", "-c", "grep -c 127.0.0.11 /etc/resolv.conf", check=False)
    assert lone.out.strip() == "0"
    # connect a running container to a second network, and away again
    ctr.run("network", "create", "--subnet", "10.251.93.0/24", "second")
    ctr.run("network", "connect", "--alias", "web2", "second", "web")
    assert "10.251.93." in ctr.run("container", "inspect", "-f", "{{json .NetworkSettings.Networks}}", "web").out
    ctr.run("network", "disconnect", "second", "web")
    assert "second" not in json.loads(ctr.run("container", "inspect", "-f", "{{json .NetworkSettings.Networks}}", "web").out)
    busy = ctr.run("network", "rm", "registry-network", check=False)
    assert busy.returncode == 1 and "has active endpoints" in busy.err
    ctr.run("rm", "-f", "web")
    assert ctr.run("network", "rm", "registry-network", "second").out == "registry-network\nsecond\n"
    assert leftovers(ctr.root) == []


def test_container_network_mode_shares_a_namespace(ctr):
    ctr.run("network", "create", "--subnet", "10.251.94.0/24", "shared")
    ctr.run("run", "-d", "--name", "web", "--network", "shared", "busybox", "sh", "-c", SERVE)
    out = ctr.run("run", "--rm", "--network", "container:web", "busybox", "sh", "-c",
                  "for i in $(seq 50); do wget -qO- http://127.0.0.1/ && break; sleep 0.1; done").out
    assert PAGE in out
    refused = ctr.run("run", "--rm", "--network", "container:web", "-p", "81:80", "busybox", "true", check=False)
    assert refused.returncode == 125 and "conflicting options" in refused.err


def test_kill_9_in_the_middle_of_run_p_leaves_nothing(ctr):
    argv = ctr.argv("run", "-d", "-p", "80", "busybox", "sh", "-c", SERVE)
    for delay in (0.3, 0.5, 0.7, 0.9, 1.2, 1.6):
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # and a monitor killed under a running, published container
    cid = ctr.run("run", "-d", "-p", "80", "busybox", "sh", "-c", SERVE).out.strip()
    for line in subprocess.run(["ps", "-eo", "pid,args"], capture_output=True, text=True).stdout.splitlines():
        if "lamina.runtime.monitor" in line and cid in line:
            os.kill(int(line.split()[0]), signal.SIGKILL)
    ids = ctr.run("ps", "-aq", "--no-trunc").out.split()
    if ids:
        ctr.run("rm", "-f", *ids)
    ctr.run("system", "check", "--repair", check=False)
    assert leftovers(ctr.root) == []
    assert ctr.run("system", "check").out.strip() == "The data root is consistent."


def test_dns_forwards_to_the_containers_own_servers(ctr):
    """Names not on the network go to ``--dns`` (here a responder on the host's loopback)."""
    import threading

    from dnslib import QTYPE, RR, A, DNSRecord

    upstream = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    upstream.bind(("127.0.0.77", 53))
    upstream.settimeout(0.2)
    asked: list[str] = []
    done = threading.Event()

    def serve() -> None:
        while not done.is_set():
            try:
                data, peer = upstream.recvfrom(4096)
            except TimeoutError:
                continue
            request = DNSRecord.parse(data)
            asked.append(str(request.q.qname))
            reply = request.reply()
            if request.q.qtype == QTYPE.A:
                reply.add_answer(RR(request.q.qname, QTYPE.A, rdata=A("10.251.95.99"), ttl=60))
            upstream.sendto(reply.pack(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        ctr.run("network", "create", "--subnet", "10.251.95.0/24", "fwd")
        out = ctr.run("run", "--rm", "--network", "fwd", "--dns", "127.0.0.77", "busybox", "nslookup", "outside.test").out
    finally:
        done.set()
        thread.join()
        upstream.close()
    assert "10.251.95.99" in out and "outside.test." in asked, (out, asked)


def test_an_internal_network_routes_nowhere_but_its_subnet(ctr):
    """``--internal``: no default route in the container (docker sets no gateway), peers by
    name, and a host listener on another network's gateway out of reach, while a container on
    that other network reaches it."""
    import threading

    ctr.run("network", "create", "--internal", "--subnet", "10.251.106.0/24", "inner")
    ctr.run("network", "create", "--subnet", "10.251.107.0/24", "outer")
    ctr.run("run", "-d", "--name", "peer", "--network", "inner", "busybox", "sleep", "60")
    ctr.run("run", "-d", "--name", "keeper", "--network", "outer", "busybox", "sleep", "60")  # the outer bridge is up
    listener = socket.socket()
    listener.bind(("10.251.107.1", 0))
    listener.listen(8)
    port = listener.getsockname()[1]

    def answer():
        while True:
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                conn.sendall(b"host\n")

    threading.Thread(target=answer, daemon=True).start()
    try:
        inner = ctr.run("run", "--rm", "--network", "inner", "busybox", "sh", "-c",
                        f"ip route; ping -c1 -W2 peer >/dev/null && echo peer-ok; echo x | nc -w 3 10.251.107.1 {port} || echo unreachable",
                        check=False).out
        assert "default" not in inner and "10.251.106.0/24 dev eth0" in inner, inner
        assert "peer-ok" in inner and "unreachable" in inner and "host\n" not in inner
        outer = ctr.run("run", "--rm", "--network", "outer", "busybox", "sh", "-c", f"ip route; echo x | nc -w 5 10.251.107.1 {port}").out
        assert "default via 10.251.107.1" in outer and outer.endswith("host\n"), outer
    finally:
        listener.close()
    ctr.run("rm", "-f", "peer", "keeper")
    assert leftovers(ctr.root) == []


def test_dns_flags_and_an_ip_range(ctr):
    """``--dns``, ``--dns-search`` and ``--dns-option`` write the container's resolv.conf (on
    the default bridge, where docker's embedded DNS is not used), and ``--ip-range`` bounds
    the addresses a network gives out."""
    conf = ctr.run("run", "--rm", "--dns", "192.0.2.53", "--dns-search", "example.test", "--dns-option", "ndots:2",
                   "busybox", "cat", "/etc/resolv.conf").out
    lines = [line for line in conf.splitlines() if line and not line.startswith("#")]
    assert lines == ["nameserver 192.0.2.53", "search example.test", "options ndots:2"], conf
    ctr.run("network", "create", "--subnet", "10.251.108.0/24", "--ip-range", "10.251.108.128/25", "ranged")
    doc = json.loads(ctr.run("network", "inspect", "ranged").out)[0]
    assert doc["IPAM"]["Config"] == [{"Subnet": "10.251.108.0/24", "IPRange": "10.251.108.128/25", "Gateway": "10.251.108.1"}]
    addr = ctr.run("run", "--rm", "--network", "ranged", "busybox", "sh", "-c",
                   "ip -4 -o addr show eth0 | awk '{print $4}'").out.strip()
    assert addr.startswith("10.251.108.") and int(addr.split("/")[0].rsplit(".", 1)[1]) >= 128, addr
    # on a user network the embedded DNS answers, and forwards to the --dns servers
    user = ctr.run("run", "--rm", "--network", "ranged", "--dns-search", "example.test", "busybox", "cat", "/etc/resolv.conf").out
    assert "nameserver 127.0.0.11" in user and "search example.test" in user, user
    ctr.run("network", "rm", "ranged")
    assert leftovers(ctr.root) == []
