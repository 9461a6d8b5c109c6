"""``lamina network …`` as a user types it: docker's columns, inspect fields, errors and codes."""

from __future__ import annotations

import json

from lamina import Engine


def test_network_commands_like_docker(lamina):
    ls = lamina.run("network", "ls").out.splitlines()
    assert ls[0].split() == ["NETWORK", "ID", "NAME", "DRIVER", "SCOPE"]
    assert [line.split()[1:] for line in ls[1:]] == [["bridge", "bridge", "local"], ["host", "host", "local"], ["none", "null", "local"]]

    net_id = lamina.run("network", "create", "--subnet", "10.251.90.0/24", "--gateway", "10.251.90.254", "--label", "tier=front",
                        "-o", "com.docker.network.bridge.name=lt-front", "front").out.strip()
    assert len(net_id) == 64
    auto_id = lamina.run("network", "create", "--internal", "back").out.strip()
    [doc] = json.loads(lamina.run("network", "inspect", "front").out)
    assert doc["Id"] == net_id and doc["Name"] == "front" and doc["Driver"] == "bridge" and doc["Scope"] == "local"
    assert doc["IPAM"]["Config"] == [{"Subnet": "10.251.90.0/24", "Gateway": "10.251.90.254"}]
    assert doc["Labels"] == {"tier": "front"} and doc["Options"] == {"com.docker.network.bridge.name": "lt-front"}
    assert doc["Containers"] == {} and doc["Internal"] is False
    assert lamina.run("network", "inspect", "-f", "{{.Internal}} {{.Driver}}", auto_id[:12]).out == "true bridge\n"

    dup = lamina.run("network", "create", "front", check=False)
    assert dup.returncode == 1 and dup.err.strip() == "Error: network with name front already exists"
    bad = lamina.run("network", "create", "--subnet", "10.251.90.0/33", "x", check=False)
    assert bad.returncode == 125 and bad.err.startswith("Error: invalid subnet")
    overlap = lamina.run("network", "create", "--subnet", "10.251.90.128/25", "y", check=False)
    assert overlap.returncode == 1 and "overlaps" in overlap.err
    missing = lamina.run("network", "inspect", "nope", check=False)
    assert missing.returncode == 1 and missing.out.strip() == "[]" and missing.err.strip() == "Error: No such network: nope"
    builtin = lamina.run("network", "rm", "bridge", check=False)
    assert builtin.returncode == 1 and "pre-defined network" in builtin.err
    assert lamina.run("network", "rm", "-f", "nope").returncode == 0

    assert lamina.run("network", "ls", "-q", "--filter", "label=tier=front").out.split() == [net_id[:12]]
    assert lamina.run("network", "ls", "--format", "{{.Name}}", "--filter", "type=custom").out.split() == ["back", "front"]
    assert lamina.run("network", "ls", "--format", "{{.Name}}", "--filter", "driver=null").out.split() == ["none"]
    assert lamina.run("network", "rm", "back").out == "back\n"
    pruned = lamina.run("network", "prune", "-f", "--filter", "label=tier=front").out
    assert pruned == "Deleted Networks:\nfront\n"
    assert lamina.run("network", "ls", "-q").out.count("\n") == 3
    # the records survive a new process, as networks survive a reboot
    assert sorted(n.name for n in Engine(lamina.root).networks.list()) == ["bridge", "host", "none"]
