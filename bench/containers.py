"""Issue 9's benchmark: containers, lamina vs docker (and the bare runtime), in one run.

* ``run --rm --network none busybox true``: lamina, docker, and ``runc run`` on a prepared bundle
  (the floor any engine stands on); lamina's overhead over the bare runtime is printed too
* ``ps -a`` with 100 containers in each store
* memory per idle detached container: lamina's monitor, docker's containerd-shim, and conmon
  (podman's monitor, Debian's package) holding the same runc container, plus conmon's start
  latency against lamina's monitor

lamina runs as install.sh installs it (the ``-S`` launcher of ``lamina.cli.launcher``). Runs
alternate; medians and the ratio (lamina / peer; below 1 means lamina is faster) are printed.

    python3 bench/containers.py [--runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from _common import compare, ensure_bytecode, run, timed  # noqa: E402

from lamina.cli import launcher  # noqa: E402
from lamina.testing.dockerd import Dockerd  # noqa: E402
from lamina.testing.rootfs import write_busybox_rootfs  # noqa: E402


def rss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def pss_kb(pid: int) -> int:
    """Proportional set size: a page shared by n processes counts 1/n (a forked monitor's
    pages shared with its parent, the shims' Go binary shared among shims)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def anon_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            for line in f:
                if line.startswith("Anonymous:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def memory(pids: list[int]) -> tuple[int, int, int]:
    """Medians of (RSS, PSS, anonymous) in KiB over ``pids``."""
    if not pids:
        return 0, 0, 0
    return (int(statistics.median([rss_kb(p) for p in pids])), int(statistics.median([pss_kb(p) for p in pids])),
            int(statistics.median([anon_kb(p) for p in pids])))


def pids_named(comm: str) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        try:
            with open(f"/proc/{name}/comm") as f:
                if name.isdigit() and f.read().strip() == comm:
                    out.append(int(name))
        except OSError:
            continue
    return out


def pids_matching(text: str) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if text in cmdline:
            out.append(int(name))
    return out


def bare_runtime(base: str, rootfs_tar: str, runs: int) -> float:
    """``runc run`` of ``true`` on a prepared bundle, without a network namespace setup beyond runc's."""
    bundle = os.path.join(base, "bundle")
    os.makedirs(os.path.join(bundle, "rootfs"))
    run("tar", "-xf", rootfs_tar, "-C", os.path.join(bundle, "rootfs"))
    run("runc", "spec", "--bundle", bundle)
    spec_path = os.path.join(bundle, "config.json")
    spec = json.load(open(spec_path))
    spec["process"]["args"] = ["true"]
    spec["process"]["terminal"] = False
    json.dump(spec, open(spec_path, "w"))
    state = os.path.join(base, "runc-state")
    times = []
    for i in range(runs):
        times.append(timed(lambda i=i: run("runc", "--root", state, "run", "--bundle", bundle, f"bench-{i}")))
    median = statistics.median(times)
    print(f"{'runc run (bare runtime, prepared bundle)':<40} {median:8.3f}s", flush=True)
    return median


def conmon_measure(base: str, rootfs_tar: str) -> tuple[float, tuple[int, int, int]]:
    """Start latency and idle RSS of conmon holding a runc container (``sleep``)."""
    conmon = shutil.which("conmon") or "/usr/bin/conmon"
    if not os.path.exists(conmon):
        return 0.0, (0, 0, 0)
    bundle = os.path.join(base, "conmon-bundle")
    os.makedirs(os.path.join(bundle, "rootfs"))
    run("tar", "-xf", rootfs_tar, "-C", os.path.join(bundle, "rootfs"))
    run("runc", "spec", "--bundle", bundle)
    spec_path = os.path.join(bundle, "config.json")
    spec = json.load(open(spec_path))
    spec["process"]["args"] = ["sleep", "3600"]
    spec["process"]["terminal"] = False
    json.dump(spec, open(spec_path, "w"))
    state = os.path.join(base, "conmon-runc")
    cid = "bench-conmon"
    start = time.perf_counter()
    proc = subprocess.run([
        conmon, "--api-version", "1", "-c", cid, "-u", cid, "-n", cid, "-r", shutil.which("runc"),
        "--runtime-arg", "--root", "--runtime-arg", state, "-b", bundle, "-p", os.path.join(base, "conmon.pid"),
        "-l", f"k8s-file:{os.path.join(base, 'conmon.log')}", "--exit-dir", base,
        "--socket-dir-path", base, "--conmon-pidfile", os.path.join(base, "conmon-self.pid"),
    ], capture_output=True, timeout=30)
    if proc.returncode != 0:
        print(f"conmon failed: {proc.stderr.decode(errors='replace')[-300:]}")
        return 0.0, (0, 0, 0)
    # conmon's parent returns before its child has run ``runc create``: the container's pid
    # file says it is created
    deadline = time.monotonic() + 30
    while not os.path.exists(os.path.join(base, "conmon.pid")) and time.monotonic() < deadline:
        time.sleep(0.002)
    subprocess.run(["runc", "--root", state, "start", cid], check=True)
    latency = time.perf_counter() - start
    time.sleep(1)
    pid = int(open(os.path.join(base, "conmon-self.pid")).read().strip())
    held = memory([pid])
    subprocess.run(["runc", "--root", state, "kill", cid, "KILL"], capture_output=True)
    time.sleep(0.5)
    subprocess.run(["runc", "--root", state, "delete", "--force", cid], capture_output=True)
    return latency, held


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--idle", type=int, default=5, help="idle containers for the memory figure")
    opts = parser.parse_args()
    ensure_bytecode()
    base = tempfile.mkdtemp(prefix="lamina-bench-ctr-", dir="/var/tmp")
    daemon = Dockerd(os.path.join(base, "docker"))
    lroot = os.path.join(base, "lamina")
    try:
        rootfs = os.path.join(base, "busybox.tar")
        with open(rootfs, "wb") as f:
            write_busybox_rootfs(f)
        daemon.start()
        env = daemon.env()
        lamina = [launcher.write(os.path.join(base, "lamina-cmd")), "--data-root", lroot]
        run(*lamina, "import", "-c", 'CMD ["/bin/sh"]', rootfs, "busybox")
        run("docker", "import", "-c", 'CMD ["/bin/sh"]', rootfs, "busybox", env=env)
        # warm both (first runs pay for page cache and, in docker, for the network sandbox code)
        run(*lamina, "run", "--rm", "--network", "none", "busybox", "true")
        run("docker", "run", "--rm", "--network", "none", "busybox", "true", env=env)

        bare = bare_runtime(base, rootfs, opts.runs)
        ours, _ = compare(
            "run --rm --network none busybox true", opts.runs,
            lambda: run(*lamina, "run", "--rm", "--network", "none", "busybox", "true"),
            lambda: run("docker", "run", "--rm", "--network", "none", "busybox", "true", env=env), "docker",
        )
        print(f"{'lamina overhead over the bare runtime':<40} {ours - bare:8.3f}s", flush=True)
        print(f"{'  (load)':<40} {open('/proc/loadavg').read().strip()}", flush=True)

        for i in range(100):
            run(*lamina, "create", "--name", f"c{i}", "busybox", "true")
            run("docker", "create", "--network", "none", "--name", f"c{i}", "busybox", "true", env=env)
        compare("ps -a (100 containers)", opts.runs,
                lambda: run(*lamina, "ps", "-a"), lambda: run("docker", "ps", "-a", env=env), "docker")
        run(*lamina, "container", "prune", "-f")
        run("docker", "container", "prune", "-f", env=env)

        start_times = []
        for i in range(opts.idle):
            start_times.append(timed(lambda i=i: run(*lamina, "run", "-d", "--name", f"idle{i}", "busybox", "sleep", "3600")))
            run("docker", "run", "-d", "--network", "none", "--name", f"idle{i}", "busybox", "sleep", "3600", env=env)
        # idle: past lamina's IDLE_AFTER (the monitor has taken its idle form, runtime.waiter),
        # and the same steady state for containerd-shim
        time.sleep(3)
        monitors = pids_named("lamina-monitor")  # forked from the CLI or started as python3 -S
        shims = pids_matching("containerd-shim-runc-v2")
        ours, shim = memory(monitors), memory(shims)
        conmon_latency, conmon = conmon_measure(base, rootfs)
        for index, what in enumerate(("RSS", "PSS", "anonymous")):
            print(f"{'idle container monitor ' + what + ' (median)':<40} lamina {ours[index] / 1024:6.1f} MiB   "
                  f"containerd-shim {shim[index] / 1024:6.1f} MiB   conmon {conmon[index] / 1024:6.1f} MiB", flush=True)
        print(f"{'  (load)':<40} {open('/proc/loadavg').read().strip()}", flush=True)
        print(f"{'run -d sleep (lamina) / conmon+runc start':<40} lamina {statistics.median(start_times):8.3f}s   conmon {conmon_latency:8.3f}s", flush=True)
        run(*lamina, "rm", "-f", *[f"idle{i}" for i in range(opts.idle)])
        run("docker", "rm", "-f", *[f"idle{i}" for i in range(opts.idle)], env=env)
    finally:
        # a run that failed half-way must not leave idle containers behind
        subprocess.run([launcher.write(os.path.join(base, "lamina-cmd")), "--data-root", lroot, "rm", "-f",
                        *[f"idle{i}" for i in range(opts.idle)]], capture_output=True)
        daemon.stop()
        subprocess.run(["umount", "-R", "-l", lroot], capture_output=True)
        from lamina.mount import mounts_under, unmount

        for point in mounts_under(base):
            unmount(point, detach=True)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
