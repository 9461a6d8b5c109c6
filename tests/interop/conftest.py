from __future__ import annotations

import os
import tempfile

import pytest

from lamina.testing.dockerd import Dockerd, docker_cli, dockerd_binary
from lamina.testing.registries import RegistryProcess, cncf_binary
from lamina.testing.s3 import MotoServer


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


@pytest.fixture
def registry(tmp_path):
    """``lamina registry serve`` on a free loopback port, stopped after the test."""
    with RegistryProcess(str(tmp_path / "lamina-registry")) as reg:
        yield reg


@pytest.fixture
def cncf(tmp_path):
    """The CNCF registry (``docker-registry``) on a free loopback port."""
    if cncf_binary() is None:
        pytest.skip("docker-registry (the CNCF registry) is not installed")
    with RegistryProcess(str(tmp_path / "cncf-registry"), kind="cncf") as reg:
        yield reg


@pytest.fixture
def other(lamina, tmp_path):
    """A second, empty data root: where images are pulled to."""
    return type(lamina)(str(tmp_path / "other-root"))


@pytest.fixture(scope="module")
def moto(tmp_path_factory):
    """moto's S3 server, one per test module (each test takes a bucket of its own)."""
    pytest.importorskip("moto.server")
    with MotoServer(str(tmp_path_factory.mktemp("moto"))) as server:
        yield server
