"""Issue 10's benchmark: pushing and pulling the same ~170 MB image to and from a local CNCF
registry with lamina, docker (a private dockerd) and skopeo, cold, in one run.

* push: each tool pushes the image it imported from the same debootstrap root fs to its own,
  empty CNCF registry (so nothing is already there to skip, and no mount is possible);
* pull: each engine's store is emptied of the image and pulled again from that registry
  (lamina and docker extract into their stores; skopeo copies into an OCI layout, without
  extraction: its figure is the transfer alone).

lamina and skopeo run in a session of their own, as the dockerd doing docker's work does (the
kernel's autogroup scheduling gives each session one CPU slice: see ``_common.run``).
Both stores sit on a fresh ext4 on a RAM-backed loop device (``--on-disk`` uses /var/tmp).
Ratios are lamina / peer: below 1 means lamina is faster.

    python3 bench/registry_client.py [--on-disk]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from _common import ScratchExt4, debootstrap_tar, ensure_bytecode, run, timed  # noqa: E402

from lamina.cli import launcher  # noqa: E402
from lamina.testing.dockerd import Dockerd  # noqa: E402
from lamina.testing.registries import RegistryProcess, cncf_binary  # noqa: E402


def report(name: str, ours: float, peers: dict[str, float]) -> None:
    parts = "   ".join(f"{peer} {t:7.2f}s (ratio {ours / t:4.2f})" for peer, t in peers.items())
    print(f"{name:<8} lamina {ours:7.2f}s   {parts}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--on-disk", action="store_true", help="run on /var/tmp, not a fresh RAM-backed ext4")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (dockerd and overlay mounts)")
    if cncf_binary() is None:
        sys.exit("the CNCF registry is not installed (apt-get install docker-registry)")
    rootfs = debootstrap_tar()
    ensure_bytecode()
    if args.on_disk:
        bench(tempfile.mkdtemp(prefix="lamina-bench-", dir="/var/tmp"), rootfs)
        return
    with ScratchExt4(8 << 10) as scratch:
        print(f"filesystem: a fresh ext4 on a RAM-backed loop device ({scratch})")
        bench(os.path.join(scratch, "work"), rootfs)


def bench(base: str, rootfs: str) -> None:
    os.makedirs(base, exist_ok=True)
    lroot = os.path.join(base, "lamina")
    lamina = [launcher.write(os.path.join(base, "lamina-cmd")), "--data-root", lroot]
    daemon = Dockerd(os.path.join(base, "docker"))
    registries = {name: RegistryProcess(os.path.join(base, f"reg-{name}"), kind="cncf") for name in ("lamina", "docker", "skopeo")}
    daemon.start()
    env = daemon.env()
    try:
        for reg in registries.values():
            reg.start()
        print(f"rootfs tar: {os.path.getsize(rootfs) >> 20} MB; one cold run each")
        lref = f"{registries['lamina'].host}/bench/rootfs:v1"
        dref = f"{registries['docker'].host}/bench/rootfs:v1"
        sref = f"{registries['skopeo'].host}/bench/rootfs:v1"
        run(*lamina, "import", rootfs, lref)
        run("docker", "import", rootfs, dref, env=env)
        archive = os.path.join(base, "image.tar")
        run(*lamina, "save", "-o", archive, lref)
        os.sync()

        ours = timed(lambda: run(*lamina, "push", "-q", lref, own_session=True))
        theirs = timed(lambda: run("docker", "push", "-q", dref, env=env))
        skopeo = timed(lambda: run("skopeo", "copy", "--quiet", "--dest-tls-verify=false", f"docker-archive:{archive}", f"docker://{sref}", own_session=True))
        report("push", ours, {"docker": theirs, "skopeo": skopeo})

        run(*lamina, "rmi", lref)
        run(*lamina, "image", "prune", "-a", "-f")
        run("docker", "rmi", dref, env=env)
        run("docker", "image", "prune", "-a", "-f", env=env)
        os.sync()
        time.sleep(5)  # let the filesystem finish with the deletions before either side creates files
        theirs = timed(lambda: run("docker", "pull", "-q", dref, env=env))
        os.sync()
        ours = timed(lambda: run(*lamina, "pull", "-q", lref, own_session=True))
        layout = os.path.join(base, "layout")
        skopeo = timed(lambda: run("skopeo", "copy", "--quiet", "--src-tls-verify=false", f"docker://{sref}", f"oci:{layout}:v1", own_session=True))
        report("pull", ours, {"docker": theirs, "skopeo (no extraction)": skopeo})
    finally:
        for reg in registries.values():
            reg.stop()
        daemon.stop()
        subprocess.run(["umount", "-R", "-l", lroot], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
