"""Issue 14's benchmark: which layer holds a file, and how much an image wastes, answered by
lamina's layer explorer vs walking the layers' diff directories with ``find`` (seed 000's
method), on the same store in one run.

Workload: a debootstrap Debian (minbase, bookworm; the root fs tar is cached at
``/var/tmp/lamina-bench-debian-minbase.tar``) imported, plus 10 committed layers on top that
add, overwrite and delete files (whiteouts and an opaque directory), ``/usr/local/bin/php`` among
them; and a second image of 100,000 files, for the issue's "well under a second" bound.

* ``image blame IMG /usr/local/bin/php`` vs ``for d in <diff dirs>; do find $d | grep
  usr/local/bin/php$; done`` (the seed's loop; it finds the layers holding the name and still
  cannot tell a whiteout from a file without a second look);
* ``image waste IMG`` vs ``find -printf`` over every diff dir piped to an awk program that adds up
  overwritten and whited-out bytes (the nearest find can come; it cannot see opaque dirs);
* ``image tree --depth 1`` (sizes summed per directory) vs ``du -b -d 1`` over the diff dir;
* the first ``blame`` on a store whose layers have no index yet (built lazily from the tar-split)
  and the index's cost when a layer is stored.

Each line prints wall and CPU seconds (of the child processes): on a machine shared with other
work the wall clock follows the run queue, CPU seconds much less.

dive (the tool people use for ``waste``) is not packaged in Debian 12 and is not on PyPI, so it
is not run here; when a ``dive`` binary is on PATH its ``--ci`` run is timed too.

lamina runs as install.sh installs it (the ``-S`` launcher), each command a fresh process.

    python3 bench/explorer.py [--runs N]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from _common import ensure_bytecode, run, timed  # noqa: E402

from lamina import Engine  # noqa: E402
from lamina.cli import launcher  # noqa: E402
from lamina.image.commit import CommitSpec, TarLayer, commit_image  # noqa: E402
from lamina.testing.images import StepSpec  # noqa: E402
from lamina.testing.tars import make_tar  # noqa: E402

ROOTFS = "/var/tmp/lamina-bench-debian-minbase.tar"
TARGET = "usr/local/bin/php"

FIND_WASTE_AWK = r"""
# input: "@@ <layer>" then "<type> <size> <path>" lines, bottom layer first
/^@@ / { layer++; next }
{
  t = $1; s = $2; p = substr($0, length(t) + length(s) + 3)
  if (t == "c" && s == 0) {             # an overlay whiteout: everything at or below p is gone
    for (q in size) if (q == p || index(q, p "/") == 1) { wasted += size[q]; delete size[q] }
    next
  }
  if (t != "f") next
  if (p in size) wasted += size[p]
  size[p] = s
}
END { print wasted + 0 }
"""


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def compare(name: str, runs: int, lamina, peer, peer_name: str) -> None:
    """``_common.compare`` plus the CPU time of the child processes: on a machine shared with
    other work the wall clock swings with the run queue, CPU seconds much less."""
    walls: dict[str, list[float]] = {"lamina": [], "peer": []}
    cpus: dict[str, list[float]] = {"lamina": [], "peer": []}
    for i in range(runs):
        order = [("lamina", lamina), ("peer", peer)] if i % 2 == 0 else [("peer", peer), ("lamina", lamina)]
        for who, fn in order:
            cpu = _cpu()
            walls[who].append(timed(fn))
            cpus[who].append(_cpu() - cpu)
    a, b = statistics.median(walls["lamina"]), statistics.median(walls["peer"])
    ca, cb = statistics.median(cpus["lamina"]), statistics.median(cpus["peer"])
    print(f"{name:<40} lamina {a:7.3f}s ({ca:.3f}s cpu)   {peer_name} {b:7.3f}s ({cb:.3f}s cpu)   "
          f"ratio {a / b:5.2f} (cpu {ca / max(cb, 1e-3):5.2f})", flush=True)


def debian_rootfs() -> str:
    if os.path.exists(ROOTFS):
        return ROOTFS
    target = tempfile.mkdtemp(prefix="lamina-bench-debootstrap-", dir="/var/tmp")
    proc = subprocess.run(
        ["debootstrap", "--variant=minbase", "bookworm", target, "http://deb.debian.org/debian"],
        capture_output=True,
    )
    if proc.returncode != 0:
        sys.exit(f"debootstrap failed: {proc.stderr.decode(errors='replace')[-2000:]}")
    tmp = ROOTFS + ".tmp"
    with tarfile.open(tmp, "w", format=tarfile.PAX_FORMAT) as tar:
        tar.add(target, arcname=".")
    shutil.rmtree(target, ignore_errors=True)
    os.replace(tmp, ROOTFS)
    return ROOTFS


def top_layers() -> list[StepSpec]:
    """10 layers of churn: apt-style lists added then deleted, binaries overwritten, a config
    dir made opaque, php installed in layer 7 (of the 11)."""
    blob = os.urandom(1 << 20)
    steps = []
    for n in range(1, 11):
        entries: list = [(f"var/lib/bench/step{n}.txt", "file", f"step {n}\n")]
        if n == 1:
            entries += [(f"var/lib/apt/lists/list{i}", "file", blob[: 200_000 + i]) for i in range(10)]
        if n == 2:
            entries += [("var/lib/apt/.wh.lists", "file", "")]
        if n in (3, 5, 8):
            entries += [("usr/bin/bench-tool", "file", blob[: 300_000 * n])]
        if n == 4:
            entries += [("etc/apt", "dir", None), ("etc/apt/.wh..wh..opq", "file", ""), ("etc/apt/sources.list", "file", "deb x\n")]
        if n == 6:
            entries += [(f"usr/share/bench/{i:04d}", "file", f"{i}\n" * 50) for i in range(2000)]
        if n == 7:
            entries += [(TARGET, "file", blob), ("usr/local/bin/php-link", "link", TARGET)]
        if n == 9:
            entries += [("usr/share/.wh.bench", "file", "")]
        if n == 10:
            entries += [("usr/share/doc/.wh.dpkg", "file", "")]
        steps.append(StepSpec(f"/bin/sh -c step {n}", make_tar(entries)))
    return steps


def many_files_tar(count: int) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in range(count // 100):
            info = tarfile.TarInfo(f"srv/pkg{d:04d}")
            info.type, info.mode = tarfile.DIRTYPE, 0o755
            tar.addfile(info)
            for f in range(99):
                data = b"x" * (f % 7)
                info = tarfile.TarInfo(f"srv/pkg{d:04d}/file{f:02d}")
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def diff_dirs(lamina: list[str], image: str) -> list[str]:
    import json

    rows = [json.loads(x) for x in run(*lamina, "image", "layers", "--format", "json", image).decode().splitlines()]
    return [r["Dir"] for r in rows if r["Dir"]]


def find_blame(dirs: list[str]) -> bytes:
    script = 'for d in "$@"; do find "$d" | grep "usr/local/bin/php$"; done; true'
    return run("sh", "-c", script, "sh", *dirs)


def find_waste(dirs: list[str]) -> bytes:
    script = 'for d in "$@"; do echo "@@ $d"; find "$d" -mindepth 1 -printf "%y %s %P\\n"; done | awk "$AWK"'
    env = dict(os.environ, AWK=FIND_WASTE_AWK)
    return run("sh", "-c", script, "sh", *dirs, env=env)


def drop_indexes(root: str) -> None:
    base = os.path.join(root, "image", "overlay2", "layerdb", "sha256")
    for entry in os.listdir(base):
        path = os.path.join(base, entry, "lamina-files")
        if os.path.exists(path):
            os.unlink(path)


def bench(base: str, runs: int) -> None:
    rootfs = debian_rootfs()
    root = os.path.join(base, "lamina")
    lamina = [launcher.write(os.path.join(base, "lamina-cmd")), "--data-root", root]
    start = time.perf_counter()
    run(*lamina, "import", rootfs, "bench/debian")
    imported = time.perf_counter() - start
    engine = Engine(root)
    base_id = engine.images.resolve("bench/debian")
    # the 10 layers go on top of the imported base, each committed with the one before as parent
    parent = base_id
    for n, step in enumerate(top_layers(), 1):
        parent = commit_image(engine.images, parent, TarLayer(io.BytesIO(step.layer)),
                              CommitSpec(created_by=step.created_by), "bench/explorer:v1" if n == 10 else None)
    record = engine.store.layer_chain([engine.store.images.get(base_id).diff_ids[0]])[0]
    from lamina.store import fileindexes

    split = engine.store.layers.tar_split_path(record.chain_id)
    index_time = timed(lambda: fileindexes.build_from_split(split, str(record.diff_id)))
    entries = len(fileindexes.build_from_split(split, str(record.diff_id)))
    print(f"workload: debootstrap minbase ({os.path.getsize(rootfs) >> 20} MB tar, {entries} entries) + 10 layers; runs: {runs}")
    print(f"index of the base layer from its tar-split: {index_time:.3f}s, of an import that took {imported:.2f}s "
          f"({index_time / imported * 100:.0f}%)")
    dirs = diff_dirs(lamina, "bench/explorer:v1")
    assert len(dirs) == 11
    ours = run(*lamina, "image", "blame", "bench/explorer:v1", "/" + TARGET).decode()
    assert "added in layer 8" in ours, ours  # the base is layer 1, php's step the 8th
    assert find_blame(dirs).decode().count(TARGET) == 1
    compare("blame one path (debian + 10 layers)", runs,
            lambda: run(*lamina, "image", "blame", "bench/explorer:v1", "/" + TARGET),
            lambda: find_blame(dirs), "find")
    compare("waste (debian + 10 layers)", runs,
            lambda: run(*lamina, "image", "waste", "bench/explorer:v1"),
            lambda: find_waste(dirs), "find+awk")
    first = []
    for _ in range(max(3, runs // 2)):
        drop_indexes(root)
        first.append(timed(lambda: run(*lamina, "image", "blame", "bench/explorer:v1", "/" + TARGET)))
    print(f"{'first blame, no indexes yet (lazy build)':<40} lamina {statistics.median(first):8.3f}s")
    dive = shutil.which("dive")
    if dive:
        compare("waste vs dive --ci", runs,
                lambda: run(*lamina, "image", "waste", "bench/explorer:v1"),
                lambda: subprocess.run([dive, "--ci", "--source", "docker-archive", "/dev/null"], capture_output=True),
                "dive")
    else:
        print("dive: not installed (not packaged in Debian 12, not on PyPI); not compared")

    # 100k files in one layer: the bound
    many = os.path.join(base, "many.tar")
    with open(many, "wb") as f:
        f.write(many_files_tar(100_000))
    run(*lamina, "import", many, "bench/many")
    many_dirs = diff_dirs(lamina, "bench/many")
    compare("blame one path (100k files)", runs,
            lambda: run(*lamina, "image", "blame", "bench/many", "/srv/pkg0500/file42"),
            lambda: run("sh", "-c", 'find "$1" | grep "srv/pkg0500/file42$"', "sh", *many_dirs), "find")
    compare("waste (100k files)", runs,
            lambda: run(*lamina, "image", "waste", "bench/many"),
            lambda: find_waste(many_dirs), "find+awk")
    compare("tree --depth 1, sizes (100k files)", runs,
            lambda: run(*lamina, "image", "tree", "--depth", "1", "bench/many"),
            lambda: run("du", "-b", "-d", "1", *many_dirs), "du -b -d1")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    ensure_bytecode()
    base = tempfile.mkdtemp(prefix="lamina-bench-explorer-", dir="/var/tmp")
    try:
        bench(base, args.runs)
    finally:
        subprocess.run(["umount", "-R", "-l", os.path.join(base, "lamina")], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
