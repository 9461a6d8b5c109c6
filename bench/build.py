"""Issue 12's benchmark: the same 6-step Dockerfile built by lamina and by docker, in one run.

    FROM busybox
    ENV APP=/app
    COPY big.bin /app/          (50 MB)
    RUN dd if=/dev/zero of=/app/run.bin bs=1M count=20
    LABEL bench=build
    CMD ["sh"]

Uncached (``--no-cache``, every step executed and committed) and fully cached (every step a
cache hit). docker's classic builder (``DOCKER_BUILDKIT=0``) on a private dockerd whose busybox
is loaded from lamina's ``save`` (the same base image ID), BuildKit too where the docker CLI
has the buildx plugin. lamina runs as install.sh installs it (the -S launcher). Runs alternate;
medians and ratios (lamina / peer; below 1 means lamina is faster) are printed.

Without container support in this lamina (``engine.containers``), the RUN step is replaced by a
second 20 MB COPY in both engines, and the output says so.

    python3 bench/build.py [--runs N]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from _common import compare, ensure_bytecode, run  # noqa: E402

from lamina.cli import launcher  # noqa: E402
from lamina.testing.dockerd import Dockerd  # noqa: E402
from lamina.testing.rootfs import write_busybox_rootfs  # noqa: E402

DOCKERFILE_RUN = """FROM busybox
ENV APP=/app
COPY big.bin /app/
RUN dd if=/dev/zero of=/app/run.bin bs=1M count=20
LABEL bench=build
CMD ["sh"]
"""

DOCKERFILE_COPY = DOCKERFILE_RUN.replace(
    "RUN dd if=/dev/zero of=/app/run.bin bs=1M count=20", "COPY run.bin /app/"
)


def has_containers() -> bool:
    from lamina.engine import Engine

    return hasattr(Engine, "containers")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    opts = parser.parse_args()
    ensure_bytecode()
    base = tempfile.mkdtemp(prefix="lamina-bench-build-", dir="/var/tmp")
    try:
        bench(base, opts.runs)
    finally:
        shutil.rmtree(base, ignore_errors=True)


def bench(base: str, runs: int) -> None:
    lamina_bin = launcher.write(os.path.join(base, "lamina-cmd"))
    root = os.path.join(base, "lamina-root")

    def lamina(*args: str, input: bytes | None = None) -> bytes:
        return run(lamina_bin, "--data-root", root, *args, input=input)

    ctx = os.path.join(base, "ctx")
    os.makedirs(ctx)
    with open(os.path.join(ctx, "big.bin"), "wb") as f:
        f.write(os.urandom(50 << 20))
    with_run = has_containers()
    if not with_run:
        with open(os.path.join(ctx, "run.bin"), "wb") as f:
            f.write(bytes(20 << 20))
        print("note: this lamina has no containers yet: RUN replaced by a 20 MB COPY in both engines")
    with open(os.path.join(ctx, "Dockerfile"), "w") as f:
        f.write(DOCKERFILE_RUN if with_run else DOCKERFILE_COPY)
    busybox = os.path.join(base, "busybox.tar")
    with open(busybox, "wb") as f:
        write_busybox_rootfs(f)
    lamina("import", "-c", 'CMD ["sh"]', busybox, "busybox:latest")
    saved = os.path.join(base, "busybox-saved.tar")
    lamina("save", "-o", saved, "busybox:latest")

    with Dockerd(os.path.join(base, "dockerd")) as daemon:
        daemon.docker("load", "-i", saved)
        classic = dict(daemon.env(), DOCKER_BUILDKIT="0")

        def docker_build(*extra: str, env: dict = classic) -> None:
            proc = subprocess.run(["docker", "build", *extra, "-t", "bench:docker", ctx], env=env, capture_output=True)
            if proc.returncode != 0:
                sys.exit(f"docker build failed: {proc.stderr.decode(errors='replace')}")

        print(f"{'6-step build, 50 MB COPY, 20 MB RUN':<40}")
        lamina("build", "-q", "-t", "bench:lamina", ctx)  # warm both caches once
        docker_build("-q")
        compare(
            "uncached (--no-cache)",
            runs,
            lambda: lamina("build", "-q", "--no-cache", "-t", "bench:lamina", ctx),
            lambda: docker_build("-q", "--no-cache"),
            "docker classic",
        )
        compare(
            "fully cached",
            runs * 3,
            lambda: lamina("build", "-q", "-t", "bench:lamina", ctx),
            lambda: docker_build("-q"),
            "docker classic",
        )
        buildkit = dict(daemon.env(), DOCKER_BUILDKIT="1")
        probe = subprocess.run(["docker", "buildx", "version"], env=buildkit, capture_output=True)
        if probe.returncode != 0:
            print("BuildKit: not measured (the docker CLI here has no buildx plugin)")
            return
        docker_build("-q", env=buildkit)
        compare("uncached, BuildKit", runs, lambda: lamina("build", "-q", "--no-cache", ctx),
                lambda: docker_build("-q", "--no-cache", env=buildkit), "buildkit")
        compare("cached, BuildKit", runs * 3, lambda: lamina("build", "-q", ctx),
                lambda: docker_build("-q", env=buildkit), "buildkit")


if __name__ == "__main__":
    main()
