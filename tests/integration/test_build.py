"""Dockerfile builds without RUN (COPY/ADD/metadata) on a real data root: layers, cache, context."""

from __future__ import annotations

import gzip
import io
import json
import os
import stat
import subprocess
import tarfile

import pytest

from lamina.build.context import open_context
from lamina.build.executor import BuildOptions
from lamina.build.imagefs import ImageFS
from lamina.engine import Engine
from lamina.errors import InvalidArgument, LaminaError, NotFound
from lamina.testing.images import image_fs


@pytest.fixture
def engine(data_root, busybox_tar):
    eng = Engine(data_root)
    with open(busybox_tar, "rb") as f:
        eng.images.import_tarball(f, reference="busybox:latest", changes=['CMD ["sh"]'])
    return eng


def build(engine, ctx_dir, dockerfile=None, **opts):
    if dockerfile is not None:
        (ctx_dir / "Dockerfile").write_text(dockerfile)
    lines: list[str] = []
    with open_context(str(ctx_dir)) as ctx:
        result = engine.build(ctx, BuildOptions(**opts), emit=lines.append)
    result.lines = lines
    return result


def fs_of(engine, image_id) -> ImageFS:
    return image_fs(engine, image_id)


def read(engine, image_id, path) -> bytes | None:
    return fs_of(engine, image_id).read_file(path.lstrip("/"))


def doc(engine, image_id):
    return engine.store.images.get(image_id).doc


METADATA_DOCKERFILE = """FROM busybox
ARG WHO=world
ENV GREETING="hello $WHO" APP=/app
LABEL "maintainer"="fiona@example.com" rating="Five Stars"
MAINTAINER Bob Smith
USER nobody
EXPOSE 80 53/udp
VOLUME ["/data", "/logs"]
STOPSIGNAL SIGHUP
HEALTHCHECK --interval=5m --timeout=3s CMD wget -q localhost || exit 1
SHELL ["/bin/sh", "-ec"]
ENTRYPOINT figlet -f script
CMD ["hello"]
ONBUILD ADD . /var/www/
"""


def test_metadata_instructions_config_and_history(engine, tmp_path):
    result = build(engine, tmp_path, METADATA_DOCKERFILE, tags=("meta:1",))
    config = doc(engine, result.image_id)
    c = config["config"]
    assert c["Env"] == [
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
        "GREETING=hello world",
        "APP=/app",
    ]
    assert c["Labels"] == {"maintainer": "fiona@example.com", "rating": "Five Stars"}
    assert c["User"] == "nobody" and c["StopSignal"] == "SIGHUP"
    assert c["ExposedPorts"] == {"80/tcp": {}, "53/udp": {}}
    assert c["Volumes"] == {"/data": {}, "/logs": {}}
    assert c["Healthcheck"] == {
        "Test": ["CMD-SHELL", "wget -q localhost || exit 1"],
        "Interval": 300_000_000_000,
        "Timeout": 3_000_000_000,
    }
    assert c["Shell"] == ["/bin/sh", "-ec"]
    assert c["Entrypoint"] == ["/bin/sh", "-ec", "figlet -f script"]
    assert c["Cmd"] == ["hello"]
    assert c["OnBuild"] == ["ADD . /var/www/"]
    assert config["author"] == "Bob Smith"
    history = config["history"][1:]
    assert all(h.get("empty_layer") for h in history)
    assert len(config["rootfs"]["diff_ids"]) == 1
    created_by = [h["created_by"] for h in history]
    assert created_by[0] == "/bin/sh -c #(nop)  ARG WHO=world"
    assert created_by[1] == "/bin/sh -c #(nop)  ENV GREETING=hello world APP=/app"
    assert created_by[-2] == '/bin/sh -ec #(nop)  CMD ["hello"]'
    assert created_by[8].startswith('/bin/sh -c #(nop)  HEALTHCHECK &{["CMD-SHELL" "wget -q localhost || exit 1"] "5m0s" "3s" "0s"')
    # every image in the chain is kept, with its parent link, and says which line made it
    assert engine.store.images.get_parent(result.image_id) is not None
    meta = os.path.join(engine.store.paths.imagedb_metadata(result.image_id), "lamina-build")
    with open(meta) as f:
        assert json.load(f) == {"dockerfile": "Dockerfile", "line": 14, "instruction": "ONBUILD ADD . /var/www/"}
    assert len(result.steps) == 13
    assert engine.images.resolve("meta:1") == result.image_id


def test_copy_layers_and_trailing_slash_rules(engine, tmp_path):
    (tmp_path / "hello.c").write_text("int main(){}\n")
    (tmp_path / "run.sh").write_text("#!/bin/sh\n")
    os.chmod(tmp_path / "run.sh", 0o750)
    (tmp_path / "dir" / "sub").mkdir(parents=True)
    (tmp_path / "dir" / "sub" / "a.txt").write_text("a")
    os.symlink("sub/a.txt", tmp_path / "dir" / "link")
    df = "\n".join(
        [
            "FROM busybox",
            "WORKDIR /app",
            "COPY hello.c .",
            "COPY hello.c /renamed.c",
            "COPY run.sh /bin/",
            "COPY dir /opt/dir/",
            "COPY --chown=1000:1000 --chmod=600 hello.c *.sh /owned/",
            "COPY <<MOTD /etc/motd",
            "hi",
            "MOTD",
            "",
        ]
    )
    result = build(engine, tmp_path, df)
    image = result.image_id
    assert read(engine, image, "app/hello.c") == b"int main(){}\n"
    assert read(engine, image, "renamed.c") == b"int main(){}\n"
    assert read(engine, image, "etc/motd") == b"hi\n"
    fs = fs_of(engine, image)
    _, run = fs.resolve("bin/run.sh")
    assert stat.S_IMODE(run.st.st_mode) == 0o750 and run.st.st_uid == 0
    _, link = fs.resolve("opt/dir/link", follow_last=False)
    assert stat.S_ISLNK(link.st.st_mode) and os.readlink(link.real) == "sub/a.txt"
    assert read(engine, image, "opt/dir/sub/a.txt") == b"a"
    _, owned = fs.resolve("owned/run.sh")
    assert (owned.st.st_uid, owned.st.st_gid, stat.S_IMODE(owned.st.st_mode)) == (1000, 1000, 0o600)
    _, bindir = fs.resolve("bin")
    assert stat.S_IMODE(bindir.st.st_mode) == 0o755
    history = doc(engine, image)["history"]
    copy_line = history[2]["created_by"]
    assert copy_line.startswith("/bin/sh -c #(nop) COPY file:") and copy_line.endswith(" in . ")
    assert "empty_layer" not in history[2]
    assert "COPY dir:" in history[5]["created_by"]
    assert "COPY --chmod=600 --chown=1000:1000multi:" in history[6]["created_by"]
    with pytest.raises(LaminaError, match="must be a directory and end with a /"):
        build(engine, tmp_path, "FROM busybox\nCOPY hello.c run.sh /nodir\n")


def test_cache_hits_and_misses(engine, tmp_path):
    (tmp_path / "hello.c").write_text("one\n")
    (tmp_path / "other").write_text("same\n")
    df = 'FROM busybox\nENV A=1\nCOPY hello.c /\nCOPY other /\nCMD ["/hello"]\n'
    first = build(engine, tmp_path, df)
    second = build(engine, tmp_path)
    assert second.image_id == first.image_id
    assert [s.cached for s in second.steps] == [True, True, True, True]
    assert " ---> Using cache" in second.lines
    # a file's time alone does not bust the cache
    os.utime(tmp_path / "hello.c", (1, 1))
    assert build(engine, tmp_path).image_id == first.image_id
    # its content does, and every step after it
    (tmp_path / "hello.c").write_text("two\n")
    third = build(engine, tmp_path, explain_cache=True)
    assert [s.cached for s in third.steps] == [True, False, False, False]
    assert any("copied files differ" in line and "/hello.c" in line for line in third.lines)
    # so does a mode
    os.chmod(tmp_path / "other", 0o600)
    fourth = build(engine, tmp_path)
    assert [s.cached for s in fourth.steps] == [True, True, False, False]
    # --no-cache rebuilds every step; the old images stay
    fifth = build(engine, tmp_path, no_cache=True)
    assert not any(s.cached for s in fifth.steps)
    assert engine.store.images.exists(first.image_id)
    # a changed instruction misses from there on
    sixth = build(engine, tmp_path, "FROM busybox\nENV A=2\nCOPY hello.c /\n", explain_cache=True)
    assert not sixth.steps[0].cached
    assert any("no child of" in line for line in sixth.lines)


def test_dockerignore_and_context_escapes(engine, tmp_path):
    (tmp_path / "keep").mkdir()
    (tmp_path / "keep" / "a").write_text("a")
    (tmp_path / "keep" / "secret.key").write_text("s")
    (tmp_path / "notes.md").write_text("n")
    (tmp_path / ".dockerignore").write_text("**/*.key\n*.md\n!important.md\nDockerfile\n")
    (tmp_path / "important.md").write_text("i")
    result = build(engine, tmp_path, "FROM busybox\nCOPY . /ctx/\n")
    fs = fs_of(engine, result.image_id)
    assert fs.read_file("ctx/keep/a") == b"a"
    assert fs.read_file("ctx/keep/secret.key") is None
    assert fs.read_file("ctx/notes.md") is None
    assert fs.read_file("ctx/important.md") == b"i"
    assert fs.read_file("ctx/Dockerfile") is None  # ignored for COPY, still read as the Dockerfile
    with pytest.raises(NotFound, match="excluded by .dockerignore"):
        build(engine, tmp_path, "FROM busybox\nCOPY notes.md /\n")
    with pytest.raises(InvalidArgument, match="forbidden path outside the build context"):
        build(engine, tmp_path, "FROM busybox\nCOPY ../../etc/passwd /\n")
    os.symlink("/etc", tmp_path / "escape")
    with pytest.raises(InvalidArgument, match="outside the build context"):
        build(engine, tmp_path, "FROM busybox\nCOPY escape/passwd /\n")
    with pytest.raises(InvalidArgument, match="outside the build context"):
        build(engine, tmp_path, "FROM busybox\nCOPY esc* /x/\n")


def test_add_archives_and_multistage(engine, tmp_path):
    payload = io.BytesIO()
    with tarfile.open(fileobj=payload, mode="w") as tar:
        info = tarfile.TarInfo("pkg/bin/tool")
        info.size, info.mode, info.uid = 4, 0o755, 42
        tar.addfile(info, io.BytesIO(b"tool"))
    (tmp_path / "pkg.tar.gz").write_bytes(gzip.compress(payload.getvalue()))
    df = "\n".join(
        [
            "ARG BASE=busybox",
            "FROM $BASE AS build",
            "ADD pkg.tar.gz /usr/local/",
            "COPY pkg.tar.gz /raw/",
            "",
            "FROM busybox AS unused",
            "COPY nothere /",
            "",
            "FROM busybox",
            "COPY --from=build /usr/local/pkg/bin/tool /bin/",
            "COPY --from=0 /raw /raw",
            "",
        ]
    )
    result = build(engine, tmp_path, df)
    fs = fs_of(engine, result.image_id)
    assert fs.read_file("bin/tool") == b"tool"
    _, tool = fs.resolve("bin/tool")
    assert tool.st.st_uid == 0  # COPY --from copies as root unless --chown
    assert fs.read_file("raw/pkg.tar.gz") == (tmp_path / "pkg.tar.gz").read_bytes()
    assert result.lines[0] == "Step 1/7 : ARG BASE=busybox"  # the unused stage is skipped
    target = build(engine, tmp_path, target="build")
    tfs = fs_of(engine, target.image_id)
    assert tfs.read_file("usr/local/pkg/bin/tool") == b"tool"
    _, extracted = tfs.resolve("usr/local/pkg/bin/tool")
    assert extracted.st.st_uid == 42  # archives keep their owners
    with pytest.raises(LaminaError, match="failed to reach build target nope"):
        build(engine, tmp_path, target="nope")


def test_onbuild_triggers_run_once(engine, tmp_path):
    parent_dir = tmp_path / "parent"
    parent_dir.mkdir()
    build(engine, parent_dir, "FROM busybox\nONBUILD COPY . /var/www/\nONBUILD ENV TRIGGERED=1\n", tags=("bobs/apache",))
    child_dir = tmp_path / "child"
    child_dir.mkdir()
    (child_dir / "index.html").write_text("<h1>hi</h1>")
    child = build(engine, child_dir, "FROM bobs/apache\nENV APPLICATION_NAME webapp\n", tags=("bobs/webapp",))
    assert "# Executing 2 build triggers" in child.lines
    c = doc(engine, child.image_id)["config"]
    assert "TRIGGERED=1" in c["Env"] and c["OnBuild"] is None  # docker's null, not []
    assert fs_of(engine, child.image_id).read_file("var/www/index.html") == b"<h1>hi</h1>"
    grand_dir = tmp_path / "grand"
    grand_dir.mkdir()
    (grand_dir / "other").write_text("x")
    grand = build(engine, grand_dir, "FROM bobs/webapp\nLABEL g=1\n")
    assert not any("Executing" in line for line in grand.lines)
    assert fs_of(engine, grand.image_id).read_file("var/www/other") is None


def test_reproducible_with_source_date_epoch(busybox_tar, tmp_path):
    """Two fresh data roots, the same base (loaded from one archive), the same context: the
    same image ID, file times in the context notwithstanding."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "f").write_text("data\n")
    (ctx / "Dockerfile").write_text(
        'FROM busybox\nENV A=1\nCOPY f /opt/new/dir/\nWORKDIR /work\nCMD ["cat", "/opt/new/dir/f"]\n'
    )
    first = Engine(str(tmp_path / "root0"))
    with open(busybox_tar, "rb") as f:
        first.images.import_tarball(f, reference="busybox:latest")
    archive = tmp_path / "base.tar"
    with open(archive, "wb") as out:
        first.transfer.save(["busybox"], out)
    second = Engine(str(tmp_path / "root1"))
    with open(archive, "rb") as f:
        second.transfer.load(f)
    ids = []
    for n, eng in enumerate((first, second)):
        if n:
            os.utime(ctx / "f", None)  # a newer file time is clamped away
        with open_context(str(ctx)) as c:
            ids.append(eng.build(c, BuildOptions(source_date_epoch=1_700_000_000)).image_id)
        assert eng.store.images.get(ids[-1]).doc["created"] == "2023-11-14T22:13:20Z"
    assert ids[0] == ids[1]


def test_git_context(engine, tmp_path):
    repo = tmp_path / "repo"
    (repo / "app").mkdir(parents=True)
    (repo / "app" / "Dockerfile").write_text("FROM busybox\nCOPY msg /msg\n")
    (repo / "app" / "msg").write_text("from git\n")
    git = ["git", "-c", "user.email=t@example.com", "-c", "user.name=t", "-C", str(repo)]
    subprocess.run(["git", "init", "-q", "-b", "main", str(repo)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "one"], check=True)
    subprocess.run([*git, "tag", "v1"], check=True)
    (repo / "app" / "msg").write_text("changed\n")
    subprocess.run([*git, "commit", "-qam", "two"], check=True)
    for fragment, expected in (("#:app", b"changed\n"), ("#v1:app", b"from git\n"), ("#main:app", b"changed\n")):
        with open_context(f"file://{repo}{fragment}") as ctx:
            assert not os.path.exists(os.path.join(ctx.root, ".git"))
            result = engine.build(ctx, BuildOptions())
        assert read(engine, result.image_id, "msg") == expected
    with pytest.raises(InvalidArgument):
        open_context(f"file://{repo}#main:../..")


def test_cli_build_output_and_failures(lamina, busybox_tar, tmp_path):
    lamina.run("image", "import", busybox_tar, "busybox")
    tmp_path = tmp_path / "ctx"  # the data root lives in the test's tmp_path too
    tmp_path.mkdir()
    (tmp_path / "Dockerfile").write_text("FROM busybox\nLABEL a=b\nCOPY Dockerfile /\n")
    out = lamina.run("build", "-t", "x:1", "-t", "y", "--iidfile", str(tmp_path / "iid"), str(tmp_path)).out.splitlines()
    assert out[0].startswith("Sending build context to lamina ") and out[0].endswith("kB")
    assert out[1] == "Step 1/3 : FROM busybox"
    assert out[3] == "Step 2/3 : LABEL a=b"
    assert out[-3].startswith("Successfully built ")
    assert out[-2:] == ["Successfully tagged x:1", "Successfully tagged y:latest"]
    iid = (tmp_path / "iid").read_text()
    assert iid.startswith("sha256:") and iid[7:19] == out[-3].split()[-1]
    again = lamina.run("image", "build", str(tmp_path)).out
    assert again.count(" ---> Using cache") == 2
    quiet = lamina.run("build", "-q", str(tmp_path)).out
    assert quiet.strip() == iid
    assert lamina.run("images", "-a").out.count("<none>") >= 2
    bad = lamina.run("build", "-f", "-", str(tmp_path), input=b"FROM busybox\nFROB x\n", check=False)
    assert bad.returncode == 125 and "Error: Dockerfile:2: unknown instruction: FROB" in bad.err
    missing = lamina.run("build", "-f", "-", str(tmp_path), input=b"FROM busybox\nCOPY nope /\n", check=False)
    assert missing.returncode == 1 and "nope" in missing.err and "Traceback" not in missing.err
    stdin_df = lamina.run("build", "-", input=b"FROM busybox\nENV FROM_STDIN=1\n")
    assert "Successfully built" in stdin_df.out
    tar = io.BytesIO()
    with tarfile.open(fileobj=tar, mode="w:gz") as t:
        data = b"FROM busybox\nCOPY file /\n"
        for name, body in (("Dockerfile", data), ("file", b"in a tar\n")):
            info = tarfile.TarInfo(name)
            info.size = len(body)
            t.addfile(info, io.BytesIO(body))
    from_tar = lamina.run("build", "-", input=tar.getvalue())
    assert "Successfully built" in from_tar.out


def test_add_remote_url(engine, tmp_path):
    import http.server
    import threading

    served = tmp_path / "served"
    served.mkdir()
    (served / "tool.sh").write_text("#!/bin/sh\necho remote\n")

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, directory=str(served), **kwargs)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        ctx = tmp_path / "ctx"
        ctx.mkdir()
        url = f"http://127.0.0.1:{server.server_address[1]}/tool.sh"
        result = build(engine, ctx, f"FROM busybox\nADD {url} /opt/\nADD {url} /renamed\n")
    finally:
        server.shutdown()
    fs = fs_of(engine, result.image_id)
    _, entry = fs.resolve("opt/tool.sh")
    assert fs.read_file("opt/tool.sh") == b"#!/bin/sh\necho remote\n"
    assert stat.S_IMODE(entry.st.st_mode) == 0o600  # docker's mode for downloads
    assert fs.read_file("renamed") == b"#!/bin/sh\necho remote\n"


def test_healthcheck_none_entrypoint_resets_cmd_and_env_beats_arg(engine, tmp_path):
    df = "\n".join(
        [
            "FROM busybox",
            "HEALTHCHECK --retries=3 CMD [\"true\"]",
            "HEALTHCHECK NONE",
            "ENTRYPOINT [\"/bin/echo\"]",
            "ARG V=from-arg",
            "ENV V=from-env",
            "ARG V",
            "LABEL v=$V",
            "",
        ]
    )
    result = build(engine, tmp_path, df, build_args={"V": "cli"})
    c = doc(engine, result.image_id)["config"]
    assert c["Healthcheck"] == {"Test": ["NONE"]}
    assert c["Entrypoint"] == ["/bin/echo"] and c["Cmd"] is None  # busybox's CMD is reset
    assert c["Labels"] == {"v": "from-env"}
