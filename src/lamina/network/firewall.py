"""lamina's iptables rules: its own chains, every rule tagged with its owner.

Chains (created on first use, jumped to from the built-in ones):

* nat ``LAMINA``             DNAT of published ports (from PREROUTING and OUTPUT, for local
                             destinations: the host's addresses and loopback)
* nat ``LAMINA-POSTROUTING`` MASQUERADE: a network's traffic to the outside; loopback and
                             hairpin traffic to a published port (so replies come back)
* filter ``LAMINA-FORWARD``  what may cross a bridge (first in FORWARD, so a dockerd's
                             ``FORWARD DROP`` policy does not cut lamina's containers off)

Each rule carries a comment ``lamina:<scope>:net:<network-id>`` or
``lamina:<scope>:ctr:<container-id>``, the scope naming the data root (several may share a
host: tests, a second engine); teardown, ``network prune``, ``system check --repair`` and reconciliation after a kill -9 find
a dead owner's rules by it. Changes go through one ``iptables-restore --noflush`` each (about
4 ms here, where one ``iptables`` exec costs as much and a CNI portmap ~70 ms).
"""

from __future__ import annotations

import re
import subprocess

from ..errors import RuntimeFailure

NAT_CHAIN = "LAMINA"
POST_CHAIN = "LAMINA-POSTROUTING"
FWD_CHAIN = "LAMINA-FORWARD"

_JUMPS = {
    "nat": [
        ("PREROUTING", f"-m addrtype --dst-type LOCAL -j {NAT_CHAIN}"),
        ("OUTPUT", f"-m addrtype --dst-type LOCAL -j {NAT_CHAIN}"),
        ("POSTROUTING", f"-j {POST_CHAIN}"),
    ],
    "filter": [("FORWARD", f"-j {FWD_CHAIN}")],
}
_CHAINS = {"nat": [NAT_CHAIN, POST_CHAIN], "filter": [FWD_CHAIN]}
_COMMENT = re.compile(r'--comment "?(lamina:[0-9a-f]+:(?:net|ctr):[0-9a-f]+)"?')


def scope_of(data_root: str) -> str:
    """Eight hex digits naming a data root in tags and link names."""
    import hashlib
    import os

    return hashlib.sha256(os.path.realpath(data_root).encode()).hexdigest()[:8]


def net_tag(scope: str, network_id: str) -> str:
    return f"lamina:{scope}:net:{network_id}"


def ctr_tag(scope: str, container_id: str) -> str:
    return f"lamina:{scope}:ctr:{container_id}"


def split_tag(tag: str) -> tuple[str, str, str]:
    """``lamina:<scope>:<kind>:<id>`` into (scope, kind, id)."""
    _, scope, kind, ident = tag.split(":")
    return scope, kind, ident


def _run(argv: list[str], data: str | None = None) -> str:
    try:
        done = subprocess.run(argv, input=data, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise RuntimeFailure(f"{argv[0]} is not installed (apt-get install iptables)") from None
    if done.returncode != 0:
        raise RuntimeFailure(f"{argv[0]} failed: {done.stderr.strip() or done.returncode}")
    return done.stdout


def save() -> dict[str, list[str]]:
    """The nat and filter tables as ``iptables-save`` prints them, rule lines per table."""
    out: dict[str, list[str]] = {"nat": [], "filter": []}
    table = None
    for line in _run(["iptables-save"]).splitlines():  # one exec for both tables
        if line.startswith("*"):
            table = line[1:]
        elif table in out and (line.startswith("-A ") or line.startswith(":")):
            out[table].append(line)
    return out


def restore(tables: dict[str, list[str]]) -> None:
    """Apply rule lines (``-A``/``-I``/``-D``/``:CHAIN``) table by table, in one exec."""
    body = []
    for table, lines in tables.items():
        if lines:
            body += [f"*{table}", *lines, "COMMIT"]
    if body:
        _run(["iptables-restore", "-w", "5", "--noflush"], "\n".join(body) + "\n")


def base_lines(current: dict[str, list[str]]) -> dict[str, list[str]]:
    """What is missing of lamina's chains and the jumps to them."""
    out: dict[str, list[str]] = {"nat": [], "filter": []}
    for table, chains in _CHAINS.items():
        declared = {line.split()[0][1:] for line in current[table] if line.startswith(":")}
        out[table] += [f":{c} - [0:0]" for c in chains if c not in declared]
    for table, jumps in _JUMPS.items():
        for chain, rule in jumps:
            if f"-A {chain} {rule}" not in current[table]:
                out[table].append(f"-I {chain} 1 {rule}" if chain == "FORWARD" else f"-A {chain} {rule}")
    return out


def tagged(current: dict[str, list[str]]) -> dict[str, dict[str, list[str]]]:
    """tag -> table -> its ``-A`` lines."""
    out: dict[str, dict[str, list[str]]] = {}
    for table, lines in current.items():
        for line in lines:
            m = _COMMENT.search(line)
            if m and line.startswith("-A "):
                out.setdefault(m.group(1), {}).setdefault(table, []).append(line)
    return out


def deletions(rules: dict[str, list[str]]) -> dict[str, list[str]]:
    return {table: ["-D " + line[3:] for line in lines] for table, lines in rules.items()}


def remove_tags(tags: set[str], current: dict[str, list[str]] | None = None) -> int:
    """Delete every rule tagged with one of ``tags``; returns how many."""
    if not tags:
        return 0
    found = tagged(current if current is not None else save())
    merged: dict[str, list[str]] = {"nat": [], "filter": []}
    for tag in tags:
        for table, lines in found.get(tag, {}).items():
            merged[table] += lines
    restore(deletions(merged))
    return sum(len(v) for v in merged.values())


def remove_base_if_unused() -> bool:
    """Take lamina's chains and jumps away once no data root has a rule left in them."""
    current = save()
    if tagged(current):
        return False
    out: dict[str, list[str]] = {"nat": [], "filter": []}
    for table, jumps in _JUMPS.items():
        for chain, rule in jumps:
            if f"-A {chain} {rule}" in current[table]:
                out[table].append(f"-D {chain} {rule}")
    for table, chains in _CHAINS.items():
        declared = {line.split()[0][1:] for line in current[table] if line.startswith(":")}
        for chain in chains:
            if chain in declared:
                out[table] += [f"-F {chain}", f"-X {chain}"]
    restore(out)
    return True


def network_rules(tag: str, bridge: str, subnet: str, internal: bool) -> dict[str, list[str]]:
    c = f'-m comment --comment "{tag}"'
    if internal:  # no way out and no way in but between the bridge's own ports
        return {
            "filter": [
                f"-A {FWD_CHAIN} -i {bridge} -o {bridge} {c} -j ACCEPT",
                f"-A {FWD_CHAIN} -i {bridge} ! -o {bridge} {c} -j DROP",
                f"-A {FWD_CHAIN} ! -i {bridge} -o {bridge} {c} -j DROP",
            ],
            "nat": [],
        }
    return {
        "nat": [
            f"-A {POST_CHAIN} -s {subnet} ! -o {bridge} {c} -j MASQUERADE",
            # loopback (route_localnet) and hairpin clients of a published port: replies must
            # come back through the host to be un-NATed
            f"-A {POST_CHAIN} -o {bridge} -m addrtype --src-type LOCAL {c} -j MASQUERADE",
            f"-A {POST_CHAIN} -s {subnet} -o {bridge} -m conntrack --ctstate DNAT {c} -j MASQUERADE",
        ],
        "filter": [
            f"-A {FWD_CHAIN} -o {bridge} -m conntrack --ctstate RELATED,ESTABLISHED {c} -j ACCEPT",
            f"-A {FWD_CHAIN} -o {bridge} -m conntrack --ctstate DNAT {c} -j ACCEPT",
            f"-A {FWD_CHAIN} -i {bridge} {c} -j ACCEPT",
        ],
    }


def port_rules(tag: str, bindings: list[tuple[str, str, int, str, int]]) -> dict[str, list[str]]:
    """DNAT for (proto, host_ip, host_port, container_ip, container_port) bindings."""
    c = f'-m comment --comment "{tag}"'
    lines = []
    for proto, host_ip, host_port, ip, port in bindings:
        dst = f"-d {host_ip}/32 " if host_ip and host_ip != "0.0.0.0" else ""
        lines.append(f"-A {NAT_CHAIN} {dst}-p {proto} -m {proto} --dport {host_port} {c} -j DNAT --to-destination {ip}:{port}")
    return {"nat": lines}


def merge(*parts: dict[str, list[str]]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for part in parts:
        for table, lines in part.items():
            out.setdefault(table, []).extend(lines)
    return out
