"""``run`` and ``create`` on the lean path (``cli/lean/run.py``): the same bytes and exit codes as
the full CLI, a module budget, and the monitor forked from the CLI holding nothing of it.

The full CLI is reached by calling ``lamina.cli.main.main`` directly (what ``lamina.cli.entry``
does when the lean path declines); the lean one as the launcher starts it (``python -S``)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest

import lamina
from lamina.testing.modules import loaded_modules

pytestmark = pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed (apt-get install runc)")

SRC = os.path.dirname(os.path.dirname(os.path.abspath(lamina.__file__)))

LEAN = "import sys; sys.path[0:1] = []; sys.path.append({src!r}); from lamina.cli.entry import main; main()"
FULL = "import sys; sys.path.insert(0, {src!r}); from lamina.cli.main import main; main()"


#: the lamina modules ``run`` may load (the dispatcher's own are allowed everywhere): options,
#: the container records, the store, the image lookup, the network seam, the runtime
RUN_BUDGET = {
    "lamina", "lamina.cli", "lamina.cli.entry", "lamina.cli.fast", "lamina.cli.lean", "lamina.cli.lean.args",
    "lamina.cli.lean.run", "lamina.cli.run_options", "lamina.cli.attach",
    "lamina.errors", "lamina.value", "lamina.digest", "lamina.reference", "lamina.engine", "lamina.mount",
    "lamina.store", "lamina.store.store", "lamina.store.catalog", "lamina.store.paths", "lamina.store.lock",
    "lamina.store.atomic", "lamina.store.imagedb", "lamina.store.layerdb", "lamina.store.repositories",
    "lamina.store.lease", "lamina.store.blobs", "lamina.graphdriver", "lamina.graphdriver.base",
    "lamina.graphdriver.overlay2", "lamina.oci", "lamina.oci.config", "lamina.image", "lamina.image.service",
    "lamina.image.pullpolicy",
    "lamina.image.config", "lamina.format", "lamina.format.humanize", "lamina.format.units",
    "lamina.container", "lamina.container.options", "lamina.container.model", "lamina.container.store",
    "lamina.container.names", "lamina.container.service", "lamina.container.mounts",
    "lamina.network", "lamina.network.containers", "lamina.network.model", "lamina.network.ports",
    "lamina.network.files", "lamina.network.store", "lamina.network.service", "lamina.network.ipam",
    "lamina.runtime", "lamina.runtime.select", "lamina.runtime.lifecycle", "lamina.runtime.runc",
    "lamina.runtime.signals", "lamina.runtime.monitor", "lamina.runtime.execroot", "lamina.jsonc",
    "lamina.runtime.jsonlog",
}
#: never on the run path
NEVER = {"click", "site", "asyncio", "ssl", "http", "email", "zipfile", "importlib.metadata", "logging",
         "argparse", "httpx", "tarfile", "gzip", "lamina.cli.main", "lamina.cli.container"}


def _cli(code: str, root: str, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-S", "-c", code.format(src=SRC), "--data-root", root, *args]
    return subprocess.run(argv, capture_output=True, timeout=120, input=input)


def lean(root: str, *args: str, **kw) -> subprocess.CompletedProcess:
    return _cli(LEAN, root, *args, **kw)


def full(root: str, *args: str, **kw) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-c", FULL.format(src=SRC), "--data-root", root, *args]
    return subprocess.run(argv, capture_output=True, timeout=120, **kw)


@pytest.fixture
def roots(lamina, busybox_tar, tmp_path):
    """Two data roots with the same busybox image: one for each path."""
    other = type(lamina)(str(tmp_path / "other"))
    made = [lamina, other]
    for cli in made:
        cli.run("image", "import", "-c", 'CMD ["/bin/sh"]', busybox_tar, "busybox:latest")
    yield lamina.root, other.root
    for cli in made:
        ids = cli.run("ps", "-aq", "--no-trunc", check=False).out.split()
        if ids:
            cli.run("rm", "-f", *ids, check=False)
    from lamina import Engine
    from lamina.mount import mounts_under, unmount

    if os.path.isdir(os.path.join(other.root, "network")):
        Engine(other.root).networks.clear_host()  # its bridge, rules and DNS server live on the host
    for point in mounts_under(other.root):
        unmount(point, detach=True)
    shutil.rmtree(other.root, ignore_errors=True)


#: command lines whose output and exit code both paths must agree on
SAME = [
    ["run", "--rm", "--network", "none", "busybox", "sh", "-c", "echo out; echo err >&2; exit 3"],
    ["run", "--rm", "busybox", "sh", "-c", "echo $A $B", "--help"],
    ["run", "--rm", "-e", "A=1", "--env=B=2", "-w", "/tmp", "busybox", "sh", "-c", "echo $A $B; pwd"],
    ["run", "--rm", "-h", "myhost", "--network", "none", "busybox", "hostname"],
    ["run", "--rm", "--network", "none", "busybox", "no-such-command"],
    ["run", "--rm", "--network", "none", "busybox", "/etc"],
    ["run", "-d", "--rm", "--restart", "always", "busybox", "true"],
    ["run", "--rm", "--cpus", "lots", "busybox", "true"],
    ["run", "--rm", "--restart", "sometimes", "busybox", "true"],
    ["run", "--rm", "-u", "nobody-here", "--network", "none", "busybox", "id"],
    ["run", "--rm", "--network", "no-such-net", "busybox", "true"],
    ["create", "--name", "twice", "busybox"],
]


@pytest.mark.parametrize("argv", SAME, ids=" ".join)
def test_lean_run_prints_what_the_full_cli_prints(roots, argv):
    lean_root, full_root = roots
    got, expected = lean(lean_root, *argv), full(full_root, *argv)
    if argv[0] == "create" and got.returncode == 0:
        ids = got.stdout.strip(), expected.stdout.strip()
        assert len(ids[0]) == 64 and len(ids[1]) == 64
        got, expected = lean(lean_root, *argv), full(full_root, *argv)  # the name is taken now
        got.stderr = got.stderr.replace(ids[0], b"ID")
        expected.stderr = expected.stderr.replace(ids[1], b"ID")
    assert (got.returncode, got.stdout, got.stderr) == (expected.returncode, expected.stdout, expected.stderr)


def test_run_stays_within_its_module_budget(roots, tmp_path):
    modules, proc = loaded_modules(["--data-root", roots[0], "run", "--rm", "--network", "none", "busybox", "true"],
                                   tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert not modules & NEVER, f"modules the run path must not load: {sorted(modules & NEVER)}"
    extra = {m for m in modules if m.startswith("lamina")} - RUN_BUDGET
    assert not extra, f"run loads lamina modules beyond its budget: {sorted(extra)}"


def test_a_missing_image_is_left_to_the_full_cli(roots, tmp_path):
    """The lean path declines before it changes anything; click's path says what is missing."""
    modules, proc = loaded_modules(["--data-root", roots[0], "run", "--rm", "no/such:image", "true"], tmp_path, timeout=120)
    assert proc.returncode != 0 and "no/such:image" in proc.stderr
    assert "lamina.cli.main" in modules
    assert not os.listdir(os.path.join(roots[0], "containers"))


def test_run_rm_returns_once_the_container_is_gone(roots):
    """A script may reuse a name at once: ``run --rm`` returns after the removal, as docker's."""
    root = roots[0]
    for _ in range(3):
        proc = lean(root, "run", "--rm", "--name", "again", "--network", "none", "busybox", "true")
        assert proc.returncode == 0, proc.stderr
        assert not os.listdir(os.path.join(root, "containers"))


def test_the_forked_monitor_holds_none_of_the_clis_files(roots):
    root = roots[0]
    proc = lean(root, "run", "-d", "--name", "idle", "--network", "none", "busybox", "sleep", "60")
    assert proc.returncode == 0, proc.stderr
    cid = proc.stdout.decode().strip()
    monitor = _monitor_pid(cid)
    assert monitor, "no process holds the container's monitor lock"
    held = []
    for name in os.listdir(f"/proc/{monitor}/fd"):
        try:
            held.append(os.readlink(f"/proc/{monitor}/fd/{name}"))
        except OSError:
            continue
    under_root = [p for p in held if p.startswith(root)]
    assert all(p.endswith(f"{cid}-json.log") for p in under_root), under_root
    assert not [p for p in held if p.endswith((".lock", "/lock"))], held
    with open(f"/proc/{monitor}/status") as f:
        status = dict(line.split(":", 1) for line in f if ":" in line)
    assert int(status["PPid"]) != os.getpid()
    # the store is not locked by the running container: other writers go on
    assert lean(root, "tag", "busybox", "busybox:other").returncode == 0
    doc = json.load(open(os.path.join(root, "containers", cid, "config.v2.json")))
    assert doc["State"]["Running"] is True
    assert lean(root, "rm", "-f", "idle").returncode == 0


def _monitor_pid(cid: str) -> int | None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for pid in filter(str.isdigit, os.listdir("/proc")):
            try:
                for name in os.listdir(f"/proc/{pid}/fd"):
                    if os.readlink(f"/proc/{pid}/fd/{name}").endswith(f"{cid}.monitor"):
                        return int(pid)
            except OSError:
                continue
        time.sleep(0.1)
    return None
