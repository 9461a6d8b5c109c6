"""Issue 2's benchmark: lamina vs docker on the same files, in one run.

* import of a ~150 MB debootstrap root fs (`image import`)
* save and load of that image
* `images` and `inspect` latency with 200 images in the store (plain and with a template), and
  `inspect` right after a tag (when lamina's image catalog has just been rewritten)

lamina runs as the command install.sh installs: the launcher of ``lamina.cli.launcher``
(Python without site), written here into the bench's own directory. A pyenv shim in front of
it on PATH would add ~60 ms of bash to every command; docker's CLI is a binary on PATH.

lamina's import, save and load run in a session of their own, as the dockerd doing docker's
work does (the kernel's autogroup scheduling gives each session one CPU slice: see
``_common.run``). Both stores sit on the same filesystem: a fresh ext4 on a RAM-backed loop device (see
``_common.ScratchExt4`` for why; ``--on-disk`` uses /var/tmp instead). Runs alternate; medians
and the ratio (lamina / docker, below 1 means lamina is faster) are printed.

    python3 bench/image_store.py [--runs N] [--on-disk] [--latency-only | --transfer-only]
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import shutil
import sys
import tarfile
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from _common import ScratchExt4, compare, debootstrap_tar, ensure_bytecode, run  # noqa: E402

from lamina.cli import launcher  # noqa: E402
from lamina.testing.dockerd import Dockerd  # noqa: E402

LATENCY_RUNS = 30


def many_images_archive(path: str, count: int) -> None:
    """One docker-archive with `count` images sharing one small layer (loads fast in both)."""
    layer_buf = io.BytesIO()
    with tarfile.open(fileobj=layer_buf, mode="w") as t:
        info = tarfile.TarInfo("hello.txt")
        info.size = 5
        t.addfile(info, io.BytesIO(b"hello"))
    layer = layer_buf.getvalue()
    diff = "sha256:" + hashlib.sha256(layer).hexdigest()
    manifest = []
    with tarfile.open(path, "w") as tar:
        def add(name: str, data: bytes) -> None:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))

        add("layer.tar", layer)
        for i in range(count):
            config = json.dumps({
                "architecture": "amd64", "os": "linux", "created": f"2024-01-01T00:{i // 60:02d}:{i % 60:02d}Z",
                "config": {"Cmd": ["/hello"], "Labels": {"n": str(i)}},
                "rootfs": {"type": "layers", "diff_ids": [diff]},
                "history": [{"created": "2024-01-01T00:00:00Z", "created_by": f"image {i}"}],
            }).encode()
            name = hashlib.sha256(config).hexdigest() + ".json"
            add(name, config)
            manifest.append({"Config": name, "RepoTags": [f"bench/many{i}:latest"], "Layers": ["layer.tar"]})
        add("manifest.json", json.dumps(manifest).encode())


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--on-disk", action="store_true", help="run on /var/tmp, not a fresh RAM-backed ext4")
    parser.add_argument("--latency-only", action="store_true", help="only the images/inspect latencies")
    parser.add_argument("--transfer-only", action="store_true", help="only import, save and load")
    args = parser.parse_args()
    if os.geteuid() != 0:
        sys.exit("run as root (dockerd and overlay mounts)")
    rootfs = None if args.latency_only else debootstrap_tar()
    ensure_bytecode()
    if args.on_disk:
        bench(tempfile.mkdtemp(prefix="lamina-bench-", dir="/var/tmp"), rootfs, args.runs, not args.transfer_only)
        return
    with ScratchExt4(6 << 10) as scratch:
        print(f"filesystem: a fresh ext4 on a RAM-backed loop device ({scratch})")
        bench(os.path.join(scratch, "work"), rootfs, args.runs, not args.transfer_only)


def bench(base: str, rootfs: str | None, runs: int, latencies: bool = True) -> None:
    os.makedirs(base, exist_ok=True)
    lroot = os.path.join(base, "lamina")
    lamina = [launcher.write(os.path.join(base, "lamina-cmd")), "--data-root", lroot]
    daemon = Dockerd(os.path.join(base, "docker"))
    daemon.start()
    env = daemon.env()
    try:
        if rootfs is not None:
            transfer(base, rootfs, runs, lamina, env)
        if latencies:
            latency(base, lamina, env)
    finally:
        daemon.stop()
        subprocess_umount(lroot)
        shutil.rmtree(base, ignore_errors=True)


def transfer(base: str, rootfs: str, runs: int, lamina: list[str], env: dict) -> None:
    """import, save and load of the debootstrap root fs."""
    print(f"rootfs tar: {os.path.getsize(rootfs) >> 20} MB; runs: {runs}")

    def empty_stores() -> None:
        run(*lamina, "image", "prune", "-a", "-f")
        run("docker", "image", "prune", "-a", "-f", env=env)
        # write back the previous run's dirty pages now, untimed, so neither side pays
        # for the other's (the disk here swings 2-4x otherwise)
        os.sync()

    compare(
        "import ~150 MB rootfs",
        runs,
        lambda: run(*lamina, "import", rootfs, "bench/rootfs", own_session=True),
        lambda: run("docker", "import", rootfs, "bench/rootfs", env=env),
        "docker",
        reset=empty_stores,
    )
    run(*lamina, "import", rootfs, "bench/rootfs")
    run("docker", "import", rootfs, "bench/rootfs", env=env)
    lsave, dsave = os.path.join(base, "l.tar"), os.path.join(base, "d.tar")
    compare(
        "save",
        runs,
        lambda: run(*lamina, "save", "-o", lsave, "bench/rootfs", own_session=True),
        lambda: run("docker", "save", "-o", dsave, "bench/rootfs", env=env),
        "docker",
    )

    compare(
        "load (same archive)",
        runs,
        lambda: run(*lamina, "load", "-i", lsave, own_session=True),
        lambda: run("docker", "load", "-i", lsave, env=env),
        "docker",
        reset=empty_stores,
    )


def latency(base: str, lamina: list[str], env: dict) -> None:
    """``images`` and ``inspect`` with 200 images stored; then ``inspect`` just after a tag."""
    many = os.path.join(base, "many.tar")
    many_images_archive(many, 200)
    run(*lamina, "load", "-i", many)
    run("docker", "load", "-i", many, env=env)
    print(f"latency: {LATENCY_RUNS} runs each")
    compare("images (200 images)", LATENCY_RUNS,
            lambda: run(*lamina, "images"), lambda: run("docker", "images", env=env), "docker")
    compare("inspect (200 images)", LATENCY_RUNS,
            lambda: run(*lamina, "image", "inspect", "bench/many100"),
            lambda: run("docker", "image", "inspect", "bench/many100", env=env), "docker")
    fmt = "{{.Repository}}:{{.Tag}} {{.Size}}"
    compare("images --format (200 images)", LATENCY_RUNS,
            lambda: run(*lamina, "images", "--format", fmt),
            lambda: run("docker", "images", "--format", fmt, env=env), "docker")
    compare("inspect -f '{{.Id}}' (200 images)", LATENCY_RUNS,
            lambda: run(*lamina, "image", "inspect", "-f", "{{.Id}}", "bench/many100"),
            lambda: run("docker", "image", "inspect", "-f", "{{.Id}}", "bench/many100", env=env), "docker")
    counter = iter(range(10**6))

    def tag_both() -> None:
        n = next(counter)
        run(*lamina, "tag", "bench/many1", f"bench/retag:{n}")
        run("docker", "tag", "bench/many1", f"bench/retag:{n}", env=env)

    compare("inspect right after a tag (200 images)", 10,
            lambda: run(*lamina, "image", "inspect", "bench/many100"),
            lambda: run("docker", "image", "inspect", "bench/many100", env=env), "docker", reset=tag_both)


def subprocess_umount(path: str) -> None:
    import subprocess

    subprocess.run(["umount", "-R", "-l", path], capture_output=True)


if __name__ == "__main__":
    main()
