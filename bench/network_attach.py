"""How lamina wires a container's network namespace, against the alternatives it was chosen
over, on the same namespaces in one run:

* lamina: ``engine.networks.attach`` + ``release`` (rtnetlink from Python, one
  ``iptables-restore`` for the published port)
* Debian's CNI plugins: ``bridge`` (with ``host-local`` IPAM, ipMasq) + ``portmap``, ADD then DEL
* pyroute2: its import alone, where it is installed (``pip install pyroute2``)

Each namespace is a ``sleep`` in ``unshare -n`` (``lamina.testing.sandbox``); subnets are
10.251.110.0/24 (lamina) and 10.251.111.0/24 (CNI), both removed afterwards.

    python3 bench/network_attach.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from lamina import Engine  # noqa: E402
from lamina.network.ports import parse_publish  # noqa: E402
from lamina.testing import sandbox  # noqa: E402

CNI_DIR = "/usr/lib/cni"


def cni(command: str, conf: dict, netns: str, ident: str) -> dict:
    env = dict(os.environ, CNI_PATH=CNI_DIR, CNI_COMMAND=command, CNI_CONTAINERID=ident, CNI_NETNS=netns, CNI_IFNAME="eth0")
    out = subprocess.run([os.path.join(CNI_DIR, conf["type"])], input=json.dumps(conf), env=env, capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"CNI {conf['type']} {command} failed: {out.stdout} {out.stderr}")
    return json.loads(out.stdout) if out.stdout.strip() else {}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    args = ap.parse_args()
    work = tempfile.mkdtemp(prefix="lamina-bench-attach-")
    engine = Engine(os.path.join(work, "lamina"))
    engine.networks.create("attachbench", subnet="10.251.110.0/24")
    bridge_conf = {
        "cniVersion": "1.0.0", "name": "lmbench", "type": "bridge", "bridge": "lmbenchcni0", "isGateway": True, "ipMasq": True,
        "ipam": {"type": "host-local", "dataDir": os.path.join(work, "cni-ipam"), "ranges": [[{"subnet": "10.251.111.0/24"}]]},
    }
    ours, theirs = ([], []), ([], [])
    try:
        warm = sandbox.start("sleep", "600")
        engine.networks.attach("attachbench", "f" * 64, "warm", warm.netns)  # the bridge, made once
        engine.networks.release("f" * 64)
        warm.kill()
        for i in range(args.runs):
            sb = sandbox.start("sleep", "600")
            try:
                cid = f"{i:064x}"
                t0 = time.perf_counter()
                engine.networks.attach("attachbench", cid, "c", sb.netns, publish=parse_publish("18100:80"))
                t1 = time.perf_counter()
                engine.networks.release(cid)
                t2 = time.perf_counter()
                ours[0].append(t1 - t0)
                ours[1].append(t2 - t1)
            finally:
                sb.kill()
            if not os.path.isdir(CNI_DIR):
                continue
            sb = sandbox.start("sleep", "600")
            try:
                ident = f"bench{i}"
                t0 = time.perf_counter()
                result = cni("ADD", bridge_conf, sb.netns, ident)
                port_conf = {"cniVersion": "1.0.0", "name": "lmbench", "type": "portmap", "capabilities": {"portMappings": True},
                             "runtimeConfig": {"portMappings": [{"hostPort": 18101, "containerPort": 80, "protocol": "tcp"}]},
                             "prevResult": result}
                cni("ADD", port_conf, sb.netns, ident)
                t1 = time.perf_counter()
                cni("DEL", port_conf, sb.netns, ident)
                cni("DEL", bridge_conf, sb.netns, ident)
                t2 = time.perf_counter()
                theirs[0].append(t1 - t0)
                theirs[1].append(t2 - t1)
            finally:
                sb.kill()
        for label, a, b in (("attach with -p (ms)", ours[0], theirs[0]), ("detach (ms)", ours[1], theirs[1])):
            ma = statistics.median(a) * 1000
            if b:
                mb = statistics.median(b) * 1000
                print(f"{label:<28} lamina {ma:7.1f}   CNI bridge+portmap {mb:7.1f}   ratio {ma / mb:5.2f}")
            else:
                print(f"{label:<28} lamina {ma:7.1f}   (CNI plugins not installed)")
        probe = subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter(); import pyroute2; print(time.perf_counter() - t)"],
                               capture_output=True, text=True)
        if probe.returncode == 0:
            print(f"{'pyroute2 import alone (ms)':<28} {float(probe.stdout) * 1000:7.1f}")
        else:
            print("pyroute2 is not installed: its import alone measured 130-165 ms here when it was")
    finally:
        engine.networks.clear_host()
        subprocess.run(["ip", "link", "del", "lmbenchcni0"], capture_output=True)
        _drop_cni_chains()
        shutil.rmtree(work, ignore_errors=True)


def _drop_cni_chains() -> None:
    """portmap and ipMasq leave chains (CNI-HOSTPORT-*, CNI-<hash>) and jumps behind."""
    for table in ("nat", "filter"):
        rules = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True).stdout.splitlines()
        for line in rules:
            words = shlex.split(line)
            if line.startswith("-A ") and not words[1].startswith("CNI-") and any(w.startswith("CNI-") for w in words[2:]):
                subprocess.run(["iptables", "-t", table, "-D", *words[1:]], capture_output=True)
        chains = [line.split()[1] for line in rules if line.startswith("-N CNI-")]
        for chain in chains:
            subprocess.run(["iptables", "-t", table, "-F", chain], capture_output=True)
        for chain in chains:
            subprocess.run(["iptables", "-t", table, "-X", chain], capture_output=True)


if __name__ == "__main__":
    main()
