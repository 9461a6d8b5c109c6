"""RUN steps as real containers (runc on overlayfs), and the seeds' busybox-sized Dockerfiles."""

from __future__ import annotations

import io
import os

import pytest

from lamina.build.context import open_context
from lamina.build.executor import BuildOptions, StepFailed
from lamina.engine import Engine
from lamina.testing.images import image_fs as fs_of


@pytest.fixture
def engine(data_root, busybox_tar):
    eng = Engine(data_root)
    with open(busybox_tar, "rb") as f:
        eng.images.import_tarball(f, reference="busybox:latest", changes=['CMD ["sh"]'])
    yield eng
    for handle in eng.containers.list(all=True):
        handle.remove(force=True)


def build(engine, ctx_dir, dockerfile=None, **opts):
    if dockerfile is not None:
        (ctx_dir / "Dockerfile").write_text(dockerfile)
    lines: list[str] = []
    out = io.BytesIO()
    with open_context(str(ctx_dir)) as ctx:
        result = engine.build(ctx, BuildOptions(**opts), emit=lines.append, output=out)
    result.lines = lines
    result.output = out.getvalue().decode()
    return result


def run_image(engine, image, *command, env=()):
    handle = engine.containers.run(str(image), list(command) or None, environment=list(env))
    try:
        return b"".join(chunk for _, chunk in handle.logs()).decode(), handle.wait()["StatusCode"]
    finally:
        handle.remove(force=True)


def test_run_steps_commit_layers_and_cache(engine, tmp_path):
    df = """FROM busybox
ARG WHO=you
RUN echo hello $WHO && mkdir /made && echo x > /made/f && rm /bin/true
RUN ["sh", "-c", "ls /made > /listing"]
RUN <<EOF
echo from a heredoc > /heredoc
EOF
"""
    first = build(engine, tmp_path, df)
    assert "hello you\n" in first.output
    assert any(line.startswith(" ---> Running in ") for line in first.lines)
    removing = [i for i, line in enumerate(first.lines) if line.startswith("Removing intermediate container")]
    assert len(removing) == 3 and first.lines[removing[0] + 1].startswith(" ---> ")
    fs = fs_of(engine, first.image_id)
    assert fs.read_file("made/f") == b"x\n"
    assert fs.read_file("listing") == b"f\n"
    assert fs.read_file("heredoc") == b"from a heredoc\n"
    assert fs.resolve("bin/true")[1] is None  # the deletion is a whiteout in the RUN layer
    history = engine.store.images.get(first.image_id).doc["history"]
    assert history[2]["created_by"] == "|1 WHO=you /bin/sh -c echo hello $WHO && mkdir /made && echo x > /made/f && rm /bin/true"
    assert history[3]["created_by"] == '|1 WHO=you sh -c ls /made > /listing'
    assert "WHO=you" not in str(engine.store.images.get(first.image_id).doc["config"]["Env"])
    assert engine.containers.list(all=True) == []  # --rm: the step containers are gone
    again = build(engine, tmp_path)
    assert again.image_id == first.image_id and all(s.cached for s in again.steps)
    other_arg = build(engine, tmp_path, build_args={"WHO": "them"})
    assert [s.cached for s in other_arg.steps] == [True, False, False, False]  # ARG's own step hits
    assert "hello them\n" in other_arg.output


def test_heredoc_with_shebang_runs_as_a_file(engine, tmp_path):
    df = 'FROM busybox\nRUN <<EOF\n#!/bin/ash\necho "$0" > /scriptname\nEOF\n'
    result = build(engine, tmp_path, df)
    fs = fs_of(engine, result.image_id)
    assert fs.read_file("scriptname") == b"/dev/pipes/EOF\n"
    assert fs.resolve("dev/pipes")[1] is None  # the script was bound in /dev, not left in the layer
    assert not any(n.startswith("run-script-") for n in os.listdir(engine.store.paths.tmp()))


def test_failing_run_keeps_previous_images_and_reports(engine, tmp_path):
    with pytest.raises(StepFailed) as failed:
        build(engine, tmp_path, "FROM busybox\nENV A=1\nRUN echo before; exit 3\n")
    assert failed.value.code == 3
    assert str(failed.value) == "The command '/bin/sh -c echo before; exit 3' returned a non-zero code: 3"
    kept = [h for h in engine.containers.list(all=True)]
    assert len(kept) == 1  # kept for inspection, as docker keeps it without --force-rm
    # the ENV step's image stays and is reused
    again = build(engine, tmp_path, "FROM busybox\nENV A=1\nLABEL fixed=yes\n")
    assert again.steps[0].cached
    kept[0].remove(force=True)
    with pytest.raises(StepFailed):
        build(engine, tmp_path, "FROM busybox\nRUN exit 1\n", force_remove=True)
    assert engine.containers.list(all=True) == []


def test_run_network_none(engine, tmp_path):
    result = build(engine, tmp_path, "FROM busybox\nRUN cat /proc/net/dev > /devs\n", network="none")
    devs = fs_of(engine, result.image_id).read_file("devs").decode()
    names = {line.split(":")[0].strip() for line in devs.splitlines()[2:]}
    assert names == {"lo"}


def test_seed_arg_user_stopsignal(engine, tmp_path):
    """Seed 002's parameterized Dockerfile, built with --build-arg user=frodo."""
    df = "#parameterized Dockerfile\nFROM busybox\nARG user\nUSER $user\nSTOPSIGNAL SIGHUP\n"
    result = build(engine, tmp_path, df, build_args={"user": "frodo"})
    config = engine.store.images.get(result.image_id).doc["config"]
    assert config["User"] == "frodo" and config["StopSignal"] == "SIGHUP"


def test_seed_cmd_entrypoint_and_who(engine, tmp_path):
    """Seed 004's CMD/ENTRYPOINT figlet lesson and seed 003's WHO variable, with busybox's echo."""
    df = """FROM busybox
ENV WHO=World
RUN echo 'echo "Hello $WHO. Wish you were here."' > /hello.sh && chmod +x /hello.sh
ENTRYPOINT ["/bin/echo", "figlet:"]
CMD ["hello"]
"""
    image = build(engine, tmp_path, df).image_id
    assert run_image(engine, image) == ("figlet: hello\n", 0)
    assert run_image(engine, image, "salut") == ("figlet: salut\n", 0)
    who = build(engine, tmp_path, df.replace('ENTRYPOINT ["/bin/echo", "figlet:"]\nCMD ["hello"]\n', 'CMD ["sh", "/hello.sh"]\n')).image_id
    assert run_image(engine, who) == ("Hello World. Wish you were here.\n", 0)
    assert run_image(engine, who, env=["WHO=Sean and Karl"]) == ("Hello Sean and Karl. Wish you were here.\n", 0)


def test_reproducible_run_layers(busybox_tar, tmp_path):
    """Two fresh data roots, the same base, SOURCE_DATE_EPOCH: a RUN step's layer and the image
    ID come out the same."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM busybox\nRUN mkdir -p /out && echo data > /out/file\nCOPY Dockerfile /\n")
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
    for eng in (first, second):
        with open_context(str(ctx)) as c:
            ids.append(eng.build(c, BuildOptions(source_date_epoch=1_700_000_000)).image_id)
        os.utime(ctx / "Dockerfile", None)
    assert ids[0] == ids[1]


def test_squash_merges_the_build_layers(engine, tmp_path):
    (tmp_path / "big").write_text("x" * 1000)
    df = "FROM busybox\nCOPY big /tmp/big\nRUN rm /tmp/big && rm /bin/false && echo kept > /kept\nLABEL s=1\n"
    plain = build(engine, tmp_path, df)
    squashed = build(engine, tmp_path, squash=True)
    base = engine.store.images.get(engine.images.resolve("busybox")).doc
    doc = engine.store.images.get(squashed.image_id).doc
    assert len(doc["rootfs"]["diff_ids"]) == len(base["rootfs"]["diff_ids"]) + 1
    assert len(engine.store.images.get(plain.image_id).doc["rootfs"]["diff_ids"]) == 3
    history = doc["history"]
    assert len(history) == 5 and all(h.get("empty_layer") for h in history[1:4])
    assert history[-1]["comment"].startswith("merge sha256:")
    assert doc["config"]["Labels"] == {"s": "1"}
    fs = fs_of(engine, squashed.image_id)
    assert fs.read_file("kept") == b"kept\n"
    assert fs.resolve("tmp/big")[1] is None and fs.resolve("bin/false")[1] is None
    assert fs.read_file("bin/busybox") is not None
    assert engine.store.images.get_parent(squashed.image_id) == engine.images.resolve("busybox")
