"""Fixtures shared by every test tier."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from lamina.testing.rootfs import busybox_path, write_busybox_rootfs


def pytest_collection_modifyitems(config, items):
    for item in items:
        path = str(item.fspath)
        if "/tests/integration/" in path:
            item.add_marker(pytest.mark.root)
        if "/tests/interop/" in path:
            item.add_marker(pytest.mark.interop)


@pytest.fixture(scope="session")
def busybox_tar(tmp_path_factory) -> str:
    if busybox_path() is None:
        pytest.skip("busybox is not installed (apt-get install busybox-static)")
    path = tmp_path_factory.mktemp("rootfs") / "busybox.tar"
    with open(path, "wb") as f:
        write_busybox_rootfs(f)
    return str(path)


def _unmount_below(path: str) -> None:
    from lamina.mount import mounts_under, unmount

    try:
        for point in mounts_under(path):
            unmount(point, detach=True)
    except OSError:
        pass


def _clear_network(root: str) -> None:
    """A data root's bridges, rules and DNS server live on the host, not under the root:
    take them away with it (what a reboot would do)."""
    if os.geteuid() != 0 or not os.path.isdir(os.path.join(root, "network")):
        return
    from lamina import Engine

    Engine(root).networks.clear_host()


@pytest.fixture
def data_root(tmp_path):
    root = tmp_path / "lamina"
    yield str(root)
    _clear_network(str(root))
    _unmount_below(str(root))
    shutil.rmtree(root, ignore_errors=True)


class LaminaCLI:
    """Runs the real ``lamina`` entry point in a subprocess against one data root."""

    def __init__(self, root: str, driver: str | None = None) -> None:
        self.root = root
        self.driver = driver

    def argv(self, *args: str) -> list[str]:
        base = [sys.executable, "-m", "lamina", "--data-root", self.root]
        if self.driver:
            base += ["--storage-driver", self.driver]
        return base + list(args)

    def run(self, *args: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
        proc = subprocess.run(self.argv(*args), input=input, capture_output=True, timeout=300)
        proc.out = proc.stdout.decode(errors="replace")  # type: ignore[attr-defined]
        proc.err = proc.stderr.decode(errors="replace")  # type: ignore[attr-defined]
        if check and proc.returncode != 0:
            raise AssertionError(f"lamina {' '.join(args)} exited {proc.returncode}: {proc.err}")
        return proc


@pytest.fixture
def lamina(data_root):
    return LaminaCLI(data_root)


@pytest.fixture(autouse=True)
def _integration_needs_root(request):
    """Integration tests mount overlays and make device nodes: skip them, saying so, without root."""
    if "/tests/integration/" in str(request.node.fspath) and os.geteuid() != 0:
        pytest.skip("needs root (mounts, device nodes, ownership)")
