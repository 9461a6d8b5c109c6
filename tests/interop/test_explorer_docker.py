"""The layer explorer on images docker built (a multi-step Dockerfile with docker's classic
builder, real RUN steps in containers), loaded from ``docker save`` and read straight from the
archive; and a dockerd started on a data root whose layers carry lamina's file indexes."""

from __future__ import annotations

import json
import os
import tempfile

import pytest

from lamina.testing.dockerd import Dockerd

pytestmark = pytest.mark.timeout(900)

DOCKERFILE = """\
FROM explorer/base:v1
RUN mkdir -p /var/www/html /opt/x && echo hello > /var/www/html/index.html && echo old > /opt/x/old
RUN echo 'www-data:x:82:82::/home/www-data:/sbin/nologin' >> /etc/passwd
COPY docker-php-entrypoint /usr/local/bin/
RUN ln /usr/local/bin/docker-php-entrypoint /usr/local/bin/hard && ln -s docker-php-entrypoint /usr/local/bin/soft
RUN rm -rf /var/www/html /opt/x && rm /etc/group && mkdir /opt/x && echo new > /opt/x/new
CMD ["sh"]
"""


@pytest.fixture(scope="module")
def docker_built(dockerd, busybox_tar, tmp_path_factory):
    """docker build of DOCKERFILE, saved: (archive path, image ID)."""
    work = tmp_path_factory.mktemp("explorer-build")
    with open(busybox_tar, "rb") as f:
        dockerd.docker("import", "-", "explorer/base:v1", input=f.read())
    (work / "Dockerfile").write_text(DOCKERFILE)
    (work / "docker-php-entrypoint").write_text("#!/bin/sh\nexec \"$@\"\n")
    env_build = ["build", "--network", "none", "-t", "explorer/php:v1", str(work)]
    proc = dockerd.docker(*env_build, check=False)
    if proc.returncode != 0:
        # docker 23+'s CLI wants buildx for BuildKit; the classic builder needs DOCKER_BUILDKIT=0
        import subprocess

        env = dict(dockerd.env(), DOCKER_BUILDKIT="0")
        proc = subprocess.run(["docker", *env_build], env=env, capture_output=True, timeout=600)
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    image_id = dockerd.docker("image", "inspect", "-f", "{{.Id}}", "explorer/php:v1").stdout.decode().strip()
    archive = work / "php.tar"
    dockerd.docker("save", "-o", str(archive), "explorer/php:v1")
    yield str(archive), image_id
    dockerd.docker("rmi", "-f", "explorer/php:v1", "explorer/base:v1", check=False)


def test_docker_built_image_explored_after_load_and_in_its_archive(docker_built, lamina):
    archive, image_id = docker_built
    from_archive = lamina.run("image", "blame", "--archive", archive, "explorer/php:v1",
                              "/var/www/html/index.html", "/etc/group", "/opt/x/old", "/opt/x/new", "bin/hard").out
    lamina.run("load", "-i", archive)
    assert lamina.run("image", "inspect", "-f", "{{.Id}}", "explorer/php:v1").out.strip() == image_id
    rows = [json.loads(x) for x in lamina.run("image", "layers", "--format", "json", "explorer/php:v1").out.splitlines()]
    layered = [r for r in rows if r["Index"] is not None]
    assert len(layered) == 6 and rows[-1]["CreatedBy"] == 'CMD ["sh"]' and rows[-1]["Index"] is None
    assert layered[1]["CreatedBy"].startswith("RUN mkdir -p /var/www/html")
    assert layered[3]["CreatedBy"].startswith("COPY file:") and layered[3]["Files"] == 1
    blame = lamina.run("image", "blame", "explorer/php:v1", "/var/www/html/index.html", "/etc/group",
                       "/opt/x/old", "/opt/x/new", "bin/hard").out
    lines = blame.splitlines()
    assert "/var/www/html/index.html: added in layer 2 (RUN mkdir -p /var/www/html" in lines[lines.index(next(x for x in lines if x.startswith("/var/www/html/index.html")))]
    assert "  deleted in layer 6 by a whiteout of /var/www/html (RUN rm -rf /var/www/html" in blame
    assert "/etc/group: added in layer 1" in blame and "  deleted in layer 6 by a whiteout (RUN rm -rf" in blame
    assert "  deleted in layer 6: /opt/x was made opaque" in blame
    assert "/opt/x/new: added in layer 6" in blame and "/usr/local/bin/hard: added in layer 5" in blame
    # the archive, read in place, tells the same story (without the on-disk locations)
    assert [x for x in lines if not x.startswith("  now:")] == from_archive.splitlines()
    # every row's diff dir holds what its layer added or changed
    for row in layered:
        for line in lamina.run("image", "diff", "explorer/php:v1", "--layer", str(row["Index"])).out.splitlines():
            kind, path = line.split(" ", 1)
            if kind != "D":
                assert os.path.lexists(row["Dir"] + path), (row["Index"], line)
    layer5 = lamina.run("image", "diff", "explorer/php:v1", "--layer", "5").out.splitlines()
    assert "A /usr/local/bin/hard" in layer5 and "A /usr/local/bin/soft" in layer5
    tree = lamina.run("image", "tree", "explorer/php:v1", "/usr/local/bin").out
    assert "soft -> docker-php-entrypoint" in tree and "hard (hard link to /usr/local/bin/docker-php-entrypoint)" in tree
    waste = json.loads(lamina.run("image", "waste", "--format", "json", "explorer/php:v1").out)
    paths = {r["Path"] for r in waste["Rows"]}
    assert {"/var/www/html", "/etc/group", "/opt/x"} <= paths and "/etc/passwd" in paths


def test_dockerd_on_a_lamina_root_with_file_indexes(busybox_tar, lamina):
    """dockerd ignores lamina-files in layerdb entries: it lists, runs and removes the images."""
    from lamina.testing.dockerd import docker_cli, dockerd_binary

    if os.geteuid() != 0 or dockerd_binary() is None or docker_cli() is None:
        pytest.skip("needs root and docker.io")
    base = tempfile.mkdtemp(prefix="lamina-dockerd-root-", dir="/var/tmp")
    root = os.path.join(base, "data")
    lamina = type(lamina)(root)  # the same CLI runner, on the data root dockerd will use
    lamina.run("import", "-c", 'CMD ["cat", "/etc/motd"]', busybox_tar, "explorer/shared:v1")
    entries = os.path.join(root, "image", "overlay2", "layerdb", "sha256")
    assert all(os.path.isfile(os.path.join(entries, e, "lamina-files")) for e in os.listdir(entries))
    assert lamina.run("image", "layers", "explorer/shared:v1").returncode == 0
    daemon = Dockerd(base)
    try:
        try:
            daemon.start()
        except RuntimeError as exc:
            pytest.skip(f"dockerd could not start here: {exc}")
        assert "explorer/shared" in daemon.docker("images").stdout.decode()
        run = daemon.docker("run", "--rm", "--network", "none", "explorer/shared:v1", "ls", "/bin/busybox", check=False)
        assert run.returncode == 0, run.stderr.decode()
        assert "/bin/busybox" in run.stdout.decode()
        # a layer dockerd itself stores (its own tar-split.json.gz, no lamina-files) ...
        daemon.docker("run", "--name", "mk", "--network", "none", "explorer/shared:v1",
                      "sh", "-c", "echo changed > /etc/motd; rm /etc/group; mkdir -p /srv/new")
        daemon.docker("commit", "mk", "explorer/shared:v2")
        daemon.docker("rm", "mk")
        daemon.proc.terminate()
        daemon.proc.wait(60)
        # ... is indexed by lamina on first use, from docker's record
        top = [json.loads(x) for x in lamina.run("image", "layers", "--format", "json", "explorer/shared:v2").out.splitlines()][-1]
        assert top["Index"] == 2 and top["Files"] == 1  # etc/motd (a whiteout and dirs are not files)
        changes = lamina.run("image", "diff", "explorer/shared:v2", "--layer", "2").out.splitlines()
        assert {"C /etc", "D /etc/group", "A /etc/motd", "A /srv/new"} <= set(changes)
        blame = lamina.run("image", "blame", "explorer/shared:v2", "/etc/group").out
        assert "/etc/group: added in layer 1" in blame and "deleted in layer 2 by a whiteout" in blame
        assert lamina.run("system", "check").returncode == 0
        daemon.start()
        daemon.docker("rmi", "explorer/shared:v2", "explorer/shared:v1")
        assert os.listdir(entries) == []  # dockerd removed the whole entries, lamina's files with them
    finally:
        daemon.stop()
