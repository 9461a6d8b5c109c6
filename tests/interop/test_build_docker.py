"""The same Dockerfile (COPY, ADD, RUN, metadata) built by docker's classic builder and by
lamina: same files, same config, same history.

busybox is imported into lamina and loaded into a private dockerd from lamina's ``save`` (the
same base image ID). Both results are then compared inside dockerd: lamina's image is loaded
there too, each is exported through ``docker create`` + ``docker export`` (the merged
filesystem, as docker sees it) and inspected.
"""

from __future__ import annotations

import io
import json
import os
import re
import tarfile

DOCKERFILE = """FROM busybox
ARG WHO=world
ENV GREETING="hello $WHO" APP=/app
LABEL "maintainer"="fiona@example.com" rating="Five Stars"
WORKDIR $APP
COPY hello.c run.sh ./
COPY tree /opt/tree/
COPY --chown=1000:1000 hello.c /owned/
ADD pkg.tar.gz /usr/local/
RUN echo "built for $WHO" > /built && chmod 640 /built && rm /bin/false && mkdir -p /var/cache/x
EXPOSE 80 53/udp
VOLUME /data
USER nobody
STOPSIGNAL SIGHUP
HEALTHCHECK --interval=5m --timeout=3s CMD wget -q localhost || exit 1
ENTRYPOINT ["/bin/echo", "-n"]
CMD ["hello"]
ONBUILD COPY . /src
"""


def _context(path):
    path.mkdir()
    (path / "Dockerfile").write_text(DOCKERFILE)
    (path / "hello.c").write_text('int main(){puts("Hello, world!");}\n')
    (path / "run.sh").write_text("#!/bin/sh\necho run\n")
    os.chmod(path / "run.sh", 0o755)
    (path / "tree" / "a" / "b").mkdir(parents=True)
    (path / "tree" / "a" / "b" / "leaf").write_text("leaf\n")
    os.chmod(path / "tree" / "a", 0o700)
    os.symlink("a/b/leaf", path / "tree" / "link")
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w:gz") as tar:
        info = tarfile.TarInfo("pkg/bin/tool")
        body = b"#!/bin/sh\necho tool\n"
        info.size, info.mode, info.uid, info.gid = len(body), 0o755, 7, 8
        tar.addfile(info, io.BytesIO(body))
    (path / "pkg.tar.gz").write_bytes(payload.getvalue())


def test_classic_builder_and_lamina_agree(dockerd, lamina, busybox_tar, tmp_path):
    lamina.run("image", "import", "-c", 'CMD ["sh"]', busybox_tar, "busybox:latest")
    saved = tmp_path / "busybox.tar"
    lamina.run("save", "-o", str(saved), "busybox:latest")
    dockerd.docker("load", "-i", str(saved))
    ctx = tmp_path / "ctx"
    _context(ctx)
    env = dict(dockerd.env(), DOCKER_BUILDKIT="0")
    import subprocess

    proc = subprocess.run(["docker", "build", "-t", "built:docker", str(ctx)], env=env, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    lamina.run("build", "-t", "built:lamina", str(ctx))
    ours = tmp_path / "ours.tar"
    lamina.run("save", "-o", str(ours), "built:lamina")
    dockerd.docker("load", "-i", str(ours))

    theirs_fs, ours_fs = dockerd.exported_files("built:docker"), dockerd.exported_files("built:lamina")
    assert ours_fs == theirs_fs

    def inspect(name):
        return json.loads(dockerd.docker("image", "inspect", name).stdout)[0]

    theirs, mine = inspect("built:docker"), inspect("built:lamina")
    for doc in (theirs, mine):
        doc["Config"].pop("Image")
        doc["Config"].pop("Hostname", None)
    assert mine["Config"] == theirs["Config"]
    assert mine["Author"] == theirs["Author"]
    assert len(mine["RootFS"]["Layers"]) == len(theirs["RootFS"]["Layers"])

    def created_by(name):
        rows = dockerd.docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", name).stdout.decode().splitlines()
        return [re.sub(r"(file|dir|multi):[0-9a-f]{64}", r"\1:<sum>", row) for row in rows]

    assert created_by("built:lamina") == created_by("built:docker")

    # a child of each: the ONBUILD trigger runs once, and the child's OnBuild is docker's null
    child = tmp_path / "child"
    child.mkdir()
    (child / "page.html").write_text("<h1>child</h1>\n")
    (child / "Dockerfile").write_text("ARG BASE\nFROM $BASE\n")  # copied by the trigger: the same in both
    proc = subprocess.run(["docker", "build", "--build-arg", "BASE=built:docker", "-t", "child:docker", str(child)],
                          env=env, capture_output=True)
    assert proc.returncode == 0, proc.stderr.decode()
    lamina.run("build", "--build-arg", "BASE=built:lamina", "-t", "child:lamina", str(child))
    lamina.run("save", "-o", str(ours), "child:lamina")
    dockerd.docker("load", "-i", str(ours))
    theirs, mine = inspect("child:docker"), inspect("child:lamina")
    assert theirs["Config"]["OnBuild"] is None
    for doc in (theirs, mine):
        doc["Config"].pop("Image")
        doc["Config"].pop("Hostname", None)
    assert mine["Config"] == theirs["Config"]
    assert dockerd.exported_files("child:lamina") == dockerd.exported_files("child:docker")
