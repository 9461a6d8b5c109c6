"""lamina ↔ podman through save/load archives (podman with its own storage in a temp dir)."""

from __future__ import annotations

import shutil
import subprocess
import tempfile

import pytest

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def podman(tmp_path):
    if shutil.which("podman") is None:
        pytest.skip("podman is not installed (install.sh installs it)")
    runroot = tempfile.mkdtemp(prefix="lamina-podman-")  # podman wants a runroot under 50 characters
    base = ["podman", "--root", str(tmp_path / "podman-root"), "--runroot", runroot, "--storage-driver", "vfs"]

    def run(*args: str) -> str:
        proc = subprocess.run([*base, *args], capture_output=True, text=True, timeout=240)
        assert proc.returncode == 0, f"podman {' '.join(args)}: {proc.stderr}"
        return proc.stdout

    yield run
    subprocess.run([*base, "system", "reset", "--force"], capture_output=True, timeout=120)
    shutil.rmtree(runroot, ignore_errors=True)


def test_podman_loads_lamina_archives_and_lamina_loads_podmans(podman, lamina, busybox_tar, tmp_path):
    image_id = lamina.run("import", "-c", 'CMD ["echo", "hi"]', busybox_tar, "pd/busybox:v1").out.strip()
    archive = tmp_path / "from-lamina.tar"
    lamina.run("save", "-o", str(archive), "pd/busybox:v1")
    assert "Loaded image: docker.io/pd/busybox:v1" in podman("load", "-i", str(archive))
    assert podman("image", "inspect", "-f", "{{.Id}}", "pd/busybox:v1").strip() == image_id[len("sha256:"):]

    lamina.run("rmi", "pd/busybox:v1")
    for fmt in ("docker-archive", "oci-archive"):
        saved = tmp_path / f"{fmt}.tar"
        podman("save", "--format", fmt, "-o", str(saved), "pd/busybox:v1")
        assert "Loaded image: pd/busybox:v1" in lamina.run("load", "-i", str(saved)).out
        assert lamina.run("inspect", "-f", "{{.Id}}", "pd/busybox:v1").out.strip() == image_id
        lamina.run("rmi", "pd/busybox:v1")
