"""dockerd started on a lamina data root works with lamina's containers, and lamina with dockerd's:
the proof that ``containers/<id>/`` and ``layerdb/mounts/<id>`` are docker's formats."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile

import pytest

from lamina.testing.dockerd import Dockerd, docker_cli, dockerd_binary


def _stop_keeping_data(daemon: Dockerd) -> None:
    """Stop dockerd but keep its data root (Dockerd.stop removes everything)."""
    if daemon.proc is not None and daemon.proc.poll() is None:
        daemon.proc.send_signal(signal.SIGTERM)
        try:
            daemon.proc.wait(30)
        except subprocess.TimeoutExpired:
            daemon.proc.kill()
            daemon.proc.wait()
    subprocess.run(["umount", "-R", "-l", os.path.join(daemon.base, "exec")], capture_output=True)


@pytest.mark.timeout(300)
def test_dockerd_and_lamina_share_containers(busybox_tar):
    if os.geteuid() != 0:
        pytest.skip("dockerd needs root")
    if dockerd_binary() is None or docker_cli() is None or shutil.which("runc") is None:
        pytest.skip("docker.io and runc are needed (install.sh installs them)")
    from tests.conftest import LaminaCLI, _unmount_below

    base = tempfile.mkdtemp(prefix="lamina-dockerd-ctr-", dir="/var/tmp")
    root = os.path.join(base, "data")
    lamina = LaminaCLI(root)
    daemon = Dockerd(base)
    try:
        lamina.run("image", "import", "-c", 'CMD ["/bin/sh"]', busybox_tar, "busybox:latest")
        # docker starts it again below, and this dockerd has no bridge: no network of lamina's
        lamina.run("create", "--name", "by-lamina", "--network", "none", "busybox", "sh", "-c", "echo hi > /hello; echo ran")
        assert lamina.run("start", "-a", "by-lamina").out == "ran\n"
        lamina.run("create", "--name", "lamina-created", "busybox", "true")
        try:
            daemon.start()
        except RuntimeError as exc:
            pytest.skip(f"dockerd could not start here: {exc}")
        listed = daemon.docker("ps", "-a", "--format", "{{.Names}}|{{.Status}}").stdout.decode().splitlines()
        status = dict(line.split("|") for line in listed)
        assert status["by-lamina"].startswith("Exited (0)") and status["lamina-created"] == "Created"
        diff = daemon.docker("diff", "by-lamina").stdout.decode().splitlines()
        assert "A /hello" in diff
        daemon.docker("commit", "by-lamina", "from-lamina:1")
        assert daemon.docker("run", "--rm", "--network", "none", "from-lamina:1", "cat", "/hello").stdout == b"hi\n"
        assert daemon.docker("start", "-a", "by-lamina").stdout == b"ran\n"
        daemon.docker("create", "--name", "by-docker", "--network", "none", "busybox", "sh", "-c", "echo docker-made")
        daemon.docker("run", "--name", "ran-by-docker", "--network", "none", "busybox", "sh", "-c", "echo x > /y")
        _stop_keeping_data(daemon)

        rows = lamina.run("ps", "-a", "--format", "{{.Names}}|{{.Status}}").out.splitlines()
        names = dict(line.split("|") for line in rows)
        assert names["by-docker"] == "Created" and names["ran-by-docker"].startswith("Exited (0)")
        doc = json.loads(lamina.run("container", "inspect", "ran-by-docker").out)[0]
        assert doc["GraphDriver"]["Name"] == "overlay2" and doc["State"]["Status"] == "exited"
        assert lamina.run("start", "-a", "by-docker").out == "docker-made\n"
        lamina.run("rm", "ran-by-docker", "by-docker")
        assert "ran-by-docker" not in lamina.run("ps", "-a").out
        lamina.run("rm", "by-lamina", "lamina-created")
        report = lamina.run("system", "check", check=False)
        assert report.returncode == 0, report.out
    finally:
        _stop_keeping_data(daemon)
        _unmount_below(base)
        shutil.rmtree(base, ignore_errors=True)
