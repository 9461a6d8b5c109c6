"""Networks without root: the publish grammar, IPAM leases, the store, hosts/resolv.conf."""

from __future__ import annotations

import ipaddress
import socket

import pytest

from lamina.errors import Conflict, InvalidArgument
from lamina.network import firewall
from lamina.network.files import hosts_file, parse_add_host, resolv_conf
from lamina.network.ipam import Leases, PortClaims, choose_subnet, make_pool
from lamina.network.model import (
    Endpoint,
    IPAMPool,
    Network,
    PortBinding,
    Sandbox,
    mac_for,
    to_inspect,
)
from lamina.network.ports import (
    format_port_map,
    format_ps_ports,
    parse_expose,
    parse_publish,
    publish_all,
)
from lamina.network.store import NetworkStore


def test_publish_forms():
    [r] = parse_publish("8080:80")
    assert (r.container_port, r.proto, r.host_ip, r.fixed().host_port) == (80, "tcp", "", 8080)
    [r] = parse_publish("80")
    assert r.fixed() is None and r.host_start == 0
    [r] = parse_publish("127.0.0.1::53/udp")
    assert (r.host_ip, r.proto, r.fixed()) == ("127.0.0.1", "udp", None)
    rs = parse_publish("8000-8002:80-82")
    assert [(x.host_start, x.container_port) for x in rs] == [(8000, 80), (8001, 81), (8002, 82)]
    [r] = parse_publish("9000-9010:80")
    assert (r.host_start, r.host_end, r.fixed()) == (9000, 9010, None)
    assert [x.container_port for x in parse_publish("7000-7001")] == [7000, 7001]


@pytest.mark.parametrize(
    "bad", ["80/sctp", "x:80", "8080:0", "8080:70000", "1.2.3:80:80", "8000-8001:80-82", "[::1]:80:80", "a:b:c:d", "90-80:80"]
)
def test_publish_refuses_bad_specs(bad):
    with pytest.raises(InvalidArgument):
        parse_publish(bad)


def test_expose_and_publish_all():
    assert parse_expose("80") == ["80/tcp"]
    assert parse_expose("53/udp") == ["53/udp"]
    assert parse_expose("8000-8001") == ["8000/tcp", "8001/tcp"]
    reqs = publish_all(["80/tcp", "53/udp"])
    assert [(r.container_port, r.proto, r.fixed()) for r in reqs] == [(80, "tcp", None), (53, "udp", None)]


def test_port_rendering_as_docker_prints_it():
    b = [PortBinding(80, "tcp", "", 8080), PortBinding(53, "udp", "127.0.0.1", 5353)]
    assert format_ps_ports(b, ["443/tcp"]) == "127.0.0.1:5353->53/udp, 0.0.0.0:8080->80/tcp, 443/tcp"
    assert format_port_map(b) == ["53/udp -> 127.0.0.1:5353", "80/tcp -> 0.0.0.0:8080"]


def test_subnet_choice_skips_taken_and_validates():
    taken = [ipaddress.IPv4Network("172.18.0.0/16"), ipaddress.IPv4Network("172.19.5.0/24")]
    assert str(choose_subnet(taken)) == "172.20.0.0/16"
    pool = make_pool("10.9.0.0/24", None, "10.9.0.128/25", [])
    assert (pool.gateway, pool.ip_range) == ("10.9.0.1", "10.9.0.128/25")
    with pytest.raises(InvalidArgument):
        make_pool("10.9.0.0/24", "10.10.0.1", None, [])
    with pytest.raises(InvalidArgument):
        make_pool("10.9.0.0/24", None, "10.8.0.0/25", [])
    with pytest.raises(Conflict):
        make_pool("10.9.0.0/24", None, None, [ipaddress.IPv4Network("10.9.0.0/16")])
    with pytest.raises(InvalidArgument):
        make_pool("not-a-subnet", None, None, [])


def test_leases_are_exclusive_round_robin_and_released_by_owner(tmp_path):
    pool = IPAMPool("10.9.0.0/29", "10.9.0.1")  # hosts .2 .. .6
    leases = Leases(str(tmp_path / "ipam"))
    got = [leases.acquire(pool, f"c{i}") for i in range(5)]
    assert got == ["10.9.0.2", "10.9.0.3", "10.9.0.4", "10.9.0.5", "10.9.0.6"]
    with pytest.raises(Conflict):
        leases.acquire(pool, "c9")
    leases.release("10.9.0.3", "someone-else")  # a stale release frees nothing
    assert leases.owner("10.9.0.3") == "c1"
    leases.release("10.9.0.3", "c1")
    assert leases.acquire(pool, "c10") == "10.9.0.3"
    with pytest.raises(Conflict):
        leases.acquire(pool, "c11", "10.9.0.4")
    with pytest.raises(InvalidArgument):
        leases.acquire(pool, "c11", "10.9.0.1")  # the gateway
    assert set(leases.all()) == set(got)


def test_port_claims_refuse_taken_ports(tmp_path):
    claims = PortClaims(str(tmp_path / "ports"))
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        assert not claims.claim("tcp", port, "", "c1")  # a host process listens there
    assert claims.claim("tcp", port, "", "c1")
    assert not claims.claim("tcp", port, "", "c2")
    free = claims.claim_any("tcp", "", "c2", port + 1, port + 50)
    assert port < free <= port + 50 and claims.holder("tcp", free) == ("c2", "0.0.0.0")
    claims.release("tcp", port, "c2")
    assert claims.holder("tcp", port)[0] == "c1"
    claims.release("tcp", port, "c1")
    assert claims.holder("tcp", port) is None


def test_store_round_trip_and_inspect_shape(tmp_path):
    store = NetworkStore(str(tmp_path))
    net = Network("ab" * 32, "front", "bridge", "2026-01-02T03:04:05.000000000Z", (IPAMPool("10.9.0.0/24", "10.9.0.1"),), labels={"a": "b"})
    store.save(net)
    assert store.networks() == [net] and store.get(net.id) == net
    ep = Endpoint(net.id, "cd" * 32, "web", "ef" * 32, "10.9.0.2", 24, "10.9.0.1", mac_for("10.9.0.2"), ("www",), (PortBinding(80, "tcp", "", 8080),), "lmv0", Sandbox("/proc/1/ns/net", 5))
    store.save_endpoint(ep)
    assert store.endpoints(net.id) == [ep] and store.endpoint(net.id, "cd" * 32) == ep
    doc = to_inspect(net, [ep])
    assert doc["Containers"]["cd" * 32] == {"Name": "web", "EndpointID": "ef" * 32, "MacAddress": "02:42:0a:09:00:02", "IPv4Address": "10.9.0.2/24", "IPv6Address": ""}
    assert doc["IPAM"]["Config"] == [{"Subnet": "10.9.0.0/24", "Gateway": "10.9.0.1"}]
    assert (doc["Scope"], doc["Driver"], doc["Labels"]) == ("local", "bridge", {"a": "b"})
    assert ep.settings(net)["DNSNames"] == ["web", "cdcdcdcdcdcd", "www"]
    store.delete(net.id)
    assert store.networks() == [] and store.endpoints(net.id) == []


def test_hosts_and_resolv_conf(tmp_path):
    host = tmp_path / "resolv.conf"
    host.write_text("nameserver 127.0.0.53\nnameserver 10.1.1.1\nsearch corp.example\noptions edns0\n")
    embedded = resolv_conf(True, host_path=str(host))
    assert embedded.startswith("nameserver 127.0.0.11\nsearch corp.example\noptions ndots:0 edns0\n")
    assert "ExtServers: [host(127.0.0.53) host(10.1.1.1)]" in embedded
    plain = resolv_conf(False, host_path=str(host))
    assert plain == "nameserver 10.1.1.1\nsearch corp.example\noptions edns0\n"  # no loopback resolver
    assert resolv_conf(False, dns=["1.1.1.1"], search=["a.b"], host_path=str(host)).startswith("nameserver 1.1.1.1\nsearch a.b\n")
    assert parse_add_host("gw:host-gateway", "172.30.0.1") == ("gw", "172.30.0.1")
    assert parse_add_host("db=10.0.0.5", "") == ("db", "10.0.0.5")
    with pytest.raises(InvalidArgument):
        parse_add_host("nocolon", "")
    text = hosts_file("abc123", "172.30.0.2", [("db", "10.0.0.5")])
    assert text.startswith("127.0.0.1\tlocalhost\n") and text.endswith("10.0.0.5\tdb\n172.30.0.2\tabc123\n")


def test_firewall_rules_are_tagged_and_found():
    tag = firewall.ctr_tag(firewall.scope_of("/var/lib/lamina"), "ab" * 32)
    rules = firewall.port_rules(tag, [("tcp", "", 8080, "10.9.0.2", 80), ("udp", "127.0.0.1", 5353, "10.9.0.2", 53)])
    assert rules["nat"][0] == f'-A LAMINA -p tcp -m tcp --dport 8080 -m comment --comment "{tag}" -j DNAT --to-destination 10.9.0.2:80'
    assert "-d 127.0.0.1/32" in rules["nat"][1]
    current = {"nat": [":LAMINA - [0:0]", *rules["nat"], "-A POSTROUTING -j OTHER"], "filter": []}
    assert firewall.tagged(current) == {tag: {"nat": rules["nat"]}}
    assert firewall.deletions({"nat": rules["nat"][:1]})["nat"][0].startswith("-D LAMINA -p tcp")
    missing = firewall.base_lines(current)
    assert ":LAMINA - [0:0]" not in missing["nat"] and ":LAMINA-POSTROUTING - [0:0]" in missing["nat"]
    assert "-I FORWARD 1 -j LAMINA-FORWARD" in missing["filter"]


def test_container_fields_as_docker_keeps_them():
    from types import SimpleNamespace

    from lamina.network.containers import (
        _requests,
        endpoint_config,
        exposed_ports,
        port_bindings,
        port_lines,
        ports_cell,
    )

    pb = port_bindings(["8080:80", "127.0.0.1::53/udp", "9000-9010:443", "81"])
    assert pb == {
        "80/tcp": [{"HostIp": "", "HostPort": "8080"}],
        "53/udp": [{"HostIp": "127.0.0.1", "HostPort": ""}],
        "443/tcp": [{"HostIp": "", "HostPort": "9000-9010"}],
        "81/tcp": [{"HostIp": "", "HostPort": ""}],
    }
    assert exposed_ports(["7000/udp"], pb, {"22/tcp": {}}) == {"22/tcp": {}, "7000/udp": {}, "80/tcp": {}, "53/udp": {}, "443/tcp": {}, "81/tcp": {}}
    c = SimpleNamespace(host_config={"PortBindings": pb, "PublishAllPorts": True}, config={"ExposedPorts": {"22/tcp": {}, "80/tcp": {}}})
    reqs = {(r.container_port, r.proto): (r.host_ip, r.host_start, r.host_end) for r in _requests(c)}
    assert reqs == {(80, "tcp"): ("", 8080, 8080), (53, "udp"): ("127.0.0.1", 0, 0), (443, "tcp"): ("", 9000, 9010), (81, "tcp"): ("", 0, 0), (22, "tcp"): ("", 0, 0)}
    settings = {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}]}}
    assert ports_cell(settings, {"80/tcp": {}, "22/tcp": {}}) == "22/tcp, 127.0.0.1:5353->53/udp, 0.0.0.0:8080->80/tcp"
    assert port_lines(settings) == ["53/udp -> 127.0.0.1:5353", "80/tcp -> 0.0.0.0:8080"]
    assert port_lines(settings, "80") == ["0.0.0.0:8080"]
    assert endpoint_config(["db"], "10.9.0.9", "02:42:AA:00:00:01") == {
        "IPAMConfig": {"IPv4Address": "10.9.0.9"}, "Links": None, "Aliases": ["db"], "MacAddress": "02:42:aa:00:00:01"
    }
    with pytest.raises(InvalidArgument):
        endpoint_config([], "10.9.0.300")
    with pytest.raises(InvalidArgument):
        endpoint_config([], "", "02:42:zz:00:00:01")
