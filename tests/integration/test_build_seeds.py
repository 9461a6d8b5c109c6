"""Every Dockerfile of the seeds, built by ``lamina build`` and run as the seeds describe
(issue 12's "done means").

The seeds build on ``ubuntu``, ``node:11.11.0`` and ``busybox`` from Docker Hub, which is out of
reach here. Each Dockerfile below is the seed's, as written, with only the FROM line pointing at a
local base: ``debian:bookworm``, a ``debootstrap --variant=minbase`` tree imported with
``lamina image import`` (made once and kept under /var/cache/lamina-test, see
``lamina.testing.debian``), and ``busybox`` where the seed uses busybox. RUN steps use the host's
network (lamina's default), so ``apt-get install`` reaches the Debian mirror this host's apt uses.
Without that mirror the apt-based tests skip, saying so; the busybox ones run regardless.

All tests share one data root and its base images (module scope): ``RUN apt-get update`` on the
Debian base is built once and the later Dockerfiles find it in the cache, which is the seeds'
build-cache lesson, and keeps the file to a few minutes.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import socket
import subprocess
import time

import pytest
from tests.conftest import LaminaCLI, _clear_network, _unmount_below

from lamina.testing.debian import CACHE_DIR, apt_mirror, debootstrap_tar, mirror_unreachable

pytestmark = pytest.mark.timeout(900)

DEBIAN = "debian:bookworm"

# seed 004: `figlet hello`, `figlet -f script hello` and `figlet -f script salut`, as printed there
FIGLET_HELLO = r"""
 _          _ _
| |__   ___| | | ___
| '_ \ / _ \ | |/ _ \
| | | |  __/ | | (_) |
|_| |_|\___|_|_|\___/
"""
SCRIPT_HELLO = r"""
 _          _   _
| |        | | | |
| |     _  | | | |  __
|/ \   |/  |/  |/  /  \_
|   |_/|__/|__/|__/\__/
"""
SCRIPT_SALUT = r"""
           _
          | |
 ,   __,  | |       _|_
/ \_/  |  |/  |   |  |
 \/ \_/|_/|__/ \_/|_/|_/
"""


def banner(text: str) -> list[str]:
    """The banner's lines without trailing blanks (the seed's copy lost some of figlet's)."""
    lines = [line.rstrip() for line in text.splitlines()]
    while lines and not lines[0]:
        lines.pop(0)
    while lines and not lines[-1]:
        lines.pop()
    return lines


# fixtures ---------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lamina(tmp_path_factory, busybox_tar):
    """One data root for the file, with seed 002's busybox base imported."""
    if os.geteuid() != 0:
        pytest.skip("needs root (mounts, device nodes, ownership)")
    root = str(tmp_path_factory.mktemp("seeds") / "lamina")
    cli = LaminaCLI(root)
    cli.run("image", "import", "-c", 'CMD ["sh"]', busybox_tar, "busybox:latest")
    yield cli
    ids = cli.run("ps", "-aq", check=False).out.split()
    if ids:
        cli.run("rm", "-f", *ids, check=False)
    _clear_network(root)
    _unmount_below(root)
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def debian(lamina):
    """``debian:bookworm`` in the shared data root: the stand-in for the seeds' ubuntu."""
    mirror = apt_mirror()
    reason = mirror_unreachable(mirror)
    if reason:
        pytest.skip(f"the Debian mirror ({mirror}) is unreachable, so no apt-based seed Dockerfile can build: {reason}")
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap is not installed (apt-get install debootstrap)")
    tar = debootstrap_tar(mirror=mirror)
    lamina.run("image", "import", tar, DEBIAN)
    return DEBIAN


def build(lamina: LaminaCLI, ctx, dockerfile: str | None = None, *args: str, check: bool = True):
    if dockerfile is not None:
        (ctx / "Dockerfile").write_text(dockerfile)
    return lamina.run("build", *args, str(ctx), check=check)


def steps_cached(output: str) -> list[bool]:
    """For each step after FROM: did it come from the cache?"""
    blocks = output.split("\nStep ")[1:]
    return [" ---> Using cache" in block for block in blocks[1:]]


def built(output: str) -> str:
    """The short ID of "Successfully built <id>"."""
    return output.split("Successfully built ", 1)[1].split()[0]


def config(lamina: LaminaCLI, name: str) -> dict:
    return json.loads(lamina.run("image", "inspect", name).out)[0]["Config"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(port: int, timeout: float = 60.0) -> str:
    """``curl`` the published port until the app inside answers."""
    deadline = time.monotonic() + timeout
    while True:
        proc = subprocess.run(["curl", "-s", "-m", "5", f"http://127.0.0.1:{port}/"], capture_output=True, text=True)
        if proc.returncode == 0 and proc.stdout:
            return proc.stdout
        if time.monotonic() > deadline:
            raise AssertionError(f"nothing answered on port {port}: curl exited {proc.returncode}")
        time.sleep(0.5)


# seed 004: figlet, CMD and ENTRYPOINT ----------------------------------------------------------


FIGLET = f"""FROM {DEBIAN}
RUN apt-get update
RUN apt-get install -y figlet
"""


def test_figlet_dockerfile_cmd_and_entrypoint(lamina, debian, tmp_path):
    first = build(lamina, tmp_path, FIGLET, "-t", "figlet")
    assert "Step 2/3 : RUN apt-get update" in first.out and "Step 3/3 : RUN apt-get install -y figlet" in first.out
    assert " ---> Running in " in first.out and "Successfully tagged figlet:latest" in first.out
    hello = lamina.run("run", "--rm", "figlet", "figlet", "hello").out
    assert banner(hello) == banner(FIGLET_HELLO)

    again = build(lamina, tmp_path, None, "-t", "figlet")  # "it will be instantaneous"
    assert steps_cached(again.out) == [True, True] and built(again.out) == built(first.out)

    cmd = build(lamina, tmp_path, FIGLET + "CMD figlet -f script hello\n", "-t", "figlet")
    assert steps_cached(cmd.out) == [True, True, False]
    assert banner(lamina.run("run", "--rm", "figlet").out) == banner(SCRIPT_HELLO)
    assert lamina.run("run", "--rm", "figlet", "echo", "a command replaces CMD").out == "a command replaces CMD\n"

    entry = FIGLET + 'ENTRYPOINT ["figlet", "-f", "script"]\nCMD ["hello"]\n'
    build(lamina, tmp_path, entry, "-t", "figlet")
    assert banner(lamina.run("run", "--rm", "figlet").out) == banner(SCRIPT_HELLO)
    assert banner(lamina.run("run", "--rm", "figlet", "salut").out) == banner(SCRIPT_SALUT)
    shell = lamina.run("run", "--rm", "--entrypoint", "/bin/bash", "figlet", "-c", "echo bash here")
    assert shell.out == "bash here\n"

    history = lamina.run("history", "--no-trunc", "--format", "{{.CreatedBy}}", "figlet").out.splitlines()
    assert history[:4] == [
        '/bin/sh -c #(nop)  CMD ["hello"]',
        '/bin/sh -c #(nop)  ENTRYPOINT ["figlet" "-f" "script"]',
        "/bin/sh -c apt-get install -y figlet",
        "/bin/sh -c apt-get update",
    ]


# seed 004: cowsay -------------------------------------------------------------------------------


COWSAY = f"""FROM {DEBIAN}
RUN apt-get update
RUN apt-get install -y cowsay
RUN ln -s /usr/games/cowsay /usr/bin/cowsay
"""


def test_cowsay_solutions(lamina, debian, tmp_path):
    build(lamina, tmp_path, COWSAY, "-t", "cowsay")
    said = lamina.run("run", "--rm", "cowsay", "cowsay", "hello").out
    assert "< hello >" in said and "(oo)" in said

    second = build(lamina, tmp_path, COWSAY + 'ENTRYPOINT ["cowsay"]\nCMD ["hello"]\n', "-t", "cowsay")
    assert steps_cached(second.out) == [True, True, True, False, False]
    assert "< hello >" in lamina.run("run", "--rm", "cowsay").out
    assert "< moo >" in lamina.run("run", "--rm", "cowsay", "moo").out


# seed 004: hello.c, COPY and the build cache ---------------------------------------------------


HELLO_C = """int main () {
puts("Hello, world!");
return 0;
}
"""

UBUNTU_C = f"""FROM {DEBIAN}
RUN apt-get update
RUN apt-get install -y build-essential
COPY hello.c /
RUN make hello
CMD /hello
"""


def test_hello_c_and_copy_cache(lamina, debian, tmp_path):
    (tmp_path / "hello.c").write_text(HELLO_C)
    build(lamina, tmp_path, UBUNTU_C, "-t", "ubuntu_c")
    assert lamina.run("run", "--rm", "ubuntu_c").out == "Hello, world!\n"

    again = build(lamina, tmp_path, None, "-t", "ubuntu_c")  # "Run the build again."
    assert steps_cached(again.out) == [True, True, True, True, True]

    (tmp_path / "hello.c").write_text(HELLO_C.replace("Hello, world!", "Hello, lamina!"))
    changed = build(lamina, tmp_path, None, "--explain-cache", "-t", "ubuntu_c")
    assert steps_cached(changed.out) == [True, True, False, False, False]
    assert "Cache miss: copied files differ from cached" in changed.out and "changed: /hello.c" in changed.out
    assert lamina.run("run", "--rm", "ubuntu_c").out == "Hello, lamina!\n"


# seed 002: the thrift dev image, its intermediates and its cached rebuild ------------------------


THRIFT = f"""# Version: 1.0.0
FROM {DEBIAN}
LABEL Maintainer Bob Smith "bob@example.com"
RUN apt-get update
RUN apt-get install -y git
RUN echo 'thrift dev image v1.0.0' > /README.md
LABEL license "Apache 2.0"
"""


def test_thrift_dev_image_intermediates_and_cache(lamina, debian, tmp_path):
    """The seed's file is ``dockerfile`` in lower case, found as docker finds it."""
    (tmp_path / "dockerfile").write_text(THRIFT)
    first = build(lamina, tmp_path, None, "-t", "my-thrift-image").out
    assert "Step 1/6 : FROM debian:bookworm" in first and "Step 6/6 : LABEL license \"Apache 2.0\"" in first
    step_ids = [line.split()[-1] for line in first.splitlines() if line.startswith(" ---> ") and "Running" not in line and "cache" not in line]
    intermediates = step_ids[1:-1]  # after FROM's base, before the tagged image
    listing = lamina.run("images", "-a", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}").out
    for short in intermediates:
        assert any(line.startswith("<none>:<none> sha256:" + short) for line in listing.splitlines()), short
    assert lamina.run("run", "--rm", "my-thrift-image", "cat", "/README.md").out == "thrift dev image v1.0.0\n"
    assert lamina.run("run", "--rm", "my-thrift-image", "git", "--version").out.startswith("git version ")
    labels = config(lamina, "my-thrift-image")["Labels"]
    assert labels["license"] == "Apache 2.0" and labels["Maintainer"].startswith("Bob Smith")

    again = build(lamina, tmp_path, None, "-t", "bobsmit/thriftdev:0.1.0").out  # the seed's second build
    assert steps_cached(again) == [True] * 5 and built(again) == built(first)


# seed 002: VOLUME ---------------------------------------------------------------------------------


VOLUME_EXAMPLE = f"""FROM {DEBIAN}
RUN mkdir /myvol
RUN echo "hello world" > /myvol/greeting
VOLUME /myvol
"""


def test_volume_initialised_from_the_image(lamina, debian, tmp_path):
    """``run`` makes a new volume at /myvol and copies the greeting into it; what a build step
    writes there after VOLUME is discarded (and the step's volume does not outlive it)."""
    before = set(lamina.run("volume", "ls", "-q").out.split())
    build(lamina, tmp_path, VOLUME_EXAMPLE + "RUN echo changed > /myvol/greeting\n", "-t", "myvol")
    assert set(lamina.run("volume", "ls", "-q").out.split()) == before
    cid = lamina.run("create", "--network", "none", "myvol", "cat", "/myvol/greeting").out.strip()
    try:
        assert lamina.run("start", "-a", cid).out == "hello world\n"
        mounts = json.loads(lamina.run("container", "inspect", cid).out)[0]["Mounts"]
        assert [(m["Type"], m["Destination"]) for m in mounts] == [("volume", "/myvol")]
    finally:
        lamina.run("rm", "-v", cid)


# seed 002: compound Dockerfiles and multi-stage builds -----------------------------------------


def test_multiple_images_in_one_dockerfile(lamina, debian, tmp_path):
    """"Each FROM defines a new image stack": the image built is the last one (/oink, no /bar);
    the first stage, which nothing uses, is skipped (BuildKit's rule, issue 12)."""
    df = f"""# Multiple images example
FROM {DEBIAN}
RUN echo foo > bar

FROM {DEBIAN}
RUN echo moo > oink
"""
    out = build(lamina, tmp_path, df, "-t", "compound").out
    assert "RUN echo foo > bar" not in out
    assert lamina.run("run", "--rm", "compound", "cat", "/oink").out == "moo\n"
    assert lamina.run("run", "--rm", "compound", "ls", "/bar", check=False).returncode != 0


MULTI_STAGE = f"""# Multi-stage build example:
# First stage to build the application
FROM {DEBIAN} as build-env
RUN apt-get update
RUN apt-get install -y build-essential
ADD ./Makefile Makefile
ADD ./src src/
RUN make

# Final stage to define our minimal
# runtime
FROM busybox
COPY --from=build-env target/app /app
CMD ["/app"]
"""


def test_multi_stage_final_image_small_and_working(lamina, debian, tmp_path):
    """Seed 002's multi-stage example (a build stage with the toolchain, a minimal runtime stage
    that copies the artifact out) with the C toolchain Debian has, in place of maven's, whose
    central repository is out of reach here."""
    (tmp_path / "src").mkdir()
    (tmp_path / "src" / "app.c").write_text('#include <stdio.h>\nint main(void) { puts("built in one stage, run in another"); return 0; }\n')
    (tmp_path / "Makefile").write_text("target/app: src/app.c\n\tmkdir -p target && cc -static -O2 -o $@ $<\n")
    build(lamina, tmp_path, MULTI_STAGE, "-t", "app")
    assert lamina.run("run", "--rm", "app").out == "built in one stage, run in another\n"
    sizes = {}
    for name in ("app", "busybox"):
        sizes[name] = int(lamina.run("image", "inspect", "-f", "{{.Size}}", name).out)
    assert sizes["app"] - sizes["busybox"] < 2 << 20  # the runtime is busybox plus one binary

    toolchain = build(lamina, tmp_path, None, "--target", "build-env", "-t", "app-build").out
    assert "FROM busybox" not in toolchain and all(steps_cached(toolchain))
    assert int(lamina.run("image", "inspect", "-f", "{{.Size}}", "app-build").out) > 100 * sizes["app"]
    assert "gcc" in lamina.run("run", "--rm", "app-build", "gcc", "--version").out


# seed 002: ONBUILD -----------------------------------------------------------------------------


BOBS_APACHE = f"""# bobs/apache
FROM {DEBIAN}
LABEL Maintainer Bob Smith "bob@example.com"
RUN apt-get update
RUN apt-get install -y apache2
ENV APACHE_RUN_USER www-data
ENV APACHE_RUN_GROUP www-data
ENV APACHE_LOG_DIR /var/log/apache2
ONBUILD ADD . /var/www/
EXPOSE 80
ENTRYPOINT [ "/usr/sbin/apache2" ]
CMD [ "-D", "FOREGROUND" ]
"""

BOBS_WEBAPP = """# bobs/webapp
#   The important parts of this image
#   are the static files in the build
#   dir.
FROM bobs/apache
### BUILD TRIGGER happens here
LABEL Maintainer Bob Smith "bob@example.com"
ENV APPLICATION_NAME webapp
ENV ENVIRONMENT development
"""


def test_onbuild_triggers_run_in_children_not_grandchildren(lamina, debian, tmp_path):
    apache_ctx, webapp_ctx, grandchild_ctx = (tmp_path / n for n in ("apache", "webapp", "grandchild"))
    for ctx in (apache_ctx, webapp_ctx, grandchild_ctx):
        ctx.mkdir()
    apache = build(lamina, apache_ctx, BOBS_APACHE, "-t", "bobs/apache").out
    assert "Executing" not in apache  # a trigger does not run in the image that declares it
    assert config(lamina, "bobs/apache")["OnBuild"] == ["ADD . /var/www/"]
    assert lamina.run("run", "--rm", "--entrypoint", "ls", "bobs/apache", "/var/www").out == "html\n"

    (webapp_ctx / "index.html").write_text("<h1>bobs webapp</h1>\n")
    webapp = build(lamina, webapp_ctx, BOBS_WEBAPP, "-t", "bobs/webapp").out
    assert "# Executing 1 build trigger" in webapp
    served = lamina.run("run", "--rm", "--entrypoint", "cat", "bobs/webapp", "/var/www/index.html").out
    assert served == "<h1>bobs webapp</h1>\n"
    webapp_config = config(lamina, "bobs/webapp")
    assert not webapp_config.get("OnBuild")  # inherited once: the child does not pass it on
    assert "APPLICATION_NAME=webapp" in webapp_config["Env"] and "APACHE_RUN_USER=www-data" in webapp_config["Env"]
    assert webapp_config["Entrypoint"] == ["/usr/sbin/apache2"] and webapp_config["Cmd"] == ["-D", "FOREGROUND"]
    assert lamina.run("run", "--rm", "--entrypoint", "test", "bobs/webapp", "-x", "/usr/sbin/apache2").returncode == 0

    (grandchild_ctx / "grandchild.html").write_text("not copied\n")
    grandchild = build(lamina, grandchild_ctx, "FROM bobs/webapp\nENV LEVEL grandchild\n", "-t", "bobs/grandchild").out
    assert "Executing" not in grandchild
    listing = lamina.run("run", "--rm", "--entrypoint", "ls", "bobs/grandchild", "/var/www").out.split()
    assert "grandchild.html" not in listing and "index.html" in listing


# seed 002: ARG, USER and STOPSIGNAL (busybox) --------------------------------------------------


PARAMETERIZED = """#parameterized Dockerfile
FROM busybox
ARG user
USER $user
STOPSIGNAL SIGHUP
"""


def test_arg_user_stopsignal(lamina, tmp_path):
    build(lamina, tmp_path, PARAMETERIZED, "--build-arg", "user=frodo", "-t", "param:frodo")
    frodo = config(lamina, "param:frodo")
    assert frodo["User"] == "frodo" and frodo["StopSignal"] == "SIGHUP"
    assert not any(e.startswith("user=") for e in frodo["Env"])  # an ARG is not kept in the image
    refused = lamina.run("run", "--rm", "param:frodo", "true", check=False)
    assert refused.returncode != 0 and "unable to find user frodo" in refused.err

    build(lamina, tmp_path, None, "--build-arg", "user=nobody", "-t", "param:nobody")
    assert lamina.run("run", "--rm", "param:nobody", "id", "-u").out == "65534\n"
    unset = build(lamina, tmp_path, None, "-t", "param:default")
    assert config(lamina, "param:default")["User"] == "" and "Successfully built" in unset.out
    assert lamina.run("run", "--rm", "param:default", "id", "-u").out == "0\n"

    # `docker stop` sends the image's STOPSIGNAL
    script = "trap 'echo got SIGHUP; exit 0' HUP; echo ready; while :; do sleep 0.1; done"
    cid = lamina.run("run", "-d", "--network", "none", "param:nobody", "sh", "-c", script).out.strip()
    deadline = time.monotonic() + 30
    while "ready" not in lamina.run("logs", cid).out and time.monotonic() < deadline:
        time.sleep(0.1)
    lamina.run("stop", "-t", "20", cid)
    assert lamina.run("logs", cid).out.splitlines() == ["ready", "got SIGHUP"]
    assert lamina.run("container", "inspect", "-f", "{{.State.ExitCode}}", cid).out.strip() == "0"
    lamina.run("rm", cid)


# seed 003: the WHO web app ----------------------------------------------------------------------


#: the stand-in for node:11.11.0: Debian's node (and its express), npm, and apt for supervisor
NODE_BASE = f"""FROM {DEBIAN}
RUN apt-get update && apt-get install -y --no-install-recommends nodejs npm node-express && rm -rf /var/lib/apt/lists/*
CMD ["node"]
"""

WHO_DOCKERFILE = """FROM {node}

LABEL "maintainer"="fiona@example.com"
LABEL "rating"="Five Stars" "class"="First Class"

USER root

ENV AP /data/app
ENV SCPATH /etc/supervisor/conf.d

RUN apt-get -y update

# Daemons
RUN apt-get -y install supervisor
RUN mkdir -p /var/log/supervisor

# Supervisor configuration
ADD ./superivsord/conf.d/* $SCPATH/

# Application code

ADD *.js* $AP/

WORKDIR $AP

RUN npm install

CMD ["supervisord", "-n"]
"""

INDEX_JS = """var DEFAULT_PORT = 8080;
var PORT = process.env.PORT || DEFAULT_PORT;
var express = require('express');
var app = express();

var DEFAULT_WHO = "World";
var WHO = process.env.WHO || DEFAULT_WHO;
app.get('/', function (req, res){
	res.send('Hello ' + WHO + '. Wish you were here. \\n');
});

app.listen(PORT);
console.log('Running on http://localhost:' + PORT);
"""

#: express comes with the base (Debian's node-express), so npm install needs no registry
PACKAGE_JSON = '{\n  "name": "docker-node-hello",\n  "private": true,\n  "version": "0.0.1",\n  "main": "index.js"\n}\n'

NODE_CONF = """[program:node-hello]
command=node /data/app/index.js
autorestart=true
stdout_logfile=/dev/stdout
stdout_logfile_maxbytes=0
redirect_stderr=true
"""


@pytest.fixture(scope="module")
def node_base(lamina, debian, tmp_path_factory):
    """The node stand-in, built once per Debian tarball and kept beside it (``lamina save``),
    as a pulled base image would be: later sessions ``load`` it instead of installing 400
    packages again."""
    key = hashlib.sha256(NODE_BASE.encode()).hexdigest()[:12]
    name = f"node-debian:{key}"
    saved = os.path.join(CACHE_DIR, f"node-debian-{key}.tar")
    if os.path.exists(saved):
        lamina.run("load", "-i", saved)
        return name
    ctx = tmp_path_factory.mktemp("node-base")
    build(lamina, ctx, NODE_BASE, "-t", name)
    tmp = saved + f".{os.getpid()}.tmp"
    lamina.run("save", "-o", tmp, name)
    os.replace(tmp, saved)
    return name


def test_who_web_app(lamina, node_base, tmp_path):
    conf = tmp_path / "superivsord" / "conf.d"  # the seed's spelling of the directory
    conf.mkdir(parents=True)
    (conf / "node.conf").write_text(NODE_CONF)
    (tmp_path / "index.js").write_text(INDEX_JS)
    (tmp_path / "package.json").write_text(PACKAGE_JSON)
    (tmp_path / ".dockerignore").write_text(".git\n")
    build(lamina, tmp_path, WHO_DOCKERFILE.format(node=node_base), "-t", "example/docker-node-hello:latest")
    cfg = config(lamina, "example/docker-node-hello:latest")
    assert cfg["Labels"] == {"maintainer": "fiona@example.com", "rating": "Five Stars", "class": "First Class"}
    assert cfg["WorkingDir"] == "/data/app" and cfg["Cmd"] == ["supervisord", "-n"]
    assert "AP=/data/app" in cfg["Env"] and "SCPATH=/etc/supervisor/conf.d" in cfg["Env"]

    port = free_port()
    cid = lamina.run("run", "-d", "-p", f"{port}:8080", "example/docker-node-hello:latest").out.strip()
    try:
        assert http_get(port) == "Hello World. Wish you were here. \n"
    finally:
        lamina.run("rm", "-f", cid)
    port = free_port()
    cid = lamina.run("run", "-d", "-p", f"{port}:8080", "-e", "WHO=Sean and Karl", "example/docker-node-hello:latest").out.strip()
    try:
        assert http_get(port) == "Hello Sean and Karl. Wish you were here. \n"
    finally:
        lamina.run("rm", "-f", cid)
