"""A dockerd on a lamina data root: containers it made are read by lamina's ``container diff``,
``commit``, ``export`` and ``cp`` from the on-disk format alone, with docker's own answers as the
reference; lamina's committed image is run by docker."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import tarfile
import tempfile

import pytest

from lamina.testing.dockerd import Dockerd, docker_cli, dockerd_binary

SCRIPT = (
    "echo hi > /new.txt; echo x >> /etc/passwd; rm /etc/group; rm -rf /var/log; mkdir -p /var/log; "
    "touch /var/log/a; mkdir -p /home/u/deep; echo d > /home/u/deep/f; ln -s /x /tmp/link; "
    "rm -rf /usr/sbin; mkdir /usr/sbin; touch /usr/sbin/z; chmod 700 /root; ln -s / /escape"
)


class _Daemon(Dockerd):
    def halt(self) -> None:
        """Stop dockerd but keep its data root (lamina's), so lamina can work on it alone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            self.proc.wait(30)


@pytest.fixture(scope="module")
def world(tmp_path_factory, busybox_tar):
    if os.geteuid() != 0:
        pytest.skip("dockerd needs root")
    if dockerd_binary() is None or docker_cli() is None:
        pytest.skip("docker.io is not installed (install.sh installs it)")
    from tests.conftest import LaminaCLI

    base = tempfile.mkdtemp(prefix="lamina-ctrfs-", dir="/var/tmp")
    lamina = LaminaCLI(os.path.join(base, "data"))
    lamina.run("import", "-c", 'CMD ["sh"]', busybox_tar, "busybox:latest")
    daemon = _Daemon(base)
    try:
        daemon.start()
    except RuntimeError as exc:
        daemon.stop()
        pytest.skip(f"dockerd could not start here: {exc}")
    try:
        daemon.docker("run", "--name", "c1", "--network", "none", "busybox", "sh", "-c", SCRIPT)
        daemon.docker("create", "--name", "c2", "--network", "none", "busybox", "sh")
        daemon.docker("volume", "create", "dv")
        daemon.docker("create", "--name", "c3", "--network", "none", "-v", "dv:/data", "busybox", "sh")
        reference = {
            "diff": sorted(daemon.docker("diff", "c1").stdout.decode().splitlines()),
            "export": sorted(_names(daemon.docker("export", "c1").stdout)),
            "id": daemon.docker("inspect", "-f", "{{.Id}}", "c1").stdout.decode().strip(),
        }
        daemon.docker("commit", "-m", "msg", "-a", "me", "-c", "ENV X=1", "c1", "dock:1")
        reference["commit"] = json.loads(daemon.docker("inspect", "dock:1").stdout)[0]
        reference["rmi"] = daemon.docker("rmi", "busybox", check=False).stderr.decode()
        reference["rmi_id"] = daemon.docker("rmi", reference["commit"]["Parent"][7:19], check=False).stderr.decode()
        daemon.halt()
        yield daemon, lamina, reference
    finally:
        daemon.stop()


def _names(data: bytes) -> list[str]:
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.getnames()


def test_diff_prints_what_docker_diff_prints(world):
    _, lamina, reference = world
    out = lamina.run("diff", "c1").out.splitlines()
    assert sorted(out) == reference["diff"]
    assert "D /usr/sbin/chroot" in out and "A /usr/sbin/z" in out and "C /root" in out
    # docker's walk order: a directory before what is in it, entries in byte order
    assert out.index("C /etc") < out.index("D /etc/group") < out.index("C /etc/passwd") < out.index("A /new.txt")
    assert lamina.run("diff", reference["id"][:10]).out.splitlines() == out
    assert lamina.run("diff", "c2").out == ""
    missing = lamina.run("diff", "nope", check=False)
    assert missing.returncode == 1 and missing.err.strip() == "Error: No such container: nope"


def test_export_lists_what_docker_export_lists(world, tmp_path):
    _, lamina, reference = world
    out = tmp_path / "c1.tar"
    lamina.run("export", "-o", str(out), "c1")
    assert sorted(_names(out.read_bytes())) == reference["export"]
    piped = lamina.run("container", "export", "c1") if _has_container_group(lamina) else lamina.run("export", "c1")
    assert piped.stdout == out.read_bytes()
    # import of the export is a single-layer image of the same files
    lamina.run("import", str(out), "flat:1")
    doc = json.loads(lamina.run("inspect", "flat:1").out)[0]
    assert len(doc["RootFS"]["Layers"]) == 1


def _has_container_group(lamina) -> bool:
    return lamina.run("container", "--help", check=False).returncode == 0


def test_commit_matches_docker_commit_and_docker_runs_it(world):
    daemon, lamina, reference = world
    image_id = lamina.run("commit", "-m", "msg", "-a", "me", "-c", "ENV X=1", "c1", "lam:1").out.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    mine = json.loads(lamina.run("inspect", "lam:1").out)[0]
    theirs = reference["commit"]
    for key in ("Comment", "Author", "Config", "ContainerConfig", "Container", "Parent"):
        assert mine[key] == theirs[key], key
    assert mine["RootFS"]["Layers"][:-1] == theirs["RootFS"]["Layers"][:-1]
    assert len(mine["RootFS"]["Layers"]) == 2
    # the two new layers hold the same files (DiffIDs differ only by tar header details)
    assert _layer_tree(lamina.root, mine["RootFS"]["Layers"]) == _layer_tree(lamina.root, theirs["RootFS"]["Layers"])

    daemon.start()
    try:
        run = daemon.docker("run", "--rm", "--network", "none", "lam:1", "sh", "-c",
                            "cat /new.txt; ls /usr/sbin; test -e /etc/group || echo nogroup; echo $X")
        assert run.stdout.decode().split() == ["hi", "z", "nogroup", "1"]
        assert daemon.docker("diff", "c1").stdout.decode().splitlines() != []
    finally:
        daemon.halt()


def _layer_tree(root: str, layers: list[str]) -> list[tuple]:
    from lamina.digest import Digest
    from lamina.oci import chain_ids

    chain = chain_ids([Digest.parse(d) for d in layers])[-1]
    with open(os.path.join(root, "image/overlay2/layerdb/sha256", chain.hex, "cache-id")) as f:
        diff = os.path.join(root, "overlay2", f.read().strip(), "diff")
    out = []
    for dirpath, dirnames, filenames in os.walk(diff):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            try:
                opaque = os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False)
            except OSError:
                opaque = b""
            body = open(path, "rb").read() if os.path.isfile(path) and not os.path.islink(path) else b""
            out.append((os.path.relpath(path, diff), st.st_mode, st.st_uid, st.st_rdev, opaque, body))
    return sorted(out)


def test_cp_both_ways_and_no_escape(world, tmp_path):
    daemon, lamina, _ = world
    # out of a stopped container
    lamina.run("cp", "c1:/home/u", str(tmp_path / "u"))
    assert (tmp_path / "u" / "deep" / "f").read_text() == "d\n"
    lamina.run("cp", "c1:/etc/passwd", str(tmp_path))
    assert (tmp_path / "passwd").read_text().endswith("x\n")
    listing = _names(lamina.run("cp", "c1:/home/u/deep", "-").stdout)
    assert listing == ["deep", "deep/f"]
    # into it: the upper directory gets the file, the image's layer does not
    src = tmp_path / "hello.txt"
    src.write_text("hello\n")
    lamina.run("cp", str(src), "c1:/etc/")
    lamina.run("cp", str(src), "c2:/tmp/renamed.txt")
    assert "A /etc/hello.txt" in lamina.run("diff", "c1").out.splitlines()
    assert lamina.run("diff", "c2").out.splitlines() == ["C /tmp", "A /tmp/renamed.txt"]
    # /escape is a symlink to / inside the container: it leads to the container's root, never the host's
    lamina.run("cp", str(src), "c1:/escape/tmp/")
    assert not os.path.exists("/tmp/hello.txt") or open("/tmp/hello.txt").read() != "hello\n"
    assert "A /tmp/hello.txt" in lamina.run("diff", "c1").out.splitlines()
    lamina.run("cp", "c1:/escape/etc/passwd", str(tmp_path / "their-passwd"))
    assert (tmp_path / "their-passwd").read_text() == (tmp_path / "passwd").read_text()
    # a hostile tar on stdin cannot write outside the destination
    evil = io.BytesIO()
    with tarfile.open(fileobj=evil, mode="w") as tar:
        info = tarfile.TarInfo("../../../../tmp/lamina-cp-escape")
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    refused = lamina.run("cp", "-", "c2:/tmp", input=evil.getvalue(), check=False)
    assert refused.returncode == 125 and "outside" in refused.err
    assert not os.path.exists("/tmp/lamina-cp-escape")
    missing = lamina.run("cp", "c1:/nope", str(tmp_path), check=False)
    assert missing.returncode == 1 and missing.err.startswith("Error: Could not find the file")

    daemon.start()
    try:  # docker sees what lamina copied in
        assert daemon.docker("cp", "c2:/tmp/renamed.txt", "-").returncode == 0
        assert "A /tmp/renamed.txt" in daemon.docker("diff", "c2").stdout.decode().splitlines()
    finally:
        daemon.halt()


def test_no_mounts_left_behind(world):
    _, lamina, _ = world
    out = subprocess.run(["findmnt", "-rn", "-o", "TARGET"], capture_output=True, text=True).stdout
    assert not [line for line in out.splitlines() if line.startswith(os.path.join(lamina.root, "overlay2"))]


def test_volumes_are_shared_with_dockerd(world):
    daemon, lamina, _ = world
    assert "dv" in lamina.run("volume", "ls", "-q").out.split()
    refused = lamina.run("volume", "rm", "dv", check=False)
    assert refused.returncode == 1 and "volume is in use" in refused.err
    lamina.run("volume", "create", "--label", "made=lamina", "lv")
    mountpoint = json.loads(lamina.run("volume", "inspect", "lv").out)[0]["Mountpoint"]
    with open(os.path.join(mountpoint, "f"), "w") as f:
        f.write("from lamina\n")
    daemon.start()
    try:
        assert "lv" in daemon.docker("volume", "ls", "-q").stdout.decode().split()
        run = daemon.docker("run", "--rm", "--network", "none", "-v", "lv:/d", "busybox", "cat", "/d/f")
        assert run.stdout == b"from lamina\n"
        assert json.loads(daemon.docker("volume", "inspect", "lv").stdout)[0]["Mountpoint"] == mountpoint
    finally:
        daemon.halt()
    lamina.run("volume", "rm", "lv")


def test_rmi_refuses_an_image_a_dockerd_container_uses(world):
    _, lamina, reference = world
    for args, theirs in ((["rmi", "busybox"], reference["rmi"]),
                         (["rmi", reference["commit"]["Parent"][7:19]], reference["rmi_id"])):
        mine = lamina.run(*args, check=False)
        assert mine.returncode == 1
        # three containers use the image; which one each names is map order: compare the rest
        def shape(text: str) -> str:
            return re.sub(r"container [0-9a-f]{12}", "container X", text.strip())

        assert shape(mine.err.removeprefix("Error: ")) == shape(theirs.removeprefix("Error response from daemon: "))
