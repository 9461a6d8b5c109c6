"""Issue 11's benchmark: how long each everyday command takes, lamina vs docker's CLI.

Both run as a user runs them: ``lamina`` is whatever a fresh login shell finds on PATH
(``bash -lc 'command -v lamina'``: after ./install.sh, the launcher in /usr/local/bin), and
``docker`` likewise, talking to a private dockerd (``lamina.testing.dockerd``) that holds the
same busybox image lamina holds. ``login``/``logout`` go to one CNCF registry on loopback.
Runs alternate (lamina, docker, docker, lamina, …); the medians and their ratio (lamina /
docker; the issue asks for at most 2) are printed per command. Commands lamina does not have
yet (``ps``, ``volume ls``, …) are listed as skipped.

    python3 bench/cli_latency.py [--runs N] [--lamina PATH] [--docker PATH]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from lamina.testing.dockerd import Dockerd  # noqa: E402
from lamina.testing.registries import RegistryProcess, cncf_binary  # noqa: E402
from lamina.testing.rootfs import write_busybox_rootfs  # noqa: E402

#: (label, lamina argv, docker argv, what to redo before each run, untimed)
#: ``{reg}`` is the registry's host:port
COMMANDS = [
    ("images", ["images"], ["images"], None),
    ("inspect", ["inspect", "busybox"], ["image", "inspect", "busybox"], None),
    ("history", ["history", "busybox"], ["history", "busybox"], None),
    ("tag", ["tag", "busybox", "bench:1"], ["tag", "busybox", "bench:1"], None),
    ("rmi", ["rmi", "bench:2"], ["rmi", "bench:2"], ["tag", "busybox", "bench:2"]),
    ("version", ["version"], ["version"], None),
    ("info", ["info"], ["info"], None),
    ("system df", ["system", "df"], ["system", "df"], None),
    ("login", ["login", "-u", "bench", "--password-stdin", "{reg}"], ["login", "-u", "bench", "--password-stdin", "{reg}"], None),
    ("logout", ["logout", "{reg}"], ["logout", "{reg}"], ["login", "-u", "bench", "--password-stdin", "{reg}"]),
    # arriving with the containers, volumes and networks work: measured once lamina has them
    ("ps", ["ps", "-a"], ["ps", "-a"], None),
    ("volume ls", ["volume", "ls"], ["volume", "ls"], None),
    ("network ls", ["network", "ls"], ["network", "ls"], None),
]


def login_shell_finds(name: str) -> str | None:
    proc = subprocess.run(["bash", "-lc", f"command -v {name}"], capture_output=True, text=True)
    found = proc.stdout.strip().split("\n")[-1] if proc.returncode == 0 else ""
    return found or None


def timed(argv: list[str], env: dict, stdin: bytes | None) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, input=stdin, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace').strip()}")
    return elapsed


def has_command(lamina: str, env: dict, words: list[str]) -> bool:
    """Does this lamina have the command (its ``--help`` exits 0)?"""
    proc = subprocess.run([lamina, *words, "--help"], env=env, capture_output=True)
    return proc.returncode == 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--lamina", default=None, help="the lamina to time (default: what a login shell finds)")
    parser.add_argument("--docker", default=None, help="the docker CLI to time (default: what a login shell finds)")
    args = parser.parse_args()

    lamina = args.lamina or login_shell_finds("lamina")
    docker = args.docker or login_shell_finds("docker")
    if lamina is None or docker is None:
        sys.exit("lamina or docker is not on a login shell's PATH (run ./install.sh)")
    if cncf_binary() is None:
        sys.exit("the CNCF registry is not installed (./install.sh installs docker-registry)")
    with open(lamina, "rb") as f:
        kind = "launcher (python -S)" if b"lamina launcher" in f.read(300) else "console script"
    print(f"lamina: {lamina} [{kind}]")
    print(f"docker: {docker} [{subprocess.run([docker, '--version'], capture_output=True, text=True).stdout.strip()}]")

    base = tempfile.mkdtemp(prefix="lamina-bench-cli-")
    dockerd = Dockerd(os.path.join(base, "dockerd"))
    registry = RegistryProcess(os.path.join(base, "registry"), kind="cncf")
    try:
        dockerd.start()
        registry.start()
        lamina_env = dict(os.environ, LAMINA_DATA_ROOT=os.path.join(base, "lamina"),
                          LAMINA_CONFIG=os.path.join(base, "lamina-config"))
        lamina_env.pop("PYTHONPATH", None)
        docker_env = dockerd.env()
        rootfs = os.path.join(base, "busybox.tar")
        with open(rootfs, "wb") as f:
            write_busybox_rootfs(f)
        timed([lamina, "import", rootfs, "busybox:latest"], lamina_env, None)
        timed([docker, "import", rootfs, "busybox:latest"], docker_env, None)

        print(f"\n{'command':<12} {'lamina':>10} {'docker':>10} {'ratio':>7}   (medians of {args.runs}, ms)")
        worst = 0.0
        for label, ours, theirs, before in COMMANDS:
            if not has_command(lamina, lamina_env, ours[:2] if ours[0] in ("volume", "network", "system") else ours[:1]):
                print(f"{label:<12} {'-':>10} {'-':>10} {'-':>7}   lamina has no '{label}' yet")
                continue
            fill = lambda argv: [w.replace("{reg}", registry.host) for w in argv]  # noqa: E731
            stdin = b"secret\n" if "login" in (ours[0], (before or [""])[0]) else None
            times: dict[str, list[float]] = {"lamina": [], "docker": []}
            runners = {"lamina": (lamina, lamina_env, ours), "docker": (docker, docker_env, theirs)}
            for i in range(args.runs):
                for who in (("lamina", "docker") if i % 2 == 0 else ("docker", "lamina")):
                    binary, env, argv = runners[who]
                    if before:
                        timed([binary, *fill(before)], env, stdin)
                    times[who].append(timed([binary, *fill(argv)], env, stdin if argv[0] == "login" else None))
            a, b = statistics.median(times["lamina"]), statistics.median(times["docker"])
            worst = max(worst, a / b)
            print(f"{label:<12} {a * 1000:10.1f} {b * 1000:10.1f} {a / b:7.2f}", flush=True)
        print(f"\nworst ratio: {worst:.2f} (the issue's target: at most 2.00)")
    finally:
        registry.stop()
        dockerd.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
