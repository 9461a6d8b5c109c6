from __future__ import annotations

import os
import tempfile

import pytest

from lamina.testing.dockerd import Dockerd, docker_cli, dockerd_binary


@pytest.fixture(scope="session")
def dockerd():
    if os.geteuid() != 0:
        pytest.skip("dockerd needs root")
    if dockerd_binary() is None or docker_cli() is None:
        pytest.skip("docker.io is not installed (install.sh installs it)")
    base = tempfile.mkdtemp(prefix="lamina-dockerd-", dir="/var/tmp")
    daemon = Dockerd(base)
    try:
        daemon.start()
    except RuntimeError as exc:
        pytest.skip(f"dockerd could not start here: {exc}")
    yield daemon
    daemon.stop()
