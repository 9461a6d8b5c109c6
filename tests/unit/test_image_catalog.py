"""The image catalog (``store.catalog``) and the fast CLI path that reads it (``cli.fast``).

The fast path must print exactly what the full CLI prints, decline (printing nothing) whatever
it is not sure of, and never answer from a catalog that no longer describes the store.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import signal
import subprocess
import sys
import tarfile
import time

import pytest
from click.testing import CliRunner

from lamina import Engine
from lamina import reference as refs
from lamina.cli import fast, launcher
from lamina.cli.main import cli
from lamina.digest import Digest
from lamina.oci import canonical_json
from lamina.store import atomic
from lamina.store import catalog as catalogs


def _layer(content: bytes) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo("file")
        info.size = len(content)
        tar.addfile(info, io.BytesIO(content))
    return buf.getvalue()


def add_image(engine: Engine, content: bytes, created: str, labels=None, parent=None, tags=()) -> Digest:
    """An image with a fixed creation time, so "N years ago" is the same in every run."""
    store = engine.store
    with store.lease() as lease:
        layer = store.create_layer(lease, None, io.BytesIO(_layer(content)))
        doc = {
            "architecture": "amd64",
            "os": "linux",
            "created": created,
            "config": {"Cmd": ["sh"], **({"Labels": labels} if labels else {})},
            "rootfs": {"type": "layers", "diff_ids": [str(layer.diff_id)]},
            "history": [{"created": created, "created_by": f"add {content!r}"}],
        }
        image_id = store.register_image(canonical_json(doc), parent=parent)
    for tag in tags:
        engine.images.tag(str(image_id), tag)
    return image_id


@pytest.fixture
def engine(tmp_path):
    eng = Engine(str(tmp_path / "root"), "vfs")
    app = add_image(eng, b"app", "2019-03-01T10:00:00Z", {"team": "a"}, tags=["team/app:1", "team/app:latest", "other:2"])
    with eng.store.lock():
        eng.store.repositories.set(refs.parse("team/app@sha256:" + "ab" * 32), app)
    add_image(eng, b"busybox", "2020-05-05T05:05:05.123456789Z", tags=["busybox"])
    add_image(eng, b"dangling", "2018-01-01T00:00:00Z")
    base = add_image(eng, b"base", "2017-01-01T00:00:00Z")
    add_image(eng, b"child", "2017-06-01T00:00:00Z", parent=base, tags=["team/child:1"])
    return eng


def full_cli(root: str, argv: list[str]) -> str:
    result = CliRunner().invoke(cli, ["--data-root", root, *argv], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def fast_cli(root: str, argv: list[str], capsys) -> tuple[int | None, str]:
    capsys.readouterr()
    code = fast.run(["--data-root", root, *argv])
    return code, capsys.readouterr().out


ANSWERED = [
    ["images"],
    ["images", "-a"],
    ["images", "-q"],
    ["images", "-aq"],
    ["images", "--all", "--quiet", "--no-trunc"],
    ["images", "--digests"],
    ["images", "--no-trunc"],
    ["image", "ls", "-a", "--digests", "--no-trunc"],
    ["image", "list"],
    ["inspect", "team/app:1"],
    ["inspect", "team/app"],
    ["inspect", "docker.io/team/app:latest"],
    ["inspect", "team/app@sha256:" + "ab" * 32],
    ["inspect", "busybox"],
    ["inspect", "docker.io/library/busybox:latest"],
    ["inspect", "busybox", "team/child:1", "other:2"],
    ["image", "inspect", "team/child:1"],
    ["images", "--format", "{{.ID}}"],
    ["images", "--format={{.Repository}}:{{.Tag}} {{.CreatedAt}} {{.CreatedSince}}"],
    ["images", "-a", "--format", "table {{.Repository}}\t{{.Size}}\t{{.Digest}}"],
    ["images", "--format", "json"],
    ["images", "-q", "--format", "{{.Repository}}"],
    ["image", "ls", "--digests", "--format", "table"],
    ["inspect", "-f", "{{.Id}}", "team/app:1"],
    ["inspect", "--format", "{{json .Config}}", "busybox", "team/child:1"],
    ["inspect", "--format={{range .RepoTags}}{{.}} {{end}}{{.Metadata.LastTagTime}}", "team/app"],
    ["inspect", "-f", "json", "team/app:1"],
    ["inspect", "team/app:1", "-f", "{{.Size}} {{.GraphDriver.Name}}"],
    ["inspect", "--format", "", "busybox"],
    ["image", "inspect", "-f", "{{.Os}}", "-f", "{{.Architecture}}", "busybox"],
]


@pytest.mark.parametrize("argv", ANSWERED, ids=" ".join)
def test_fast_path_prints_what_the_full_cli_prints(engine, capsys, argv):
    root = engine.data_root
    expected = full_cli(root, argv)
    code, out = fast_cli(root, argv, capsys)
    assert code == 0
    assert out == expected


def test_fast_path_resolves_image_ids_like_the_full_cli(engine, capsys):
    root = engine.data_root
    image_id = str(engine.images.resolve("team/child:1"))
    for name in (image_id, image_id[7:], image_id[7:19]):
        expected = full_cli(root, ["inspect", name])
        assert fast_cli(root, ["inspect", name], capsys) == (0, expected)


DECLINED = [
    ["images", "-f", "dangling=true"],
    ["images", "--filter=label=team"],
    ["images", "--format"],
    ["images", "team/app"],
    ["images", "-h"],
    ["images", "-x"],
    ["inspect"],
    ["inspect", "-f"],
    ["inspect", "--", "team/app:1"],
    ["inspect", "no/such:image"],
    ["inspect", "team/app:1", "no/such:image"],
    ["inspect", "library/busybox"],  # right, but not a spelling the table holds: the resolver's
    ["inspect", "sha256:"],
    ["inspect", "Team/App"],
    ["image"],
    [],
]


@pytest.mark.parametrize("argv", DECLINED, ids=lambda a: " ".join(a) or "nothing")
def test_fast_path_declines_what_it_is_not_sure_of(engine, capsys, argv):
    engine.images.summaries()  # a current catalog is there
    assert fast_cli(engine.data_root, argv, capsys) == (None, "")


def test_fast_path_declines_other_settings_and_roots(engine, capsys, monkeypatch, tmp_path):
    root = engine.data_root
    engine.images.summaries()
    assert fast_cli(root, ["images"], capsys)[0] == 0
    assert fast.run(["--storage-driver", "vfs", "--data-root", root, "images"]) is None
    assert fast.run(["--data-root", root + "/", "images"]) is None  # abspath would rename it
    assert fast.run(["--data-root", str(tmp_path / "nothing-here"), "images"]) is None
    for name in ("LAMINA_STORAGE_DRIVER", "LAMINA_MAX_LAYER_SIZE", "LAMINA_MAX_COMPRESSION_RATIO"):
        with monkeypatch.context() as m:
            m.setenv(name, "1")
            assert fast.run(["--data-root", root, "images"]) is None
    monkeypatch.setenv("LAMINA_DATA_ROOT", root)
    code, out = capsys.readouterr() and (fast.run(["images"]), capsys.readouterr().out)
    assert code == 0 and out == full_cli(root, ["images"])


def _catalog_file(engine: Engine) -> str:
    return catalogs.catalog_path(engine.store.paths.image_dir)


def _fresh(engine: Engine) -> tuple:
    """What a rebuild from the store gives now, comparable with a read catalog."""
    built = engine.images._build_catalog()
    return ([i.as_tuple() for i in built.images], built.names, {i.id: built.inspect_json(i.id) for i in built.images})


def _current(engine: Engine) -> tuple | None:
    read = catalogs.read(engine.store.root, engine.store.paths.image_dir)
    if read is None:
        return None
    return ([i.as_tuple() for i in read.images], read.names, {i.id: read.inspect_json(i.id) for i in read.images})


def test_every_command_that_changes_the_store_leaves_a_current_catalog(engine, tmp_path):
    archive = io.BytesIO()
    engine.transfer.save(["busybox"], archive)
    changes = [
        lambda: engine.images.tag("busybox", "busybox:2"),
        lambda: engine.image_remover.remove("busybox:2"),
        lambda: engine.images.import_tarball(io.BytesIO(_layer(b"imported")), reference="imported:1"),
        lambda: engine.image_remover.remove("imported:1"),
        lambda: engine.image_remover.prune(all_images=False),
        lambda: engine.image_remover.remove("busybox"),
        lambda: (archive.seek(0), engine.transfer.load(archive)),
        lambda: engine.check(repair=True),
    ]
    for change in changes:
        change()
        assert _current(engine) == _fresh(engine)  # written by the command, not left to a reader
        assert not os.path.exists(catalogs.previous_path(engine.store.paths.image_dir))
    tags = {t for s in engine.images.summaries() for t in s.repo_tags}
    assert "busybox:2" not in tags and "imported:1" not in tags and "busybox:latest" in tags


def test_a_change_below_the_api_takes_the_catalog_out_of_use(engine):
    image_id = engine.images.resolve("busybox")
    engine.images.summaries()
    with engine.store.lock():
        engine.store.images.touch(image_id)  # what a command killed before its end leaves
    assert catalogs.read(engine.store.root, engine.store.paths.image_dir) is None
    assert os.path.exists(catalogs.previous_path(engine.store.paths.image_dir))
    engine.images.summaries()
    assert _current(engine) == _fresh(engine)


def test_a_rebuild_reuses_what_did_not_change(engine):
    """Only the tagged image's document is rendered again; the others come from the previous
    catalog (here doctored, to tell the two apart)."""
    engine.images.summaries()
    store = engine.store
    catalog = catalogs.read(store.root, store.paths.image_dir)
    child, app = str(engine.images.resolve("team/child:1")), str(engine.images.resolve("team/app:1"))
    docs = {i.id: catalog.inspect_json(i.id) for i in catalog.images}
    docs[child] = docs[child].replace('"Os": "linux"', '"Os": "reused"')
    docs[app] = docs[app].replace('"Os": "linux"', '"Os": "reused"')
    doctored = catalogs.Catalog(catalog.images, catalog.names, docs=docs)
    catalogs.write(store.root, store.paths.image_dir, doctored, catalogs.signature(store.root, store.paths.image_dir))
    engine.images.tag("team/app:1", "team/app:2")
    assert engine.images.inspect("team/child:1")["Os"] == "reused"
    assert engine.images.inspect("team/app:1")["Os"] == "linux"


def test_a_store_changed_behind_lamina_s_back_is_noticed(engine, capsys):
    engine.images.summaries()
    path = engine.store.repositories.path
    with open(path) as f:
        doc = json.load(f)
    doc["Repositories"]["renamed"] = {"renamed:1": str(engine.images.resolve("busybox"))}
    atomic.write_file(path, json.dumps(doc).encode())  # another tool: no catalog hook
    assert catalogs.read(engine.store.root, engine.store.paths.image_dir) is None
    code, out = fast_cli(engine.data_root, ["images"], capsys)
    assert code is None and out == ""
    assert "renamed" in full_cli(engine.data_root, ["images"])
    assert "renamed" in fast_cli(engine.data_root, ["images"], capsys)[1]  # rebuilt, fast again


@pytest.mark.parametrize(
    "damage",
    [
        b"",
        b"garbage",
        b"lamina-image-catalog 1 10 10 10 999999\n",
        b"lamina-image-catalog 99 1 1 1 0\nxyz",
        b"x" * 100,
        b"lamina-image-catalog 1 4 4 4 4\n" + b"\xff" * 16,
    ],
    ids=["empty", "garbage", "cut short", "other format", "no header", "garbage sections"],
)
def test_a_damaged_catalog_is_rebuilt(engine, damage, capsys):
    expected = full_cli(engine.data_root, ["images", "-a"])
    with open(_catalog_file(engine), "wb") as f:
        f.write(damage)
    assert fast_cli(engine.data_root, ["images", "-a"], capsys) == (None, "")
    assert full_cli(engine.data_root, ["images", "-a"]) == expected
    assert fast_cli(engine.data_root, ["images", "-a"], capsys) == (0, expected)


def test_a_truncated_catalog_is_rebuilt(engine, capsys):
    engine.images.summaries()
    with open(_catalog_file(engine), "rb") as f:
        data = f.read()
    for cut in range(1, len(data), max(1, len(data) // 40)):
        with open(_catalog_file(engine), "wb") as f:
            f.write(data[:cut])
        assert fast_cli(engine.data_root, ["inspect", "busybox"], capsys) == (None, "")


def test_catalog_is_system_check_clean(engine):
    engine.images.summaries()
    assert engine.check().clean


def _tagger(root: str, index: int) -> None:
    engine = Engine(root, "vfs")
    n = 0
    while True:
        engine.images.tag("busybox", f"busy{index}:{n % 3}")
        engine.image_remover.remove(f"busy{index}:{(n + 1) % 3}") if n > 2 else None
        n += 1


def _lister(root: str, rounds: int) -> None:
    engine = Engine(root, "vfs")
    for _ in range(rounds):
        engine.images.summaries()
        fast.run(["--data-root", root, "images"])


def test_concurrent_writers_killed_and_readers_leave_a_true_catalog(engine):
    """Taggers race listers; the taggers are killed with SIGKILL mid-flight. Whatever is left,
    the next reader's catalog is what the store says."""
    root = engine.data_root
    ctx = multiprocessing.get_context("fork")
    sys.stdout.flush()
    taggers = [ctx.Process(target=_tagger, args=(root, i)) for i in range(2)]
    listers = [ctx.Process(target=_lister, args=(root, 25)) for _ in range(2)]
    with open(os.devnull, "w") as devnull:
        saved = os.dup(1)
        os.dup2(devnull.fileno(), 1)  # the listers' fast path prints
        try:
            for p in taggers + listers:
                p.start()
            for p in listers:
                p.join(60)
            time.sleep(0.2)
            for p in taggers:
                os.kill(p.pid, signal.SIGKILL)
                p.join(10)
        finally:
            os.dup2(saved, 1)
            os.close(saved)
    assert all(p.exitcode == 0 for p in listers)
    engine.images.summaries()
    assert _current(engine) == _fresh(engine)
    engine.check(repair=True)
    assert engine.check().clean


def test_launcher_starts_without_site_and_turns_it_on_when_needed(engine, tmp_path):
    root = engine.data_root
    engine.images.summaries()
    path = launcher.write(str(tmp_path / "lamina"))
    with open(path) as f:
        assert f.readline() == f"#!{sys.executable} -S\n"

    def run(*argv: str, script: str = path) -> str:
        env = {k: v for k, v in os.environ.items() if not k.startswith("LAMINA_")}
        done = subprocess.run([script, "--data-root", root, *argv], capture_output=True, text=True, env=env, timeout=60)
        assert done.returncode == 0, done.stderr
        return done.stdout

    assert run("images") == full_cli(root, ["images"])
    assert run("inspect", "busybox") == full_cli(root, ["inspect", "busybox"])
    # commands the fast path declines need click from site-packages: site is turned on
    fmt = ["images", "--format", "{{.Repository}}:{{.Tag}}"]
    assert run(*fmt) == full_cli(root, fmt) and "busybox:latest\n" in run(*fmt)
    # a launcher whose lamina has moved finds it through site
    moved = tmp_path / "moved"
    moved.write_text(launcher.render(sys.executable, "/nonexistent"))
    moved.chmod(0o755)
    assert run("images", script=str(moved)) == full_cli(root, ["images"])


def test_threads_sharing_one_engine_take_turns(engine):
    """The flock is per process: threads of one process must queue before it, not slip past."""
    import threading

    errors: list[BaseException] = []

    def work(index: int) -> None:
        try:
            for n in range(15):
                engine.images.tag("busybox", f"thread{index}:{n}")
                engine.images.summaries()
                if n:
                    engine.image_remover.remove(f"thread{index}:{n - 1}")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []
    tags = {t for s in engine.images.summaries() for t in s.repo_tags if t.startswith("thread")}
    assert tags == {"thread0:14", "thread1:14", "thread2:14"}
    assert _current(engine) == _fresh(engine)
