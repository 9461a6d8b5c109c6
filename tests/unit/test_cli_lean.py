"""The lean path (``lamina.cli.fast`` and ``lamina.cli.lean``): same bytes as the full CLI, and a
budget of modules per command.

Three things are checked for every command in ``fast.LEAN``:

- its ``SPEC`` reads the same words as its click command (every option spelling, clusters,
  values), so the lean parser never means something else than click;
- on a real data root both paths print the same stdout and stderr and exit with the same code
  (write commands on two identical stores), and the lean path really answers what it should;
- started as the launcher starts it (``python -S``), it loads no module outside its budget:
  never click nor anything from site-packages, none of the slow standard modules listed in
  ``NEVER``, and only the lamina modules written down for it here. A change that pulls a new
  module into a command fails here, deterministically, instead of in a benchmark months later.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner
from test_image_catalog import add_image

import lamina
from lamina import Engine
from lamina.cli import fast
from lamina.cli.lean.args import Decline, Spec, parse
from lamina.cli.main import cli
from lamina.testing.modules import loaded_modules  # test_completion imports it from here too

SRC = os.path.dirname(os.path.dirname(os.path.abspath(lamina.__file__)))


@pytest.fixture(autouse=True)
def _own_exec_root(tmp_path, monkeypatch):
    """Container locks and runtime state of these data roots go to the test's own directory,
    not /run/lamina."""
    monkeypatch.setenv("LAMINA_EXEC_ROOT", str(tmp_path / "exec-root"))


# --- the parser against click ----------------------------------------------------------------
def _click_command(words: str):
    command = cli
    for word in words.split(" "):
        command = command.get_command(None, word)
    return command


def _samples(spec: Spec) -> list[list[str]]:
    """Command lines that exercise every spelling of every option of ``spec``."""
    least, most = spec.nargs
    args = ["busybox", "other:1", "third"][: max(least, min(most if most is not None else 2, 2))]
    lines = [args]
    for flag in spec.flags:
        lines.append([flag, *args])
        lines.append([*args, flag])  # options after arguments, as click allows
    for option in spec.values:
        typed = spec.values[option] in spec.types  # an INTEGER option gets numbers
        lines.append([option, "7" if typed else "{{.ID}}", *args])
        lines.append([*args, option, "-3" if typed else "-x"])  # a value that looks like an option is a value
        if option.startswith("--"):
            lines.append([f"{option}={'12' if typed else 'a=b'}", *args])
        else:
            lines.append([f"{option}{'12' if typed else '{{json .}}'}", *args])
    shorts = [f[1] for f in spec.flags if len(f) == 2]
    if len(shorts) > 1:
        lines.append(["-" + "".join(shorts), *args])
    values = [v[1] for v in spec.values if len(v) == 2]
    if shorts and values:
        lines.append(["-" + shorts[0] + values[0], "7" if spec.values["-" + values[0]] in spec.types else "x", *args])
    return lines


def _click_values(command, words: list[str]) -> tuple[dict, list[str]]:
    ctx = command.make_context(command.name, list(words), obj={})
    opts, args = {}, []
    for param in command.params:
        value = ctx.params[param.name]
        if param.param_type_name == "argument":
            args += list(value) if isinstance(value, tuple) else ([] if value is None else [value])
        else:
            opts[param.name] = list(value) if isinstance(value, tuple) else value
    return opts, args


@pytest.mark.parametrize("words", sorted(fast.LEAN), ids=str)
def test_spec_reads_words_as_click_does(words):
    module = __import__(f"lamina.cli.lean.{fast.LEAN[words]}", fromlist=["SPEC"])
    command = _click_command(words)
    assert command is not None, f"{words!r} has no click command (help and errors come from it)"
    for line in _samples(module.SPEC):
        opts, args = parse(module.SPEC, line)
        click_opts, click_args = _click_values(command, line)
        assert args == click_args, line
        for name, value in opts.items():
            assert click_opts[name] == value, (line, name)


@pytest.mark.parametrize(
    "line",
    [["-h"], ["--help"], ["--"], ["--all=1"], ["--nope"], ["-z"], ["--format"], ["-aZ"]],
    ids=" ".join,
)
def test_parser_declines_what_click_would_word(line):
    spec = Spec(flags={"-a": "all", "--all": "all"}, values={"--format": "fmt", "-f": "fmt"})
    with pytest.raises(Decline):
        parse(spec, line)


def test_parser_counts_arguments_and_collects_multiple_values():
    spec = Spec(values={"--filter": "filters"}, multiple=("filters",), nargs=(1, 2))
    assert parse(spec, ["a", "--filter", "x=1", "--filter=y=2", "-"]) == ({"filters": ["x=1", "y=2"]}, ["a", "-"])
    for line in ([], ["a", "b", "c"]):
        with pytest.raises(Decline):
            parse(spec, line)


# --- both paths print the same bytes -------------------------------------------------------------
def _store(root: str, lost: bool = True) -> Engine:
    """The same images with the same times in every store built by this (so outputs compare);
    ``lost`` adds a container whose process is gone (``system check`` reports it)."""
    eng = Engine(root, "vfs")
    add_image(eng, b"busybox", "2020-05-05T05:05:05.123456789Z", tags=["busybox", "team/app:1"])
    base = add_image(eng, b"base", "2017-01-01T00:00:00Z")
    add_image(eng, b"child", "2017-06-01T00:00:00Z", parent=base, tags=["team/child:1"])
    add_image(eng, b"lonely", "2018-01-01T00:00:00Z", tags=["lonely:1"])
    eng.images.summaries()  # a current catalog
    _container(root)
    _more_containers(root, str(eng.images.resolve("busybox")), lost)
    eng.volumes.create("vol1", labels={"team": "a", "b": ""})
    eng.volumes.create("other", driver_opts={"type": "tmpfs", "device": "tmpfs"})
    eng.volumes.create(None)  # anonymous
    eng.networks.create("front", labels={"tier": "front"}, subnet="10.99.1.0/24")
    return eng


def _container(root: str) -> None:
    """A container on disk in docker's vfs layout (its layer: a whole tree; its init layer the
    tree it started from), for ``diff``."""
    import json

    cid, mount = "c" * 64, "d" * 64
    os.makedirs(os.path.join(root, "containers", cid))
    with open(os.path.join(root, "containers", cid, "config.v2.json"), "w") as f:
        json.dump({"ID": cid, "Name": "/c1", "Image": "", "State": {"Running": False}, "Config": {}}, f)
    mounts = os.path.join(root, "image", "vfs", "layerdb", "mounts", cid)
    os.makedirs(mounts)
    for name, value in (("mount-id", mount), ("init-id", mount + "-init")):
        with open(os.path.join(mounts, name), "w") as f:
            f.write(value)
    for layer, files in ((mount + "-init", ("etc/hosts", "etc/passwd")), (mount, ("etc/hosts", "etc/new", "tmp/x"))):
        for rel in files:
            path = os.path.join(root, "vfs", "dir", layer, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(rel)
            os.utime(path, (1, 1))


#: (name, id's first hex digit, State, what else config.v2.json says): created, running (its
#: Pid is this test's own process, so it counts as alive), exited, and one whose process is gone
CONTAINERS = [
    ("web", "a", {"Running": True, "Pid": os.getpid(), "StartedAt": "2019-03-03T03:03:03.5Z"},
     {"Path": "nginx", "Args": ["-g", "daemon off;"], "Config": {"Image": "team/app:1", "Labels": {"tier": "front", "a": "b"},
      "ExposedPorts": {"80/tcp": {}, "443/tcp": {}}},
      "NetworkSettings": {"Ports": {"80/tcp": [{"HostIp": "0.0.0.0", "HostPort": "8080"}], "53/udp": [{"HostIp": "127.0.0.1", "HostPort": "5353"}]}},
      "MountPoints": {"/data": {"Type": "volume", "Name": "vol1", "Source": "/x"}, "/etc/x": {"Type": "bind", "Source": "/etc/x"}}}),
    ("done", "b", {"Running": False, "ExitCode": 3, "StartedAt": "2019-02-02T02:02:02Z", "FinishedAt": "2019-02-02T02:03:04.25Z"},
     {"Path": "sh", "Args": ["-c", "echo a long command line that is cut"], "Config": {"Image": "busybox"}}),
    ("lost", "e", {"Running": True, "Pid": 999999999, "StartedAt": "2019-04-04T04:04:04Z"},
     {"Path": "sleep", "Args": ["1d"], "Config": {"Image": ""}}),
]


def _more_containers(root: str, image_id: str, lost: bool) -> None:
    """Containers in docker's layout without layers (``ps`` and the lifecycle commands need
    none), created a second apart in 2018, so every path prints the same ages."""
    import json

    for n, (name, digit, state, doc) in enumerate(CONTAINERS if lost else CONTAINERS[:-1]):
        cid = digit * 64
        directory = os.path.join(root, "containers", cid)
        os.makedirs(directory)
        full = {"State": state, "ID": cid, "Created": f"2018-01-01T00:00:0{n}.123Z", "Image": image_id,
                "Name": "/" + name, "Driver": "vfs", **doc}
        if not full["Config"]["Image"]:
            full["Config"]["Image"] = image_id
        with open(os.path.join(directory, "config.v2.json"), "w") as f:
            json.dump(full, f)
        with open(os.path.join(directory, "hostconfig.json"), "w") as f:
            json.dump({"NetworkMode": "bridge" if name == "web" else "none"}, f)
    with open(os.path.join(root, "containers", "b" * 64, "b" * 64 + "-json.log"), "w") as f:
        for n, (stream, text) in enumerate((("stdout", "a long command line\n"), ("stderr", "oops \u00e9\n"),
                                            ("stdout", "no newline"), ("stdout", "last\n"))):
            f.write(json.dumps({"log": text, "stream": stream, "time": f"2019-02-02T02:0{n}:00.5Z"}) + "\n")


def _full(root: str, argv: list[str]) -> tuple[int, str, str]:
    try:
        runner = CliRunner(mix_stderr=False)  # click 8.1; 8.2 keeps them apart always
    except TypeError:
        runner = CliRunner()
    result = runner.invoke(cli, ["--data-root", root, *argv])
    return result.exit_code, result.stdout, result.stderr


def _lean(root: str, argv: list[str], capsys) -> tuple[int | None, str, str]:
    capsys.readouterr()
    code = fast.run(["--data-root", root, *argv])
    out = capsys.readouterr()
    return code, out.out, out.err


#: (command line, whether the lean path answers it); the rest goes to click
READS = [
    (["history", "busybox"], True),
    (["history", "-q", "team/child:1"], True),
    (["history", "--no-trunc", "--format", "{{.ID}} {{.Size}}", "team/child:1"], True),
    (["image", "history", "--format", "table {{.ID}}\t{{.CreatedAt}}", "busybox"], True),
    (["history", "-H=false", "busybox"], False),
    (["history", "no/such"], True),
    (["history"], False),
    (["history", "--format", "{{.Nope", "busybox"], True),
    (["inspect", "-f", "{{.Id", "busybox"], True),
    (["inspect", "-f", "{{.Id.Nope.Deeper}}", "busybox"], True),
    (["inspect", "busybox", "web", "team/app:1"], True),
    (["inspect", "--format", "{{.Name}} {{.State.Status}} {{json .Config.Labels}}", "done", "c1"], True),
    (["inspect", "--type", "container", "done"], True),
    (["inspect", "--type=image", "busybox"], True),
    (["inspect", "--type", "image", "done"], False),
    (["inspect", "--type", "volume", "vol1"], False),
    (["inspect", "vol1"], False),
    (["inspect", "-f", "{{.Name}}", "front"], False),
    (["inspect", "nope"], False),
    (["inspect", "-s", "done"], False),
    (["image", "inspect", "busybox", "team/child:1"], True),
    (["image", "inspect", "done"], False),
    (["container", "inspect", "done", "web"], True),
    (["container", "inspect", "-f", "{{.Id}} {{.Name}}", "bbbb", "nope", "c1"], True),
    (["container", "inspect", "nope"], True),
    (["container", "inspect", "-s", "done"], True),
    (["logs", "done"], True),
    (["container", "logs", "-t", "--tail", "2", "done"], True),
    (["logs", "-n", "0", "done"], True),
    (["logs", "--tail=x", "done"], True),
    (["logs", "--since", "2019-02-02T02:01:00Z", "--until", "1549072890", "done"], True),
    (["logs", "--since", "1h", "done"], True),
    (["logs", "--since", "yesterday", "done"], True),
    (["logs", "-f", "--details", "bbb"], True),
    (["logs", "nope"], True),
    (["logs"], False),
    (["logs", "done", "web"], False),
    (["system", "df"], True),
    (["system", "df", "-v"], True),
    (["system", "df", "--format", "{{.Type}}: {{.Size}}"], True),
    (["system", "df", "--help"], False),
    (["info", "--format", "{{.Images}} {{.Driver}} {{.DockerRootDir}}"], True),
    (["system", "info", "-f", "{{json .Runtimes}}"], True),
    (["version"], True),
    (["version", "-f", "{{.Client.Version}}"], True),
    (["version", "--format", "json"], True),
    (["version", "extra"], False),
    (["--version"], True),
    (["-v"], True),
    (["-v", "images"], False),
    (["tag"], False),
    (["rmi", "--help"], False),
    (["diff", "c1"], True),
    (["diff", "cccc"], True),
    (["diff", "nope"], True),
    (["diff"], False),
    (["ps"], True),
    (["ps", "-a"], True),
    (["container", "ls", "-aq", "--no-trunc"], True),
    (["container", "list", "-a", "--no-trunc"], True),
    (["container", "ps", "-n", "2"], True),
    (["ps", "-n", "x"], False),
    (["ps", "-n=+1"], False),
    (["ps", "--last", "-1", "-a"], True),
    (["ps", "-l"], True),
    (["ps", "-as"], True),
    (["ps", "-a", "-f", "status=exited", "--filter", "name=do"], True),
    (["ps", "-a", "-f", "label=tier=front"], True),
    (["ps", "-a", "-f", "ancestor=busybox"], True),
    (["ps", "-a", "-f", "since=c1", "-f", "exited=3"], True),
    (["ps", "-a", "-f", "bogus=1"], True),
    (["ps", "-a", "-f", "status"], True),
    (["ps", "-a", "--format", "{{.Names}} {{.State}} {{.Ports}} {{.Labels}} {{.Mounts}} {{.Networks}} {{.CreatedAt}}"], True),
    (["ps", "-a", "--format", "table {{.ID}}\t{{.Status}}\t{{json .Names}}"], True),
    (["ps", "-a", "--format", "json"], True),
    (["ps", "extra"], False),
    (["ps", "-z"], False),
    (["volume", "ls"], True),
    (["volume", "list", "-q"], True),
    (["volume", "ls", "--format", "{{.Name}}: {{.Labels}} {{.Mountpoint}} {{.Scope}}"], True),
    (["volume", "ls", "--format", "{{json .}}"], True),
    (["volume", "ls", "-f", "dangling=true"], False),
    (["volume", "ls", "x"], False),
    (["network", "ls"], True),
    (["network", "list", "--no-trunc"], True),
    (["network", "ls", "-q"], True),
    (["network", "ls", "--format", "{{.Name}} {{.Driver}} {{.Internal}} {{.Labels}} {{.IPv6}} {{.CreatedAt}}"], True),
    (["network", "ls", "--format", "table {{.ID}}\t{{json .Name}}"], True),
    (["network", "ls", "-f", "driver=bridge"], False),
]


@pytest.mark.parametrize("argv,answered", READS, ids=[" ".join(a) for a, _ in READS])
def test_lean_reads_print_what_the_full_cli_prints(tmp_path, capsys, argv, answered):
    root = str(tmp_path / "root")
    _store(root)
    expected = _full(root, argv)
    code, out, err = _lean(root, argv, capsys)
    if not answered:
        assert (code, out, err) == (None, "", "")
        return
    assert code is not None, "the lean path declined what it should answer"
    assert (code, out, err) == expected


#: sequences of write commands, run on two identical stores: one through each path
WRITES = [
    [["tag", "busybox", "team/app:2"], ["tag", "team/app:2", "localhost:5000/x/y:z"], ["images", "-a"]],
    [["image", "tag", "busybox", "Bad:tag"], ["tag", "no/such", "a"], ["tag", "busybox", "a@sha256:" + "0" * 64]],
    [["rmi", "team/app:1"], ["rmi", "busybox"], ["images", "-a"]],
    # untag only (the lean path's own), then the last tag (the remover's)
    [["tag", "busybox", "a:1"], ["tag", "busybox", "b"], ["rmi", "a:1", "b", "busybox:latest"], ["rmi", "team/app"],
     ["images", "-a"]],
    # a tag moved from one image to another, the same tag again, a name that is an ID
    [["tag", "lonely:1", "team/app:1"], ["tag", "busybox", "busybox"], ["tag", "team/child:1", "team/app:1"],
     ["images", "-a"], ["inspect", "-f", "{{.RepoTags}}", "team/app:1", "lonely:1"]],
    [["tag", "busybox", "x:1"], ["rmi", "x:1", "x:1"], ["rmi", "-f", "x:2"], ["images"]],
    [["rmi", "no/such", "lonely:1", "also/missing"], ["images"]],
    [["image", "rm", "--no-prune", "team/child:1"], ["images", "-a"]],
    [["rmi", "-f", "team/child:1"], ["image", "remove", "--force", "busybox"], ["images", "-a", "-q"]],
    [["rmi", "-f", "--no-prune", "lonely:1"], ["images", "-q"]],
    # containers: none of these runs the OCI runtime (the synthetic ones have no process of theirs)
    [["stop", "done", "c1"], ["container", "stop", "-t", "3", "-s", "USR1", "bbbb"], ["ps", "-a"],
     ["inspect", "-f", "{{.Config.StopSignal}} {{.HasBeenManuallyStopped}}", "done"]],
    [["stop", "nope", "done"], ["stop", "--time=x", "done"], ["stop", "-t", "1"]],
    [["kill", "done"], ["container", "kill", "-s", "TERM", "nope", "c1"], ["kill", "-s", "NOPE", "web"]],
    [["pause", "done"], ["container", "pause", "nope"], ["unpause", "c1", "done"], ["container", "unpause", "nope"]],
    [["wait", "done", "c1", "nope"], ["container", "wait", "bbb"]],
    [["rm", "done", "nope"], ["container", "rm", "-v", "c1"], ["rm", "web"], ["ps", "-aq"]],
    [["restart", "nope"], ["container", "restart", "-t", "x", "done"]],
]


@pytest.mark.parametrize("steps", WRITES, ids=lambda s: " / ".join(" ".join(a) for a in s))
def test_lean_writes_do_what_the_full_cli_does(tmp_path, capsys, steps):
    lean_root, full_root = str(tmp_path / "lean"), str(tmp_path / "full")
    lean_engine, full_engine = _store(lean_root, lost=False), _store(full_root, lost=False)
    for argv in steps:
        expected = _full(full_root, argv)
        code, out, err = _lean(lean_root, argv, capsys)
        if code is None:  # a usage error (-t x, no container named): click's words on both roots
            code, out, err = _full(lean_root, argv)
            assert expected[0] == 125 and "Usage:" in expected[2], f"{argv}: the lean path declined"
        assert (code, out, err) == expected, argv
    for eng in (lean_engine, full_engine):
        assert eng.check().clean
    fmt = "{{.Id}} {{.RepoTags}} {{.RepoDigests}} {{.Parent}} {{.Size}}"
    lean_images, full_images = (_full(root, ["inspect", "-f", fmt, *_ids(eng)])[1] for root, eng in ((lean_root, lean_engine), (full_root, full_engine)))
    assert lean_images == full_images


#: lean changes of references, each followed by a comparison of the catalog with a rebuilt one
RETAGS = [
    ["tag", "busybox", "team/app:2"],
    ["tag", "lonely:1", "team/app:1"],  # moves the tag from busybox's image
    ["image", "tag", "team/child:1", "localhost:5000/x/y:z"],
    ["tag", "team/child:1", "team/child:1"],  # the same tag again: only LastTagTime changes
    ["tag", "busybox", "busybox"],
    ["rmi", "team/app:2", "localhost:5000/x/y:z"],
    ["tag", "busybox", "Registry.example.com:5000/a__b/c-d.e:V_1.0"],
]


def test_lean_reference_changes_leave_the_catalog_a_rebuild_writes(tmp_path, capsys):
    """The catalog ``store.tagging`` edits in place is the one the image service would build
    from the store after the same change: records, the name table and every inspect document."""
    from lamina.store import catalog as catalogs

    root = str(tmp_path / "root")
    eng = _store(root, lost=False)
    image_dir = eng.store.paths.image_dir
    for argv in RETAGS:
        code, out, err = _lean(root, argv, capsys)
        assert code == 0 and not err, (argv, err)
        edited = catalogs.read(root, image_dir)
        assert edited is not None, f"{argv}: no current catalog after the change"
        assert not os.path.exists(catalogs.previous_path(image_dir))
        rebuilt = eng.images._build_catalog(None)
        assert [i.as_tuple() for i in edited.images] == [i.as_tuple() for i in rebuilt.images], argv
        assert edited.names == rebuilt.names, argv
        for image in rebuilt.images:
            assert edited.inspect_json(image.id) == rebuilt.inspect_json(image.id), (argv, image.id)
    assert eng.check().clean


def test_lean_tag_leaves_a_stale_catalog_to_the_image_service(tmp_path, capsys):
    """A store changed behind the catalog's back (its signature differs): the lean path changes
    nothing itself; the image service tags and rebuilds."""
    from lamina.store import catalog as catalogs

    root = str(tmp_path / "root")
    eng = _store(root, lost=False)
    repositories = eng.store.paths.repositories_json()
    os.utime(repositories, (1, 1))  # as an editor or another tool would leave it
    assert catalogs.read(root, eng.store.paths.image_dir) is None
    assert _lean(root, ["tag", "busybox", "x:1"], capsys) == (0, "", "")
    assert str(eng.images.resolve("x:1")) == str(eng.images.resolve("busybox"))
    assert catalogs.read(root, eng.store.paths.image_dir) is not None


def _ids(eng: Engine) -> list[str]:
    return [str(s.id) for s in eng.images.summaries()] or ["none"]


def test_logout_prints_what_the_full_cli_prints(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("LAMINA_CONFIG", str(tmp_path / "config"))
    root = str(tmp_path / "root")
    from lamina.registry.client.credentials import load_auth, save_auth

    for path in ("lean", "full"):
        save_auth("127.0.0.1:5000", "me", "secret")
        assert load_auth("127.0.0.1:5000") == ("me", "secret")
        for _ in range(2):  # logged in, then not
            if path == "full":
                got = _full(root, ["logout", "127.0.0.1:5000"])
            else:
                got = _lean(root, ["logout", "127.0.0.1:5000"], capsys)
            assert got[0] == 0
            outputs = getattr(test_logout_prints_what_the_full_cli_prints, "seen", {})
            outputs.setdefault(path, []).append(got[1:])
            test_logout_prints_what_the_full_cli_prints.seen = outputs
        assert load_auth("127.0.0.1:5000") is None
    seen = test_logout_prints_what_the_full_cli_prints.seen
    assert seen["lean"] == seen["full"] == [
        ("Removing login credentials for 127.0.0.1:5000\n", ""),
        ("Not logged in to 127.0.0.1:5000\n", ""),
    ]


# --- which modules each command loads ------------------------------------------------------------
#: never on a lean path: the full CLI and what only network or server code needs
NEVER = {
    "click", "site", "asyncio", "ssl", "http", "email", "zipfile", "importlib.metadata", "logging", "argparse",
}
#: slow standard modules (each 3-25 ms here; ``lamina.value`` says why), kept off every lean path
SLOW = {
    "dataclasses", "typing", "inspect", "ast", "pathlib", "tempfile", "secrets", "random", "subprocess",
    "shutil", "lzma", "bz2", "shlex", "platform", "uuid", "decimal", "locale", "urllib", "fnmatch", "importlib",
}

#: slow modules a command still loads, until its records stop being dataclasses (the list may
#: only shrink)
STILL_SLOW: dict[tuple[str, ...], set[str]] = {}
#: slow modules a command's own work needs: ``rm`` deletes directory trees (``shutil.rmtree``,
#: and shutil imports its archive helpers at load), and so does ``rmi`` of an image's last tag.
#: (The runtime's commands are run without ``subprocess``: ``runtime.runc.run_captured``.)
NEEDS_SLOW: dict[tuple[str, ...], set[str]] = {("rm", "done"): {"shutil", "fnmatch", "bz2", "lzma"},
                                                ("rmi", "lonely:1"): {"shutil", "fnmatch", "bz2", "lzma"}}
#: budget command lines that fail on the synthetic store (still on the lean path): the exit code
EXITS = {("kill", "done"): 1, ("pause", "done"): 1, ("unpause", "done"): 1, ("restart", "nope"): 1}

#: what the dispatcher itself loads before any command
DISPATCH = {"lamina", "lamina.cli", "lamina.cli.entry", "lamina.cli.fast", "lamina.cli.lean", "lamina.cli.lean.args"}

#: an Engine on a data root: the store, its records and the image service
_STORE = {
    "lamina.engine", "lamina.errors", "lamina.cli.errors", "lamina.value", "lamina.digest", "lamina.reference",
    "lamina.store", "lamina.store.store", "lamina.store.catalog", "lamina.store.paths", "lamina.store.lock",
    "lamina.store.atomic", "lamina.store.imagedb", "lamina.store.layerdb", "lamina.store.repositories",
    "lamina.store.lease", "lamina.store.blobs", "lamina.graphdriver", "lamina.graphdriver.base",
    "lamina.graphdriver.overlay2", "lamina.graphdriver.vfs", "lamina.mount", "lamina.oci", "lamina.oci.config",
    "lamina.image", "lamina.image.service", "lamina.image.config", "lamina.format", "lamina.format.humanize",
    "lamina.format.units", "lamina.image.pullpolicy", "lamina.store.tagging", "lamina.jsonc", "lamina.image.history",
}
#: a change of references without the store (``store.tagging``): the catalog edited in place
_RETAG = {
    "lamina.store", "lamina.store.tagging", "lamina.store.catalog", "lamina.store.lock", "lamina.store.paths",
    "lamina.store.atomic", "lamina.store.imagedb", "lamina.store.repositories", "lamina.reference", "lamina.digest",
    "lamina.errors", "lamina.value", "lamina.jsonc",
}
#: tables (default columns are filled without the template engine)
_TABLE = {"lamina.format.table", "lamina.format.tabwriter"}  # the template engine: only for --format

#: containers read from docker's files (no image store): ``ctx.containers()``
_CONTAINERS = {
    "lamina.errors", "lamina.cli.errors", "lamina.value", "lamina.digest", "lamina.store", "lamina.store.paths",
    "lamina.store.atomic", "lamina.container", "lamina.container.model", "lamina.container.store",
    "lamina.container.service", "lamina.container.names", "lamina.runtime", "lamina.runtime.execroot", "lamina.jsonc",
    "lamina.store.lease",
    "lamina.cli.container_output",
    "lamina.format", "lamina.format.humanize",
}

#: a container's lifecycle (``runtime.lifecycle``), short of starting one
_LIFECYCLE = {"lamina.runtime.lifecycle", "lamina.runtime.runc", "lamina.runtime.signals", *_CONTAINERS}

#: command line -> the lamina modules it may load beyond the dispatcher's
BUDGET = {
    ("images",): {"lamina.cli.lean.images", "lamina.store", "lamina.store.catalog", "lamina.cli.image_output",
                  "lamina.format", "lamina.format.humanize", "lamina.format.tabwriter"},
    ("image", "inspect", "busybox"): {"lamina.cli.lean.image_inspect", "lamina.store", "lamina.store.catalog",
                                      "lamina.cli.image_output", "lamina.format", "lamina.format.humanize",
                                      "lamina.format.tabwriter", "lamina.jsonc"},
    ("inspect", "team/app:1"): {"lamina.cli.lean.inspect", "lamina.cli.lean.image_inspect", "lamina.store.catalog",
                                "lamina.cli.image_output", "lamina.format.tabwriter", *_CONTAINERS},
    ("inspect", "web", "busybox"): {"lamina.cli.lean.inspect", "lamina.cli.lean.image_inspect", "lamina.store.catalog",
                                    "lamina.cli.image_output", "lamina.format.tabwriter", "lamina.container.names",
                                    "lamina.graphdriver", "lamina.graphdriver.base", "lamina.graphdriver.vfs",
                                    "lamina.mount", *_CONTAINERS},
    ("container", "inspect", "-f", "{{.State.Status}}", "done"): {
        "lamina.cli.lean.container_inspect", "lamina.cli.image_output", "lamina.format.tabwriter",
        "lamina.format.template", "lamina.container.names", "lamina.graphdriver", "lamina.graphdriver.base",
        "lamina.graphdriver.vfs", "lamina.mount", *_CONTAINERS},
    ("stop", "done"): {"lamina.cli.lean.stop", "lamina.cli.lean.lifecycle", *_LIFECYCLE},
    ("kill", "done"): {"lamina.cli.lean.kill", "lamina.cli.lean.lifecycle", *_LIFECYCLE},
    ("pause", "done"): {"lamina.cli.lean.pause", "lamina.cli.lean.lifecycle", *_LIFECYCLE},
    ("unpause", "done"): {"lamina.cli.lean.unpause", "lamina.cli.lean.lifecycle", *_LIFECYCLE},
    ("restart", "nope"): {"lamina.cli.lean.restart", "lamina.cli.lean.lifecycle", *_LIFECYCLE},
    ("rm", "done"): {"lamina.cli.lean.rm", "lamina.cli.lean.lifecycle", "lamina.container.names",
                     "lamina.runtime.lifecycle", "lamina.runtime.runc", "lamina.runtime.signals", "lamina.runtime.select",
                     "lamina.graphdriver", "lamina.graphdriver.base", "lamina.graphdriver.vfs", "lamina.mount",
                     "lamina.network", "lamina.network.containers", "lamina.store.lease", "lamina.store.lock",
                     "lamina.volume", "lamina.volume.local", *_CONTAINERS},
    ("logs", "-f", "done"): {"lamina.cli.lean.logs", "lamina.runtime.logs", *_CONTAINERS},
    ("wait", "done"): {"lamina.cli.lean.wait", "lamina.cli.lean.lifecycle", "lamina.container.names", *_CONTAINERS},
    ("tag", "busybox", "bb:1"): {"lamina.cli.lean.tag", *_RETAG},
    ("image", "tag", "team/app:1", "localhost:5000/a/b:c"): {"lamina.cli.lean.tag", *_RETAG},
    ("rmi", "team/app:1"): {"lamina.cli.lean.rmi", *_RETAG},
    ("rmi", "lonely:1"): {"lamina.cli.lean.rmi", "lamina.image.remove", *_RETAG, *_STORE},
    ("history", "busybox"): {"lamina.cli.lean.history", "lamina.cli.image_output", "lamina.image", "lamina.image.history",
                             "lamina.oci", "lamina.oci.config", "lamina.store.imagedb", "lamina.store.layerdb",
                             "lamina.store.repositories", "lamina.store.paths", "lamina.store.atomic", "lamina.store.catalog",
                             "lamina.store", "lamina.reference", "lamina.digest", "lamina.errors", "lamina.value",
                             "lamina.jsonc", "lamina.format", "lamina.format.humanize", "lamina.format.units", *_TABLE},
    ("system", "df"): {"lamina.cli.lean.df", "lamina.cli.system_output", "lamina.system", "lamina.system.usage", *_STORE, *_TABLE},
    ("system", "df", "-v"): {"lamina.cli.lean.df", "lamina.cli.system_output", "lamina.system", "lamina.system.usage",
                             "lamina.cli.image_output", *_STORE, *_TABLE},
    ("info",): {"lamina.cli.lean.info", "lamina.cli.system_output", "lamina.system", "lamina.system.info",
              "lamina.runtime", "lamina.runtime.select", "lamina.jsonc", *_STORE},
    ("version",): {"lamina.cli.lean.version", "lamina.image", "lamina.image.config"},
    ("diff", "c1"): {"lamina.cli.lean.diff", "lamina.container", "lamina.container.filesystem", "lamina.container.changes",
                     "lamina.container.store", "lamina.container.model", "lamina.jsonc", "lamina.store", "lamina.store.paths",
                     "lamina.store.atomic", "lamina.digest", "lamina.errors", "lamina.value"},
    ("ps", "-a"): {"lamina.cli.lean.ps", *_CONTAINERS, *_TABLE, "lamina.network", "lamina.network.containers"},
    ("container", "ls", "--format", "{{json .Names}}"): {"lamina.cli.lean.ps", *_CONTAINERS, *_TABLE, "lamina.format.template",
                                                        "lamina.network", "lamina.network.containers"},
    ("volume", "ls"): {"lamina.cli.lean.volumes", "lamina.volume", "lamina.volume.local", "lamina.container",
                       "lamina.container.store", "lamina.container.model", "lamina.jsonc", "lamina.errors",
                       "lamina.value", "lamina.digest", "lamina.store", "lamina.store.paths", "lamina.store.atomic", "lamina.format", *_TABLE},
    ("network", "ls"): {"lamina.cli.lean.networks", "lamina.network", "lamina.network.model", "lamina.network.store",
                        "lamina.container", "lamina.container.store", "lamina.container.model", "lamina.jsonc",
                        "lamina.errors", "lamina.value", "lamina.digest", "lamina.store", "lamina.store.paths",
                        "lamina.store.atomic", "lamina.format", *_TABLE},
    ("__complete", "images"): {"lamina.cli.lean.complete", "lamina.store", "lamina.store.catalog"},
    ("logout", "127.0.0.1:5000"): {"lamina.cli.lean.logout", "lamina.errors", "lamina.registry", "lamina.registry.client",
                                   "lamina.registry.client.credentials", "lamina.registry.client.tokens", "lamina.store",
                                   "lamina.store.atomic", "lamina.jsonc"},
}



#: command lines that load neither ``re`` nor ``json`` (with ``enum``, ``functools``: ~10 ms); the
#: engine itself (``Engine``: the store and the image service) loads none of them
PLAIN = {("tag", "busybox", "bb:1"), ("image", "tag", "team/app:1", "localhost:5000/a/b:c"), ("rmi", "team/app:1"),
         ("history", "busybox"), ("system", "df"), ("system", "df", "-v"), ("info",)}


@pytest.fixture
def budget_store(tmp_path, monkeypatch):
    root = str(tmp_path / "root")
    _store(root)
    monkeypatch.setenv("LAMINA_CONFIG", str(tmp_path / "config"))
    return root


#: login speaks HTTP(S) to the registry: it may load what only network code needs
LOGIN = ("login", "-u", "me", "-p", "secret", "{registry}")
LOGIN_BUDGET = {"lamina.cli.lean.login", "lamina.errors", "lamina.registry", "lamina.registry.client",
                "lamina.registry.client.auth", "lamina.registry.client.http11", "lamina.registry.client.credentials", "lamina.store", "lamina.store.atomic",
                "lamina.jsonc"}
LOGIN_NEEDS = {"ssl"}  # (registry.client.http11 speaks HTTP: not http.client, whose header parser is email's)


#: commands whose budget is checked elsewhere: login (needs a registry, below), build (its own
#: test below), run and create
#: (need root and a runtime: tests/integration/test_lean_run.py)
BUDGETED_ELSEWHERE = {"login", "build", "run", "create"}


def test_every_lean_command_has_a_budget():
    budgeted = {fast.LEAN[" ".join(argv[:2])] if argv[0] in fast.GROUPS else fast.LEAN[argv[0]] for argv in BUDGET}
    assert budgeted | BUDGETED_ELSEWHERE == set(fast.LEAN.values())


@pytest.fixture(scope="module")
def registry(tmp_path_factory):
    from lamina.testing.registries import RegistryProcess, cncf_binary

    if cncf_binary() is None:
        pytest.skip("the CNCF registry is not installed (install.sh installs docker-registry)")
    with RegistryProcess(str(tmp_path_factory.mktemp("registry")), kind="cncf") as reg:
        yield reg


def test_login_stays_within_its_module_budget(budget_store, tmp_path, registry):
    argv = [w.replace("{registry}", registry.host) for w in LOGIN]
    modules, proc = loaded_modules(["--data-root", budget_store, *argv], tmp_path)
    assert proc.returncode == 0 and proc.stdout == "Login Succeeded\n", proc.stderr
    assert "lamina.cli.main" not in modules and "click" not in modules and "httpx" not in modules
    assert not modules & (NEVER - LOGIN_NEEDS) and not modules & (SLOW - LOGIN_NEEDS)
    extra = {m for m in modules if m.startswith("lamina.")} - DISPATCH - LOGIN_BUDGET
    assert not extra, f"login loads lamina modules beyond its budget: {sorted(extra)}"


def test_login_prints_what_the_full_cli_prints(tmp_path, capsys, monkeypatch, registry):
    from lamina.registry.client.credentials import load_auth

    monkeypatch.setenv("LAMINA_CONFIG", str(tmp_path / "config"))
    root = str(tmp_path / "root")
    refused = "127.0.0.1:1"  # nothing listens there: both paths word the failure the same way
    for argv in (["login", "-u", "me", "-p", "secret", registry.host],
                 ["login", "--username=me", "--password", "secret", "--insecure", f"http://{registry.host}"],
                 ["login", "-u", "me", "-p", "secret", refused]):
        expected = _full(root, argv)
        assert _lean(root, argv, capsys) == expected
    assert expected[0] == 125 and expected[2].startswith("Error: Error response from daemon: Get http://127.0.0.1:1/v2/")
    assert load_auth(registry.host) == ("me", "secret")
    for argv in (["login", registry.host], ["login", "-u", "me", registry.host]):  # prompts: click's
        assert _lean(root, argv, capsys) == (None, "", "")


#: a fully cached build: parse, probe the cache step by step, tag; its lines and -q's ID
BUILD_DOCKERFILE = "FROM busybox\nENV APP=/app\nCOPY hello.txt /app/\nLABEL built=here\n"
BUILD_BUDGET = {
    "lamina.cli.lean.build", "lamina.cli.build_run", "lamina.build", "lamina.build.executor", "lamina.build.args",
    "lamina.build.context", "lamina.build.copier", "lamina.build.dockerignore", "lamina.build.gofmt",
    "lamina.build.imagefs", "lamina.build.parser", "lamina.build.shell", *_STORE,
}
#: a COPY's checksum and the cache's JSON comparisons
BUILD_NEEDS = {"hashlib", "copy"}


def _build_context(tmp_path) -> str:
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(BUILD_DOCKERFILE)
    (ctx / "hello.txt").write_text("hello\n")
    return str(ctx)


def test_cached_build_stays_within_its_module_budget(budget_store, tmp_path):
    ctx = _build_context(tmp_path)
    first = _full(budget_store, ["build", "-q", "-t", "app:1", ctx])
    assert first[0] == 0, first
    modules, proc = loaded_modules(["--data-root", budget_store, "build", "-q", "-t", "app:1", ctx], tmp_path)
    assert proc.returncode == 0 and proc.stdout == first[1], proc.stderr
    assert "lamina.cli.main" not in modules and "click" not in modules
    assert not modules & NEVER and not modules & (SLOW - BUILD_NEEDS), sorted(modules & (SLOW | NEVER))
    extra = {m for m in modules if m.startswith("lamina.")} - DISPATCH - BUILD_BUDGET
    assert not extra, f"a cached build loads lamina modules beyond its budget: {sorted(extra)}"


def test_lean_build_turns_site_on_for_a_pull(budget_store, tmp_path):
    """A FROM image the store lacks is pulled by the registry client, whose HTTP library is in
    site-packages: started as the launcher starts it, the build still gets there and words the
    failure as the full CLI does."""
    ctx = tmp_path / "ctx"
    ctx.mkdir()
    (ctx / "Dockerfile").write_text("FROM 127.0.0.1:1/nothing:1\n")
    expected = _full(budget_store, ["build", "-q", str(ctx)])
    modules, proc = loaded_modules(["--data-root", budget_store, "build", "-q", str(ctx)], tmp_path)
    assert "lamina.cli.main" not in modules and "site" in modules and "httpx" in modules
    assert (proc.returncode, proc.stdout, proc.stderr) == expected and expected[0] != 0, expected


def test_lean_build_prints_what_the_full_cli_prints(budget_store, tmp_path, capsys):
    ctx = _build_context(tmp_path)
    built = _full(budget_store, ["build", "-t", "app:1", ctx])
    assert built[0] == 0 and " ---> Using cache" not in built[1], built
    for argv in (["build", "-t", "app:1", ctx], ["image", "build", "-q", "--label", "x=1", ctx],
                 ["build", "-f", "nope", ctx], ["build", "--network", "bridge", ctx]):
        expected = _full(budget_store, argv)
        code, out, err = _lean(budget_store, argv, capsys)
        assert (code, out, err) == expected, argv
    assert _lean(budget_store, ["build", "--rm=false", ctx], capsys) == (None, "", "")


@pytest.mark.parametrize("argv", sorted(BUDGET), ids=" ".join)
def test_lean_command_stays_within_its_module_budget(budget_store, tmp_path, argv):
    modules, proc = loaded_modules(["--data-root", budget_store, *argv], tmp_path)
    assert proc.returncode == EXITS.get(argv, 0), proc.stderr
    assert "lamina.cli.main" not in modules, "the full CLI ran: the lean path declined"
    assert not modules & NEVER, f"modules no lean command needs: {sorted(modules & NEVER)}"
    slow = modules & SLOW - STILL_SLOW.get(argv, set()) - NEEDS_SLOW.get(argv, set())
    assert not slow, f"slow modules loaded: {sorted(slow)}"
    if argv in PLAIN:
        assert not modules & {"re", "json", "enum", "contextlib", "functools"}, sorted(modules & {"re", "json"})
    ours = {m for m in modules if m == "lamina" or m.startswith("lamina.")}
    extra = ours - DISPATCH - BUDGET[argv]
    assert not extra, f"{' '.join(argv)} loads lamina modules beyond its budget: {sorted(extra)}"


@pytest.mark.parametrize("words", sorted(fast.LEAN), ids=str)
def test_no_lean_command_module_imports_click_or_site_packages(words):
    """Importing a lean command's module (what the dispatcher does) loads nothing from
    site-packages, whatever the command later does."""
    name = f"lamina.cli.lean.{fast.LEAN[words]}"
    script = (
        f"import sys; sys.path.append({SRC!r}); import {name}; "
        "print('\\n'.join(m.__file__ or '' for m in list(sys.modules.values()) if getattr(m, '__file__', None)))"
    )
    proc = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, check=True)
    files = proc.stdout.split("\n")
    assert not [f for f in files if "site-packages" in f], "a lean module reaches into site-packages"
    assert "click" not in proc.stdout


def test_declined_commands_still_run_through_the_launcher(budget_store, tmp_path):
    modules, proc = loaded_modules(["--data-root", budget_store, "images", "--filter", "dangling=true"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "click" in modules and "lamina.cli.main" in modules
    assert proc.stdout.startswith("REPOSITORY")


def test_lean_path_works_without_bytecode(budget_store, tmp_path):
    """A fresh checkout (no ``__pycache__``, PYTHONDONTWRITEBYTECODE) still answers."""
    env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
    modules, proc = loaded_modules(["--data-root", budget_store, "tag", "busybox", "x:1"], tmp_path, env)
    assert proc.returncode == 0, proc.stderr
    assert "click" not in modules and "lamina.cli.lean.tag" in modules


# --- the launcher install.sh writes ----------------------------------------------------------------
def test_install_moves_lamina_out_from_behind_a_version_manager_shim(tmp_path, monkeypatch):
    """Under pyenv the launcher goes to /usr/local/bin (here a temporary one) and pip's console
    script leaves the version's bin, so ``pyenv rehash`` drops the shim that would shadow it."""
    from lamina.cli import launcher

    root = tmp_path / "pyenv"
    scripts = root / "versions" / "3.11.7" / "bin"
    scripts.mkdir(parents=True)
    (root / "shims").mkdir()
    (scripts / "lamina").write_text("#!/bin/sh\necho pip's console script\n")
    (scripts / "lamina").chmod(0o755)
    system_bin = tmp_path / "usr-local-bin"
    system_bin.mkdir()
    monkeypatch.setattr(launcher, "SYSTEM_BIN", str(system_bin))
    assert launcher.install_path(str(scripts)) == str(system_bin / "lamina")
    lines = launcher.install(str(scripts))
    assert lines[0] == f"lamina launcher: {system_bin / 'lamina'}"
    assert not (scripts / "lamina").exists()
    text = (system_bin / "lamina").read_text()
    assert text.startswith(f"#!{sys.executable} -S\n") and launcher.MARKER in text
    if shutil.which("pyenv"):
        assert not (root / "shims" / "lamina").exists()
    # the launcher runs lamina from this source tree
    proc = subprocess.run([str(system_bin / "lamina"), "--version"], capture_output=True, text=True)
    assert proc.stdout == f"lamina, version {lamina.__version__}\n"


def test_install_replaces_pip_s_script_in_place_elsewhere(tmp_path):
    from lamina.cli import launcher

    scripts = tmp_path / "venv" / "bin"
    scripts.mkdir(parents=True)
    (scripts / "lamina").write_text("#!/bin/sh\n")
    assert launcher.install_path(str(scripts)) == str(scripts / "lamina")
    launcher.install(str(scripts))
    assert launcher.MARKER in (scripts / "lamina").read_text()


def test_a_fresh_login_shell_finds_the_launcher_after_install():
    """On a machine where install.sh ran (CI runs it first), ``lamina`` in a new login shell is
    the launcher itself, not a version manager's shim or pip's slower console script."""
    from lamina.cli import launcher

    found = subprocess.run(["bash", "-lc", "command -v lamina"], capture_output=True, text=True).stdout.strip()
    if not found:
        pytest.skip("lamina is not installed on this machine (run ./install.sh)")
    with open(found, errors="replace") as f:
        head = f.read(400)
    if launcher.MARKER not in head and os.environ.get("CI") != "true":
        pytest.skip(f"install.sh has not run here since the launcher moved ({found})")
    assert launcher.MARKER in head, f"a login shell finds {found}, not the launcher"
    assert found == launcher.install_path()
