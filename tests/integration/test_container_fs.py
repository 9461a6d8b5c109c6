"""diff, commit, export, cp and volumes on lamina's own containers (runc on a busybox base made in
the test): seed 001's walkthrough (merged/ while running, diff/ after, ``container diff``, commit
with one more layer), ``cp`` both ways and refusing an escape, named volumes surviving ``rm``,
anonymous volumes for the image's VOLUME paths going with ``rm -v``."""

from __future__ import annotations

import io
import json
import os
import shutil
import tarfile

import pytest

pytestmark = pytest.mark.skipif(shutil.which("runc") is None, reason="runc is not installed (apt-get install runc)")


@pytest.fixture
def ctr(lamina, busybox_tar):
    lamina.run("image", "import", "-c", 'CMD ["/bin/sh"]', busybox_tar, "busybox:latest")
    yield lamina
    ids = lamina.run("ps", "-aq", "--no-trunc", check=False).out.split()
    if ids:
        lamina.run("rm", "-f", *ids, check=False)


def test_seed_001_walkthrough(ctr, data_root):
    cid = ctr.run("run", "-d", "--name", "web", "busybox", "sh", "-c",
                  "trap 'exit 0' TERM; while true; do sleep 0.1; done").out.strip()
    mount_id = open(os.path.join(data_root, "image/overlay2/layerdb/mounts", cid, "mount-id")).read()
    layer = os.path.join(data_root, "overlay2", mount_id)
    assert os.path.ismount(os.path.join(layer, "merged"))
    ctr.run("exec", "web", "sh", "-c", "mkdir -p /root && echo hist > /root/.ash_history && echo hello world > /etc/motd "
                                       "&& rm /etc/group")
    running = ctr.run("container", "diff", "web").out.splitlines()
    assert running == ["C /etc", "D /etc/group", "A /etc/motd", "C /root", "A /root/.ash_history"]
    # cp into and out of the running container goes through merged/
    assert ctr.run("cp", "web:/etc/motd", "-").returncode == 0
    ctr.run("stop", "web")
    assert not os.path.exists(os.path.join(layer, "merged"))
    assert open(os.path.join(layer, "diff", "etc", "motd")).read() == "hello world\n"
    assert ctr.run("diff", "web").out.splitlines() == running
    image_id = ctr.run("commit", "-m", "edited", "web", "web-modified").out.strip()
    parent = json.loads(ctr.run("image", "inspect", "busybox").out)[0]
    child = json.loads(ctr.run("image", "inspect", "web-modified").out)[0]
    assert child["Id"] == image_id and child["Parent"] == parent["Id"] and child["Container"] == cid
    assert child["RootFS"]["Layers"][:-1] == parent["RootFS"]["Layers"]
    assert len(child["RootFS"]["Layers"]) == len(parent["RootFS"]["Layers"]) + 1
    assert child["Comment"] == "edited" and child["ContainerConfig"]["Hostname"] == cid[:12]
    out = ctr.run("run", "--rm", "web-modified", "sh", "-c", "cat /etc/motd; test -e /etc/group || echo gone").out
    assert out.split("\n")[:2] == ["hello world", "gone"]
    # export: the whole filesystem, without the init layer's bind-mount sources mattering
    names = tarfile.open(fileobj=io.BytesIO(ctr.run("export", "web").stdout)).getnames()
    assert "etc/motd" in names and "bin/busybox" in names and "etc/group" not in names
    # rmi of the image the container uses: docker's conflict
    refused = ctr.run("rmi", "busybox", check=False)
    assert refused.returncode == 1 and "container " + cid[:12] + " is using its referenced image" in refused.err


def test_cp_both_ways_and_no_escape(ctr, tmp_path):
    ctr.run("run", "--name", "cc", "busybox", "sh", "-c", "ln -s / /escape; ln -s /etc/passwd /tmp/pw; mkdir /d; echo 1 > /d/a")
    src = tmp_path / "f.txt"
    src.write_text("from host\n")
    ctr.run("cp", str(src), "cc:/escape/tmp/")      # /escape -> / inside the container: its root
    assert not os.path.exists("/tmp/f.txt") or open("/tmp/f.txt").read() != "from host\n"
    ctr.run("cp", "cc:/tmp/f.txt", str(tmp_path / "back.txt"))
    assert (tmp_path / "back.txt").read_text() == "from host\n"
    ctr.run("cp", "cc:/tmp/pw", str(tmp_path / "link"))  # the link itself
    assert os.readlink(tmp_path / "link") == "/etc/passwd"
    ctr.run("cp", "-L", "cc:/tmp/pw", str(tmp_path / "followed"))  # followed, inside the container
    assert (tmp_path / "followed").read_text().startswith("root:x:0:0:root:/root:/bin/sh\n")
    ctr.run("cp", "cc:/d/.", str(tmp_path / "contents"))
    assert os.listdir(tmp_path / "contents") == ["a"]
    dir_to_file = ctr.run("cp", str(tmp_path / "contents"), "cc:/d/a", check=False)
    assert dir_to_file.returncode == 1 and "cannot copy a directory to a file" in dir_to_file.err
    assert "A /tmp/f.txt" in ctr.run("diff", "cc").out.splitlines()
    ctr.run("start", "-a", "cc", check=False)


def test_volumes_with_containers(ctr, data_root, busybox_tar):
    ctr.run("image", "import", "-c", 'CMD ["/bin/sh"]', "-c", "VOLUME /etc", busybox_tar, "withvol:1")
    ctr.run("run", "--name", "ww", "-v", "data:/data", "withvol:1", "sh", "-c", "echo kept > /data/f; cat /etc/passwd > /dev/null")
    points = json.loads(ctr.run("container", "inspect", "ww").out)[0]["Mounts"]
    anonymous = [m["Name"] for m in points if m["Destination"] == "/etc"]
    assert len(anonymous) == 1 and len(anonymous[0]) == 64
    anon_dir = os.path.join(data_root, "volumes", anonymous[0], "_data")
    assert "passwd" in os.listdir(anon_dir)  # filled from the image on first use
    # cp reaches the volume, not the container's layer below the mount point
    note = os.path.join(data_root, "note.txt")
    with open(note, "w") as f:
        f.write("into the volume\n")
    ctr.run("cp", note, "ww:/data/")
    assert open(os.path.join(data_root, "volumes", "data", "_data", "note.txt")).read() == "into the volume\n"
    assert ctr.run("cp", "ww:/data/f", "-").returncode == 0
    refused = ctr.run("volume", "rm", "data", check=False)
    assert refused.returncode == 1 and "volume is in use" in refused.err
    ctr.run("rm", "-v", "ww")
    assert not os.path.exists(anon_dir)  # rm -v takes the anonymous volume
    assert open(os.path.join(data_root, "volumes", "data", "_data", "f")).read() == "kept\n"  # the named one stays
    out = ctr.run("run", "--rm", "-v", "data:/mnt", "busybox", "cat", "/mnt/f").out
    assert out == "kept\n"
    ctr.run("volume", "rm", "data")
    assert ctr.run("system", "check").returncode == 0


def test_vfs_container_diff_and_commit(data_root, busybox_tar):
    from tests.conftest import LaminaCLI

    vfs = LaminaCLI(data_root, driver="vfs")
    vfs.run("image", "import", "-c", 'CMD ["/bin/sh"]', busybox_tar, "busybox:latest")
    try:
        vfs.run("run", "--name", "vv", "busybox", "sh", "-c", "echo v > /new; rm /etc/group")
        assert vfs.run("diff", "vv").out.splitlines() == ["C /etc", "D /etc/group", "A /new"]
        vfs.run("commit", "vv", "vfs-child")
        assert vfs.run("run", "--rm", "vfs-child", "sh", "-c", "cat /new; test -e /etc/group || echo gone").out == "v\ngone\n"
    finally:
        vfs.run("rm", "-f", "vv", check=False)
