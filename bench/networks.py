"""Issue 13's benchmark: networks and published ports, lamina vs docker, in one run.

* ``run --rm -p PORT:80 IMAGE true``: the latency a published port adds to a container's life
  (bridge endpoint, address, DNAT rules, teardown)
* HTTP requests/s through a published port on 127.0.0.1 to busybox httpd in a container (wrk)
* container to container by name on a user network: a client container fetching a page from
  ``http://web/`` N times (embedded DNS + bridge)

docker runs as a private dockerd with its own bridge and iptables (``Dockerd(networking=True)``:
a bridge on 10.251.102.0/24, its chains removed afterwards), its default userland proxy on.
Both engines use the same busybox image. Runs alternate; medians and ratios (lamina / docker:
below 1 means lamina is faster for latency; above 1 means more requests/s) are printed.

    python3 bench/networks.py [--runs N] [--wrk-seconds S] [--wrk-rounds K]
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from _common import compare, ensure_bytecode, run  # noqa: E402

from lamina.cli import launcher  # noqa: E402
from lamina.testing.dockerd import Dockerd  # noqa: E402
from lamina.testing.rootfs import write_busybox_rootfs  # noqa: E402

IMAGE = "bench/busybox:net"
SERVE = "mkdir -p /www && echo 'It works!' > /www/index.html && exec httpd -f -p 80 -h /www"


def wrk(url: str, seconds: int) -> float:
    out = subprocess.run(["wrk", "-t2", "-c32", f"-d{seconds}s", url], capture_output=True, text=True, check=True).stdout
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+)", out)
    if not m or "Non-2xx" in out or errors and any(int(n) for n in errors.groups()):
        sys.exit(f"wrk failed against {url}:\n{out}")
    return float(m.group(1))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--wrk-seconds", type=int, default=5)
    ap.add_argument("--wrk-rounds", type=int, default=5)
    args = ap.parse_args()
    if not shutil.which("wrk"):
        sys.exit("wrk is not installed (apt-get install wrk)")
    ensure_bytecode()
    work = tempfile.mkdtemp(prefix="lamina-bench-net-")
    root = os.path.join(work, "lamina")
    lamina_bin = launcher.write(os.path.join(work, "lamina-cmd"))
    rootfs = os.path.join(work, "busybox.tar")
    with open(rootfs, "wb") as f:
        write_busybox_rootfs(f)

    def lam(*a: str) -> bytes:
        return run(lamina_bin, "--data-root", root, *a)

    docker = Dockerd(os.path.join(work, "docker"), networking=True)
    docker.start()
    try:
        lam("import", rootfs, IMAGE)
        docker.docker("import", rootfs, IMAGE)
        print(f"lamina {lamina_bin}; docker {docker.docker('version', '-f', '{{.Server.Version}}').stdout.decode().strip()}")

        compare(
            "run --rm -p PORT:80 IMAGE true",
            args.runs,
            lambda: lam("run", "--rm", "-p", "18080:80", IMAGE, "true"),
            lambda: docker.docker("run", "--rm", "-p", "18081:80", IMAGE, "true"),
            "docker",
        )

        lam("run", "-d", "--name", "web", "-p", "18090:80", IMAGE, "sh", "-c", SERVE)
        docker.docker("run", "-d", "--name", "web", "-p", "18091:80", IMAGE, "sh", "-c", SERVE)
        for port in (18090, 18091):  # both answer before measuring
            run("sh", "-c", f"for i in $(seq 50); do curl -sf http://127.0.0.1:{port}/ && exit 0; sleep 0.1; done; exit 1")
        # alternating rounds, medians: one wrk run each swings by half on a shared machine
        rounds = [(wrk("http://127.0.0.1:18090/", args.wrk_seconds), wrk("http://127.0.0.1:18091/", args.wrk_seconds))
                  for _ in range(args.wrk_rounds)]
        ours, theirs = statistics.median(r[0] for r in rounds), statistics.median(r[1] for r in rounds)
        print(f"{'HTTP req/s via published port (wrk)':<40} lamina {ours:8.0f}/s  docker {theirs:8.0f}/s  ratio {ours / theirs:5.2f}"
              f"  (medians of {args.wrk_rounds} alternating rounds)")
        lam("rm", "-f", "web")
        docker.docker("rm", "-f", "web")

        lam("network", "create", "--subnet", "10.251.100.0/24", "benchnet")
        docker.docker("network", "create", "--subnet", "10.251.101.0/24", "benchnet")
        lam("run", "-d", "--name", "web", "--network", "benchnet", IMAGE, "sh", "-c", SERVE)
        docker.docker("run", "-d", "--name", "web", "--network", "benchnet", IMAGE, "sh", "-c", SERVE)
        fetch = "for i in $(seq 100); do wget -qO- http://web/ >/dev/null || exit 1; done"
        compare(
            "100 x wget http://web/ (by name)",
            max(3, args.runs // 3),
            lambda: lam("run", "--rm", "--network", "benchnet", IMAGE, "sh", "-c", fetch),
            lambda: docker.docker("run", "--rm", "--network", "benchnet", IMAGE, "sh", "-c", fetch),
            "docker",
        )
    finally:
        subprocess.run([lamina_bin, "--data-root", root, "rm", "-f", "web"], capture_output=True)
        subprocess.run([lamina_bin, "--data-root", root, "network", "rm", "benchnet"], capture_output=True)
        from lamina import Engine

        Engine(root).networks.clear_host()
        docker.docker("rm", "-f", "web", check=False)
        docker.docker("network", "rm", "benchnet", check=False)
        docker.stop()
        subprocess.run(["umount", "-R", "-l", root], capture_output=True)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
