"""Issue 3's push/pull benchmark: skopeo pushes and pulls a ~150 MB image to and from lamina's
registry and the CNCF registry (Distribution 2.8), same files, same machine, alternating runs.

    python3 bench/registry_push_pull.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from _common import compare, debootstrap_tar, run  # noqa: E402

from lamina.testing.registries import RegistryProcess  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    for tool in ("skopeo", "docker-registry"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (./install.sh)")
    rootfs = debootstrap_tar()
    base = tempfile.mkdtemp(prefix="lamina-bench-reg-", dir="/var/tmp")
    try:
        # the image: the rootfs as one layer, in a docker-archive lamina writes
        lroot = os.path.join(base, "store")
        lamina = [sys.executable, "-m", "lamina", "--data-root", lroot]
        run(*lamina, "import", rootfs, "bench/rootfs:v1")
        archive = os.path.join(base, "image.tar")
        run(*lamina, "save", "-o", archive, "bench/rootfs:v1")
        # push once with compression into a layout, so the timed pushes move the same gzip bytes
        layout = os.path.join(base, "layout")
        run("skopeo", "copy", "--dest-compress", f"docker-archive:{archive}", f"oci:{layout}:v1")
        size = sum(os.path.getsize(os.path.join(dp, f)) for dp, _, fs in os.walk(layout) for f in fs)
        print(f"image: {size >> 20} MB compressed (from a {os.path.getsize(rootfs) >> 20} MB rootfs); runs: {args.runs}")
        with RegistryProcess(os.path.join(base, "lamina-reg")) as ours, RegistryProcess(os.path.join(base, "cncf-reg"), kind="cncf") as theirs:
            counter = {"n": 0}

            def push_fresh(reg):
                def go():
                    counter["n"] += 1
                    run("skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{reg.host}/bench/img{counter['n']}:v1")
                return go

            # fresh repositories each run, but blobs are shared registry-wide: clear them between runs
            def reset():
                for reg in (ours, theirs):
                    shutil.rmtree(os.path.join(reg.root, "data", "docker"), ignore_errors=True)

            compare("skopeo push ~150 MB image", args.runs, push_fresh(ours), push_fresh(theirs), "cncf", reset=reset)
            run("skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{ours.host}/bench/pull:v1")
            run("skopeo", "copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{theirs.host}/bench/pull:v1")

            def pull(reg):
                def go():
                    dest = os.path.join(base, "pulled")
                    shutil.rmtree(dest, ignore_errors=True)
                    run("skopeo", "copy", "--src-tls-verify=false", f"docker://{reg.host}/bench/pull:v1", f"oci:{dest}:v1")
                return go

            compare("skopeo pull ~150 MB image", args.runs, pull(ours), pull(theirs), "cncf")
    finally:
        subprocess.run(["rm", "-rf", base])


if __name__ == "__main__":
    main()
