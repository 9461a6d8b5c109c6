"""Issue 11's benchmark: how long each everyday command takes, lamina vs docker's CLI.

Both run as a user runs them: ``lamina`` is whatever a fresh login shell finds on PATH
(``bash -lc 'command -v lamina'``: after ./install.sh, the launcher in /usr/local/bin), and
``docker`` likewise, talking to a private dockerd (``lamina.testing.dockerd``) that holds the
same busybox image lamina holds. ``login``/``logout`` go to one CNCF registry on loopback.
Runs alternate (lamina, docker, docker, lamina, …); the medians and their ratio (lamina /
docker; the issue asks for at most 2) are printed per command. Commands lamina does not have
are listed as skipped.

The container commands work on the same containers in both engines (``--network none``: the
private dockerd has no bridge), made before the timings: ``bench-run`` runs ``sleep``,
``bench-exit`` printed 20 lines and exited, ``bench-term`` (exits at once on SIGTERM) is
restarted and stopped; ``kill``, ``rm`` and ``wait`` each get a fresh container from an untimed
step before every run. The lifecycle commands time the engine's work too (the runtime's
``kill``, a layer's removal), as a user waits for it.

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

#: (label, lamina argv, docker argv, what to redo before each run, untimed: one command line, or
#: a list of them; a step starting with "-" may fail, as ``unpause`` of a container not paused)
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
    ("ps", ["ps"], ["ps"], None),
    ("ps -a", ["ps", "-a"], ["ps", "-a"], None),
    ("volume ls", ["volume", "ls"], ["volume", "ls"], None),
    ("network ls", ["network", "ls"], ["network", "ls"], None),
    ("inspect ctr", ["inspect", "bench-run"], ["inspect", "bench-run"], None),
    ("logs", ["logs", "bench-exit"], ["logs", "bench-exit"], None),
    ("pause", ["pause", "bench-run"], ["pause", "bench-run"], ["-unpause", "bench-run"]),
    ("unpause", ["unpause", "bench-run"], ["unpause", "bench-run"], ["-pause", "bench-run"]),
    ("stop", ["stop", "bench-term"], ["stop", "bench-term"], ["start", "bench-term"]),
    ("restart", ["restart", "bench-term"], ["restart", "bench-term"], None),
    ("kill", ["kill", "bench-kill"], ["kill", "bench-kill"],
     [["-rm", "-f", "bench-kill"], ["run", "-d", "--network", "none", "--name", "bench-kill", "busybox", "sleep", "100000"]]),
    ("wait", ["wait", "bench-wait"], ["wait", "bench-wait"],
     [["-rm", "-f", "bench-wait"], ["run", "-d", "--network", "none", "--name", "bench-wait", "busybox", "true"]]),
    ("rm", ["rm", "bench-rm"], ["rm", "bench-rm"],
     ["create", "--network", "none", "--name", "bench-rm", "busybox", "true"]),
]

#: the containers every engine gets before the timings
CONTAINERS = [
    ["run", "-d", "--network", "none", "--name", "bench-run", "busybox", "sleep", "100000"],
    ["run", "--network", "none", "--name", "bench-exit", "busybox", "sh", "-c", "for i in $(seq 1 20); do echo line $i; done"],
    ["run", "-d", "--network", "none", "--name", "bench-term", "busybox", "sh", "-c", "trap 'exit 0' TERM; sleep 100000 & wait"],
]
#: removed after the timings (docker's go with its daemon)
LEFT = ["bench-run", "bench-exit", "bench-term", "bench-kill", "bench-wait", "bench-rm"]


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


def steps(before) -> list[list[str]]:
    """``before`` as a list of command lines."""
    if not before:
        return []
    return before if isinstance(before[0], list) else [before]


def untimed(binary: str, argv: list[str], env: dict, stdin: bytes | None) -> None:
    """A setup step; one whose first word starts with "-" may fail."""
    may_fail = argv[0].startswith("-")
    words = [binary, argv[0][1:] if may_fail else argv[0], *argv[1:]]
    proc = subprocess.run(words, env=env, input=stdin, capture_output=True)
    if proc.returncode != 0 and not may_fail:
        raise RuntimeError(f"{' '.join(words)} failed ({proc.returncode}): {proc.stderr.decode(errors='replace').strip()}")


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
    lamina_env = None
    dockerd = Dockerd(os.path.join(base, "dockerd"))
    registry = RegistryProcess(os.path.join(base, "registry"), kind="cncf")
    try:
        dockerd.start()
        registry.start()
        lamina_env = dict(os.environ, LAMINA_DATA_ROOT=os.path.join(base, "lamina"),
                          LAMINA_CONFIG=os.path.join(base, "lamina-config"))
        lamina_env.pop("PYTHONPATH", None)
        # as installed (install.sh compiles): with PYTHONDONTWRITEBYTECODE every run would compile
        lamina_env.pop("PYTHONDONTWRITEBYTECODE", None)
        docker_env = dockerd.env()
        rootfs = os.path.join(base, "busybox.tar")
        with open(rootfs, "wb") as f:
            write_busybox_rootfs(f)
        timed([lamina, "import", rootfs, "busybox:latest"], lamina_env, None)
        timed([docker, "import", rootfs, "busybox:latest"], docker_env, None)
        for binary, env in ((lamina, lamina_env), (docker, docker_env)):
            for argv in CONTAINERS:
                untimed(binary, argv, env, None)

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
                    for step in steps(before):
                        untimed(binary, fill(step), env, stdin)
                    times[who].append(timed([binary, *fill(argv)], env, stdin if argv[0] == "login" else None))
            a, b = statistics.median(times["lamina"]), statistics.median(times["docker"])
            worst = max(worst, a / b)
            print(f"{label:<12} {a * 1000:10.1f} {b * 1000:10.1f} {a / b:7.2f}", flush=True)
        print(f"\nworst ratio: {worst:.2f} (the issue's target: at most 2.00)")
    finally:
        if lamina_env is not None:  # running containers hold mounts under the data root
            subprocess.run([lamina, "rm", "-f", *LEFT], env=lamina_env, capture_output=True)
        registry.stop()
        dockerd.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
