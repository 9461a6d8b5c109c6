"""lamina ↔ docker through save/load archives, with a private dockerd."""

from __future__ import annotations

import json

import pytest

pytestmark = pytest.mark.timeout(600)


def test_lamina_saved_image_loads_and_runs_in_docker(dockerd, lamina, busybox_tar, tmp_path):
    image_id = lamina.run("import", "-c", 'CMD ["echo", "hello from lamina"]', busybox_tar, "lamina/busybox:v1").out.strip()
    archive = tmp_path / "from-lamina.tar"
    lamina.run("save", "-o", str(archive), "lamina/busybox:v1")
    out = dockerd.docker("load", "-i", str(archive)).stdout.decode()
    assert "Loaded image: lamina/busybox:v1" in out
    assert dockerd.docker("image", "inspect", "-f", "{{.Id}}", "lamina/busybox:v1").stdout.decode().strip() == image_id
    run = dockerd.docker("run", "--rm", "--network", "none", "lamina/busybox:v1", check=False)
    assert run.returncode == 0, run.stderr.decode()
    assert run.stdout.decode().strip() == "hello from lamina"
    dockerd.docker("rmi", "lamina/busybox:v1")


def test_lamina_gzip_archive_loads_and_runs_in_docker(dockerd, lamina, busybox_tar, tmp_path):
    image_id = lamina.run("import", "-c", 'CMD ["echo", "packed"]', busybox_tar, "lamina/packed:v1").out.strip()
    archive = tmp_path / "packed.tar"
    lamina.run("save", "--compression", "gzip", "-o", str(archive), "lamina/packed:v1")
    assert "Loaded image: lamina/packed:v1" in dockerd.docker("load", "-i", str(archive)).stdout.decode()
    assert dockerd.docker("image", "inspect", "-f", "{{.Id}}", "lamina/packed:v1").stdout.decode().strip() == image_id
    run = dockerd.docker("run", "--rm", "--network", "none", "lamina/packed:v1", check=False)
    assert run.returncode == 0 and run.stdout.decode().strip() == "packed", run.stderr.decode()
    dockerd.docker("rmi", "lamina/packed:v1")


def test_docker_saved_image_loads_in_lamina_with_same_ids(dockerd, lamina, busybox_tar, tmp_path):
    with open(busybox_tar, "rb") as f:
        docker_id = dockerd.docker("import", "-c", "ENV FROM_DOCKER=1", "-", "docker/busybox:v2", input=f.read()).stdout.decode().strip()
    # docker commits a child so the archive has two layers and a parent chain
    dockerd.docker("run", "--name", "mk", "--network", "none", "docker/busybox:v2", "sh", "-c", "echo changed > /etc/motd; rm /etc/group")
    dockerd.docker("commit", "mk", "docker/busybox:v3")
    dockerd.docker("rm", "mk")
    child_id = dockerd.docker("image", "inspect", "-f", "{{.Id}}", "docker/busybox:v3").stdout.decode().strip()
    archive = tmp_path / "from-docker.tar"
    dockerd.docker("save", "-o", str(archive), "docker/busybox:v2", "docker/busybox:v3")
    out = lamina.run("load", "-i", str(archive)).out
    assert "Loaded image: docker/busybox:v2" in out and "Loaded image: docker/busybox:v3" in out
    assert lamina.run("inspect", "-f", "{{.Id}}", "docker/busybox:v2").out.strip() == docker_id
    assert lamina.run("inspect", "-f", "{{.Id}}", "docker/busybox:v3").out.strip() == child_id
    docker_layers = json.loads(dockerd.docker("image", "inspect", "-f", "{{json .RootFS.Layers}}", "docker/busybox:v3").stdout)
    assert json.loads(lamina.run("inspect", "-f", "{{json .RootFS.Layers}}", "docker/busybox:v3").out) == docker_layers
    # the whiteout of /etc/group became an overlay whiteout in the layer's diff dir
    upper = lamina.run("inspect", "-f", "{{.GraphDriver.Data.UpperDir}}", "docker/busybox:v3").out.strip()
    import os
    import stat

    st = os.lstat(os.path.join(upper, "etc", "group"))
    assert stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
    # and it round-trips back to docker with the same IDs
    back = tmp_path / "back.tar"
    lamina.run("save", "-o", str(back), "docker/busybox:v3")
    dockerd.docker("rmi", "docker/busybox:v3", "docker/busybox:v2")
    dockerd.docker("load", "-i", str(back))
    assert dockerd.docker("image", "inspect", "-f", "{{.Id}}", "docker/busybox:v3").stdout.decode().strip() == child_id
    run = dockerd.docker("run", "--rm", "--network", "none", "docker/busybox:v3", "cat", "/etc/motd")
    assert run.stdout.decode().strip() == "changed"
