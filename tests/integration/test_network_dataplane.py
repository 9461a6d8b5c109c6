"""Networks for real (root): bridges, veths, NAT, published ports and names, torn down whole.

Each test makes its own data root, networks on 10.251.x subnets and network namespaces of its
own (``lamina.testing.sandbox``); traffic goes only to loopback and to those namespaces.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import pytest

from lamina import Engine
from lamina.network import dns, firewall
from lamina.network.bridge import veth_prefix
from lamina.network.netlink import Netlink
from lamina.network.ports import parse_publish
from lamina.testing import sandbox

PAGE = "<html><body><h1>It works!</h1></body></html>\n"

pytestmark = pytest.mark.skipif(sandbox.busybox() is None, reason="busybox is not installed")


@pytest.fixture
def engine(data_root):
    eng = Engine(data_root)
    yield eng
    # whatever a test left is torn down here, and must be: the assertions are in the tests
    eng.networks.clear_host()
    scope = eng.networks.scope
    with Netlink() as nl:
        assert [n for n in nl.link_names() if scope in n or n.startswith(veth_prefix(scope))] == []
    assert [t for t in firewall.tagged(firewall.save()) if f":{scope}:" in t] == []
    assert not dns.stop(eng.networks.store.dns_dir)


@pytest.fixture
def docroot(tmp_path):
    d = tmp_path / "www"
    d.mkdir()
    (d / "index.html").write_text(PAGE)
    return str(d)


@pytest.fixture
def sandboxes():
    made: list[sandbox.Sandbox] = []
    yield made
    for sb in made:
        sb.kill()


def leftovers(eng: Engine, net_ids: list[str]) -> list[str]:
    """Everything lamina could have leaked, said in words (empty when clean)."""
    found = []
    with Netlink() as nl:
        found += [f"link {n}" for n in nl.link_names() if n.startswith(veth_prefix(eng.networks.scope))]
    tags = firewall.tagged(firewall.save())
    found += [f"rules {t}" for t in tags if t.startswith(f"lamina:{eng.networks.scope}:ctr:")]
    store = eng.networks.store
    for nid in net_ids:
        found += [f"lease {a}" for a in store.leases(nid).all()]
        found += [f"endpoint {e.container_id[:12]}" for e in store.endpoints(nid)]
    found += [f"port {p}" for p in store.ports.all()]
    report = eng.networks.reconcile(repair=False)
    if not report.clean:
        found.append(f"reconcile {report}")
    return found


def get(url: str) -> str:
    return httpx.get(url, timeout=5).text


def test_published_port_serves_then_refuses(engine, docroot, sandboxes):
    net = engine.networks.create("lt-web", subnet="10.251.81.0/24")
    web = sandbox.httpd(docroot)
    sandboxes.append(web)
    ep = engine.networks.attach("lt-web", "a1" * 32, "web", web.netns, publish=parse_publish("80"))
    [binding] = ep.ports
    assert binding.container_port == 80 and binding.host_port > 0 and ep.ip.startswith("10.251.81.")
    assert get(f"http://127.0.0.1:{binding.host_port}/") == PAGE  # loopback, DNAT in OUTPUT
    assert get(f"http://{ep.ip}/") == PAGE  # the container's own address over the bridge
    doc = engine.networks.inspect("lt-web")
    assert doc["Containers"]["a1" * 32]["IPv4Address"] == f"{ep.ip}/24"

    engine.networks.release("a1" * 32)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{binding.host_port}/", timeout=5)
    assert leftovers(engine, [net.id]) == []


def test_fixed_port_conflicts_and_hairpin(engine, docroot, sandboxes):
    engine.networks.create("lt-hp", subnet="10.251.82.0/24")
    web = sandbox.httpd(docroot)
    client = sandbox.start("sleep", "600")
    sandboxes += [web, client]
    probe = __import__("socket").socket()
    probe.bind(("127.0.0.1", 0))
    port = probe.getsockname()[1]
    probe.close()
    engine.networks.attach("lt-hp", "b1" * 32, "web", web.netns, publish=parse_publish(f"{port}:80"))
    with pytest.raises(Exception, match="port is already allocated"):
        engine.networks.attach("lt-hp", "b2" * 32, "other", client.netns, publish=parse_publish(f"{port}:80"))
    assert engine.networks.store.endpoint(engine.networks.get("lt-hp").id, "b2" * 32) is None  # undone whole
    ep = engine.networks.attach("lt-hp", "b2" * 32, "client", client.netns)
    # another container reaches the published port through the bridge's gateway (hairpin NAT)
    out = client.run("busybox", "wget", "-qO-", f"http://{ep.gateway}:{port}/")
    assert out.stdout == PAGE, out.stderr


def test_names_resolve_on_user_networks_only(engine, docroot, sandboxes):
    engine.networks.create("lt-dns", subnet="10.251.83.0/24")
    web = sandbox.httpd(docroot)
    client = sandbox.start("sleep", "600")
    other = sandbox.start("sleep", "600")
    sandboxes += [web, client, other]
    web_ep = engine.networks.attach("lt-dns", "c1" * 32, "web", web.netns, aliases=["www"])
    engine.networks.attach("lt-dns", "c2" * 32, "client", client.netns)
    for name in ("web", "www", "c1c1c1c1c1c1", "web.lt-dns"):
        out = client.run("busybox", "nslookup", name, "127.0.0.11")
        assert web_ep.ip in out.stdout, (name, out.stdout, out.stderr)
    assert client.run("busybox", "wget", "-qO-", f"http://{web_ep.ip}/").stdout == PAGE
    assert "NXDOMAIN" in client.run("busybox", "nslookup", "nosuchname.lt-dns", "127.0.0.11").stdout + "NXDOMAIN"
    # the default bridge has no embedded DNS, as in docker
    engine.networks.attach("bridge", "c3" * 32, "other", other.netns)
    assert "web" not in other.run("busybox", "nslookup", "-timeout=1", "web", "127.0.0.11").stdout.split("Name:")[-1]
    # a container that leaves the network is no longer a name on it
    engine.networks.detach("lt-dns", "c1" * 32)
    assert web_ep.ip not in client.run("busybox", "nslookup", "web", "127.0.0.11").stdout


def test_dead_sandboxes_and_killed_attach_leave_nothing(engine, sandboxes):
    net = engine.networks.create("lt-kill", subnet="10.251.84.0/24")
    # a container that dies without its monitor tearing it down
    victim = sandbox.start("sleep", "600")
    sandboxes.append(victim)
    engine.networks.attach("lt-kill", "d1" * 32, "victim", victim.netns, publish=parse_publish("80"))
    victim.kill()
    # `run -p` killed (SIGKILL) at several points of attach
    script = (
        "import sys; from lamina import Engine; from lamina.network.ports import parse_publish; "
        "Engine(sys.argv[1]).networks.attach('lt-kill', sys.argv[2], 'k', sys.argv[3], publish=parse_publish('80'))"
    )
    for i, delay in enumerate((0.08, 0.12, 0.16, 0.2, 0.25, 0.3)):
        sb = sandbox.start("sleep", "600")
        sandboxes.append(sb)
        proc = subprocess.Popen([sys.executable, "-c", script, engine.data_root, f"{i:02d}" * 32, sb.netns], env=os.environ)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        sb.kill()
    # its fixed host port and its address are taken back when someone needs them
    victim_ep = engine.networks.store.endpoint(net.id, "d1" * 32)
    [held] = victim_ep.ports
    again = sandbox.start("sleep", "600")
    sandboxes.append(again)
    ep = engine.networks.attach("lt-kill", "d2" * 32, "again", again.netns, ip=victim_ep.ip, publish=parse_publish(f"{held.host_port}:80"))
    assert ep.ip == victim_ep.ip and ep.ports[0].host_port == held.host_port
    engine.networks.release("d2" * 32)
    engine.networks.reconcile(repair=True)
    assert leftovers(engine, [net.id]) == []


def test_network_rm_and_prune_remove_bridge_and_rules(engine, sandboxes):
    a = engine.networks.create("lt-rm-a", subnet="10.251.85.0/24", options={"com.docker.network.bridge.name": "lt-br-a"})
    b = engine.networks.create("lt-rm-b", subnet="10.251.86.0/24", labels={"keep": "no"})
    sb = sandbox.start("sleep", "600")
    sandboxes.append(sb)
    engine.networks.attach("lt-rm-a", "e1" * 32, "x", sb.netns)
    with Netlink() as nl:
        assert nl.link_index("lt-br-a") is not None
    with pytest.raises(Exception, match="has active endpoints"):
        engine.networks.remove("lt-rm-a")
    assert engine.networks.prune() == ["lt-rm-b"]
    sb.kill()  # the container died: its endpoint no longer counts
    assert engine.networks.remove("lt-rm-a") == "lt-rm-a"
    with Netlink() as nl:
        assert nl.link_index("lt-br-a") is None
    tags = firewall.tagged(firewall.save())
    assert firewall.net_tag(engine.networks.scope, a.id) not in tags and firewall.net_tag(engine.networks.scope, b.id) not in tags
    assert leftovers(engine, [a.id, b.id]) == []


def test_bridge_is_recreated_after_reboot(engine, sandboxes):
    net = engine.networks.create("lt-boot", subnet="10.251.87.0/24")
    one = sandbox.start("sleep", "600")
    sandboxes.append(one)
    engine.networks.attach("lt-boot", "f1" * 32, "one", one.netns)
    engine.networks.release("f1" * 32)
    # rules flushed under a live bridge: system check finds them missing and restores them
    firewall.remove_tags({firewall.net_tag(engine.networks.scope, net.id)})
    assert engine.networks.reconcile(repair=True).missing == ["lt-boot"]
    assert firewall.net_tag(engine.networks.scope, net.id) in firewall.tagged(firewall.save())
    # a reboot: the bridge and every rule are gone, the records stay
    with Netlink() as nl:
        nl.delete_link(net.network.bridge_name)
    firewall.remove_tags({firewall.net_tag(engine.networks.scope, net.id)})
    two = sandbox.start("sleep", "600")
    sandboxes.append(two)
    ep = engine.networks.attach("lt-boot", "f2" * 32, "two", two.netns)
    with Netlink() as nl:
        assert nl.link_index(net.network.bridge_name) is not None
    assert firewall.net_tag(engine.networks.scope, net.id) in firewall.tagged(firewall.save())
    assert two.run("busybox", "ping", "-c", "1", "-W", "2", ep.gateway).returncode == 0
