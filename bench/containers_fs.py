"""``commit`` and ``container diff`` of a container that wrote 100 files of 1 MiB: lamina vs docker.

One dockerd runs on a lamina data root; docker makes the container (so both engines work on the
very same one), then each engine's ``diff`` and ``commit`` run alternately and the medians and
their ratio are printed (<1: lamina is faster). lamina runs as install.sh installs it (the ``-S``
launcher). Run as root: ``python3 bench/containers_fs.py``.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import compare, ensure_bytecode  # noqa: E402

from lamina.cli import launcher  # noqa: E402
from lamina.testing.dockerd import Dockerd  # noqa: E402
from lamina.testing.rootfs import write_busybox_rootfs  # noqa: E402

WRITE = "mkdir /data && for i in $(seq 1 100); do head -c 1048576 /dev/urandom > /data/f$i; done"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    ensure_bytecode()
    base = tempfile.mkdtemp(prefix="lamina-bench-ctrfs-", dir="/var/tmp")
    root = os.path.join(base, "data")
    # lamina as install.sh installs it: the -S launcher (diff takes the lean path)
    lamina = [launcher.write(os.path.join(base, "lamina-cmd")), "--data-root", root]
    rootfs = os.path.join(base, "busybox.tar")
    with open(rootfs, "wb") as f:
        write_busybox_rootfs(f)
    subprocess.run([*lamina, "import", "-c", 'CMD ["sh"]', rootfs, "busybox:latest"], check=True, capture_output=True)
    daemon = Dockerd(base)
    made: list[tuple[str, str]] = []
    try:
        daemon.start()
        daemon.docker("run", "--name", "writer", "--network", "none", "busybox", "sh", "-c", WRITE)

        def run(argv: list[str], who: str) -> None:
            out = subprocess.run(argv, check=True, capture_output=True)
            if "commit" in argv:
                made.append((who, out.stdout.decode().strip()))

        lines = len(subprocess.run([*lamina, "diff", "writer"], check=True, capture_output=True).stdout.splitlines())
        print(f"container wrote 100 x 1 MiB; diff has {lines} lines")
        compare("container diff", args.runs * 3,
                lambda: run([*lamina, "diff", "writer"], "lamina"),
                lambda: run(["docker", "-H", daemon.host, "diff", "writer"], "docker"), "docker")
        compare("commit (100 MiB layer)", args.runs,
                lambda: run([*lamina, "commit", "writer"], "lamina"),
                lambda: run(["docker", "-H", daemon.host, "commit", "writer"], "docker"), "docker")
    finally:
        for who, image in made:
            argv = [*lamina, "rmi", image] if who == "lamina" else ["docker", "-H", daemon.host, "rmi", image]
            subprocess.run(argv, capture_output=True)
        daemon.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
