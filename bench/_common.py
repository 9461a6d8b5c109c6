"""Shared benchmark plumbing: timing, alternating runs, ratio reports, workload files."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import time
from collections.abc import Callable

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "out")


def timed(fn: Callable[[], object]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def compare(name: str, runs: int, lamina: Callable[[], object], peer: Callable[[], object],
            peer_name: str, reset: Callable[[], object] | None = None) -> tuple[float, float]:
    """Alternate lamina and the peer run by run (the disk's state drifts; alternating keeps it
    fair), take medians, print one line with the ratio (<1 means lamina is faster)."""
    ours, theirs = [], []
    for i in range(runs):
        order = [(ours, lamina), (theirs, peer)] if i % 2 == 0 else [(theirs, peer), (ours, lamina)]
        for bucket, fn in order:
            if reset:
                reset()
            bucket.append(timed(fn))
    a, b = statistics.median(ours), statistics.median(theirs)
    print(f"{name:<40} lamina {a:8.3f}s   {peer_name} {b:8.3f}s   ratio {a / b:5.2f}", flush=True)
    return a, b


class ScratchExt4:
    """A fresh ext4 filesystem on a RAM-backed loop device, mounted at ``path``.

    The virtual disk here swings 2-4x in the cost of creating a file (seen after large
    deletes: 7,000 small files took 0.16 s in one directory and 6 s in another minutes later),
    which decides an import benchmark more than either engine does. A new ext4 (journal, inode
    allocation, xattrs: the real filesystem code) on RAM gives both engines the same, steady
    ground. ``--on-disk`` in the benchmarks skips it.
    """

    def __init__(self, size_mb: int) -> None:
        self.size_mb = size_mb
        self.image = ""
        self.path = ""

    def __enter__(self) -> str:
        import tempfile

        self.image = tempfile.mktemp(prefix="lamina-bench-", suffix=".ext4", dir="/dev/shm")
        with open(self.image, "wb") as f:
            f.truncate(self.size_mb << 20)
        subprocess.run(["mkfs.ext4", "-q", "-F", self.image], check=True, capture_output=True)
        self.path = tempfile.mkdtemp(prefix="lamina-bench-mnt-")
        subprocess.run(["mount", "-o", "loop", self.image, self.path], check=True, capture_output=True)
        return self.path

    def __exit__(self, *exc) -> None:
        subprocess.run(["umount", "-R", "-l", self.path], capture_output=True)
        shutil.rmtree(self.path, ignore_errors=True)
        os.unlink(self.image)


def ensure_bytecode() -> None:
    """Compile lamina's modules, as an install does (install.sh runs compileall): with
    PYTHONDONTWRITEBYTECODE set, an edited module would otherwise be compiled on every start
    and the latency figures would measure the compiler."""
    import compileall

    import lamina

    compileall.compile_dir(os.path.dirname(lamina.__file__), quiet=1)


def run(*args: str, env: dict | None = None, input: bytes | None = None, own_session: bool = False) -> bytes:
    """Run a command; exit with its stderr if it fails.

    ``own_session`` starts it in a session of its own, as the benchmarks' dockerd runs: with the
    kernel's autogroup scheduling a session shares one CPU slice among its processes, so a
    command doing the work itself (lamina, skopeo) would otherwise share it with whatever else
    the caller's session runs, while dockerd's work has a slice to itself."""
    proc = subprocess.run(args, env=env, input=input, capture_output=True, start_new_session=own_session)
    if proc.returncode != 0:
        sys.exit(f"{' '.join(args)} failed: {proc.stderr.decode(errors='replace')}")
    return proc.stdout


def debootstrap_tar(target_mb: int = 150) -> str:
    """A Debian minbase root fs as a tar (``lamina.testing.debian``, cached in bench/out). Falls
    back to a synthetic tree of the same size when the Debian mirror cannot be reached."""
    sys.path.insert(0, os.path.join(os.path.dirname(OUT), "..", "src"))
    from lamina.testing.debian import debootstrap_tar as make_debian_tar

    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, "rootfs.tar")
    if os.path.exists(path):
        return path
    try:
        make_debian_tar(path)
        print(f"workload: debootstrap minbase bookworm, {os.path.getsize(path) >> 20} MB tar")
        return path
    except RuntimeError as exc:
        print(f"debootstrap unavailable: {exc}")
    from lamina.testing.rootfs import write_synthetic_rootfs

    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        write_synthetic_rootfs(f, target_mb << 20, files=10_000)
    print(f"workload: synthetic rootfs (debootstrap unavailable), {os.path.getsize(tmp) >> 20} MB tar")
    os.replace(tmp, path)
    return path
