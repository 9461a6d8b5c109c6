"""Crash and concurrency safety: kill -9 mid-import, parallel imports, check/repair, df, prune."""

from __future__ import annotations

import os
import signal
import subprocess
import time

import pytest

from lamina.engine import Engine
from lamina.testing.rootfs import write_synthetic_rootfs


@pytest.fixture(scope="module")
def big_tar(tmp_path_factory):
    path = tmp_path_factory.mktemp("big") / "rootfs.tar"
    with open(path, "wb") as f:
        write_synthetic_rootfs(f, total_bytes=80 << 20, files=4000)
    return str(path)


def _wait_for(predicate, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return False


def _extracting(root: str) -> bool:
    tmp = os.path.join(root, "image", "overlay2", "layerdb", "tmp")
    try:
        return any(n.startswith("write-set-") for n in os.listdir(tmp))
    except FileNotFoundError:
        return False


@pytest.mark.timeout(300)
@pytest.mark.parametrize("delay", [0.0, 0.3])
def test_kill_9_mid_import_leaves_usable_store(lamina, big_tar, busybox_tar, data_root, delay):
    lamina.run("import", busybox_tar, "survivor")
    proc = subprocess.Popen(lamina.argv("import", big_tar, "victim"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for(lambda: _extracting(data_root)), "import never started extracting"
        time.sleep(delay)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    # the store is usable: the old image is intact, the killed one does not exist
    images = lamina.run("images", "--format", "{{.Repository}}").out.split()
    assert images == ["survivor"]
    assert lamina.run("inspect", "-f", "{{.Id}}", "survivor").returncode == 0
    # check finds the debris, repair removes it, and then the store is clean
    check = lamina.run("system", "check", check=False)
    assert check.returncode == 1 and "orphaned layer directory" in check.out
    lamina.run("system", "check", "--repair")
    assert lamina.run("system", "check").out.strip() == "The data root is consistent."
    # and a new import of the same content works
    lamina.run("import", big_tar, "victim")
    assert sorted(lamina.run("images", "--format", "{{.Repository}}").out.split()) == ["survivor", "victim"]
    assert lamina.run("system", "check").returncode == 0


@pytest.mark.timeout(300)
def test_parallel_imports_of_same_content(lamina, big_tar, data_root):
    procs = [
        subprocess.Popen(lamina.argv("import", "-m", f"copy {i}", big_tar, f"p{i}"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        for i in range(3)
    ]
    for p in procs:
        out, err = p.communicate(timeout=240)
        assert p.returncode == 0, err
    assert len(lamina.run("images", "-q").out.split()) == 3
    layers = os.listdir(os.path.join(data_root, "image", "overlay2", "layerdb", "sha256"))
    assert len(layers) == 1  # one shared layer; the losers discarded their copies
    assert lamina.run("system", "check").returncode == 0


@pytest.mark.timeout(300)
def test_check_does_not_touch_a_running_import(lamina, big_tar, data_root):
    proc = subprocess.Popen(lamina.argv("import", big_tar, "slow"), stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert _wait_for(lambda: _extracting(data_root))
    lamina.run("system", "check", "--repair", check=False)
    out, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err
    assert lamina.run("system", "check").returncode == 0
    assert lamina.run("inspect", "-f", "{{.Id}}", "slow").returncode == 0


def test_df_adds_up_and_prune_dry_run_matches(lamina, busybox_tar, big_tar, data_root):
    lamina.run("import", "-m", "a", busybox_tar, "a")
    lamina.run("import", "-m", "b", busybox_tar, "b")  # shares a's layer
    lamina.run("import", big_tar, "big")
    lamina.run("import", "-m", "c", busybox_tar, "a")  # old "a" dangles, layer still shared
    engine = Engine(data_root)
    from lamina.store.store import tree_size
    from lamina.system.usage import disk_usage

    usage = disk_usage(engine.store, engine.images)
    on_disk = sum(tree_size(engine.store.driver.diff_dir(r.cache_id)) for r in engine.store.layers.list())
    assert usage.layers_size == on_disk
    by_tag = {u.summary.repo_tags[0] if u.summary.repo_tags else "<none>": u for u in usage.images}
    assert by_tag["big:latest"].unique == by_tag["big:latest"].size and by_tag["big:latest"].shared == 0
    assert by_tag["b:latest"].shared == by_tag["b:latest"].size
    # every distinct layer counted once
    distinct = {u.summary.id for u in usage.images}
    assert len(distinct) == 4
    out = lamina.run("system", "df").out.splitlines()
    assert out[0].split()[:3] == ["TYPE", "TOTAL", "ACTIVE"] and out[1].split()[:3] == ["Images", "4", "0"]
    assert "SHARED SIZE" in lamina.run("system", "df", "-v").out

    dry = lamina.run("image", "prune", "--dry-run").out
    real = lamina.run("image", "prune", "-f").out
    assert dry.replace("Would delete:", "Deleted Images:").replace("reclaimable", "reclaimed") == real
    assert "Total reclaimed space: 0 B" in real  # the dangling image's layer is shared
    assert lamina.run("images", "-q", "-f", "dangling=true").out == ""
    dry_all = lamina.run("image", "prune", "-a", "--dry-run").out
    real_all = lamina.run("image", "prune", "-a", "-f").out
    assert dry_all.replace("Would delete:", "Deleted Images:").replace("reclaimable", "reclaimed") == real_all
    assert lamina.run("images", "-aq").out == ""
    assert os.listdir(os.path.join(data_root, "overlay2", "l")) == []


def test_vfs_driver(data_root, busybox_tar, tmp_path):
    from tests.conftest import LaminaCLI

    lamina = LaminaCLI(data_root, driver="vfs")
    image_id = lamina.run("import", busybox_tar, "v").out.strip()
    doc = lamina.run("inspect", "-f", "{{.GraphDriver.Name}} {{json .GraphDriver.Data}}", "v").out
    assert doc.startswith("vfs ")
    assert os.path.isfile(os.path.join(data_root, "vfs", "dir", os.listdir(os.path.join(data_root, "vfs", "dir"))[0], "bin", "busybox"))
    saved = tmp_path / "v.tar"
    lamina.run("save", "-o", str(saved), "v")
    lamina.run("rmi", "v")
    lamina.run("load", "-i", str(saved))
    assert lamina.run("images", "-q", "--no-trunc").out.strip() == image_id
    info = lamina.run("info").out
    assert "Storage Driver: vfs" in info
    # the choice sticks to the data root without the flag
    from tests.conftest import LaminaCLI as Plain

    assert "Storage Driver: vfs" in Plain(data_root).run("info").out


def test_info_says_why(lamina):
    out = lamina.run("info").out
    assert "Storage Driver: overlay2" in out
    assert "Why: kernel overlayfs mounts on this data root" in out
    assert lamina.run("info", "-f", "{{.Driver}}").out == "overlay2\n"


@pytest.mark.parametrize("link_file", [True, False])
def test_one_repair_removes_a_killed_layer_and_its_short_link(lamina, busybox_tar, data_root, link_file):
    """Debris of an import killed inside overlay2's create(): a layer directory with its
    l/ short link, with or without its ``link`` file. One --repair must leave a clean store."""
    lamina.run("import", busybox_tar, "survivor")
    home = os.path.join(data_root, "overlay2")
    cache_id = "ab" * 32
    os.makedirs(os.path.join(home, cache_id, "diff"))
    short = "KILLEDXXXXXXXXXXXXXXXXXXXX"
    if link_file:
        with open(os.path.join(home, cache_id, "link"), "w") as f:
            f.write(short)
    os.symlink(f"../{cache_id}/diff", os.path.join(home, "l", short))
    check = lamina.run("system", "check", check=False)
    assert check.returncode == 1 and "orphaned layer directory" in check.out
    lamina.run("system", "check", "--repair")
    assert lamina.run("system", "check").out.strip() == "The data root is consistent."
    assert not os.path.lexists(os.path.join(home, "l", short))
    assert lamina.run("images", "--format", "{{.Repository}}").out.split() == ["survivor"]


def test_check_unmounts_stale_mounts_before_removing_debris(lamina, busybox_tar, data_root):
    """A process killed between mount and unmount leaves a mounted ``merged`` (a layer's or a
    driver probe's). check reports it, and --repair unmounts it before removing the directory
    it sits in, so nothing is deleted through a mount."""
    lamina.run("import", busybox_tar, "survivor")
    home = os.path.join(data_root, "overlay2")
    outside = os.path.join(os.path.dirname(data_root), "outside")
    os.makedirs(os.path.join(outside, "keep"))
    orphan = os.path.join(home, "cd" * 32, "merged")
    probe = os.path.join(home, ".probe-killed", "merged")
    for point in (orphan, probe):
        os.makedirs(point)
        subprocess.run(["mount", "--bind", outside, point], check=True)
    old = time.time() - 2 * 3600
    os.utime(os.path.dirname(probe), (old, old))
    try:
        out = lamina.run("system", "check", check=False).out
        assert out.count("stale mount") == 2 and "orphaned layer directory" in out and ".probe-killed" in out
        lamina.run("system", "check", "--repair")
        assert lamina.run("system", "check").out.strip() == "The data root is consistent."
        assert not os.path.exists(os.path.dirname(orphan)) and not os.path.exists(os.path.dirname(probe))
        assert os.path.isdir(os.path.join(outside, "keep"))  # nothing deleted through the mounts
        with open("/proc/self/mountinfo") as f:
            assert os.path.realpath(data_root) not in f.read()
    finally:
        for point in (orphan, probe):
            subprocess.run(["umount", "-l", point], capture_output=True)
