"""Volumes on a data root: docker's local layout, the volume commands, and the seam containers use
(a new volume filled from the image's content at its mount path)."""

from __future__ import annotations

import json
import os
import stat

from lamina import Engine
from lamina.errors import Conflict, InvalidArgument, NotFound
from lamina.volume import remove_anonymous, resolve_for_container


def test_volume_commands(lamina):
    assert lamina.run("volume", "create", "v1").out == "v1\n"
    assert lamina.run("volume", "create", "v1").out == "v1\n"  # exists: returned, as docker does
    lamina.run("volume", "create", "--label", "tier=db", "-o", "type=tmpfs", "-o", "device=tmpfs", "v2")
    docs = json.loads(lamina.run("volume", "inspect", "v1", "v2").out)
    assert [d["Name"] for d in docs] == ["v1", "v2"]
    assert docs[0]["Labels"] is None and docs[0]["Options"] is None and docs[0]["Driver"] == "local"
    assert docs[1]["Labels"] == {"tier": "db"} and docs[1]["Options"] == {"device": "tmpfs", "type": "tmpfs"}
    assert docs[0]["Mountpoint"] == os.path.join(lamina.root, "volumes", "v1", "_data")
    assert os.path.isdir(docs[0]["Mountpoint"])
    table = lamina.run("volume", "ls").out.splitlines()
    assert table[0].split() == ["DRIVER", "VOLUME", "NAME"] and [r.split() for r in table[1:]] == [["local", "v1"], ["local", "v2"]]
    assert lamina.run("volume", "ls", "-q", "-f", "label=tier=db").out == "v2\n"
    assert lamina.run("volume", "ls", "--format", "{{.Name}} {{.Labels}}", "-f", "name=v2").out == "v2 tier=db\n"
    assert lamina.run("volume", "inspect", "-f", "{{.Scope}}", "v1").out == "local\n"
    bad = lamina.run("volume", "create", "a/b", check=False)
    assert bad.returncode == 125 and "includes invalid characters" in bad.err
    missing = lamina.run("volume", "rm", "nope", check=False)
    assert missing.returncode == 1 and missing.err == "Error: get nope: no such volume\n"
    assert lamina.run("volume", "inspect", "nope", check=False).returncode == 1
    # prune: anonymous volumes only, unless -a
    anon = lamina.run("volume", "create").out.strip()
    assert len(anon) == 64
    pruned = lamina.run("volume", "prune", "-f").out
    assert pruned.startswith(f"Deleted Volumes:\n{anon}\n\nTotal reclaimed space:")
    assert lamina.run("volume", "ls", "-q").out == "v1\nv2\n"
    assert lamina.run("volume", "rm", "v1").out == "v1\n"
    assert lamina.run("volume", "prune", "-a", "-f").out.startswith("Deleted Volumes:\nv2\n")
    assert lamina.run("volume", "ls", "-q").out == ""
    assert lamina.run("system", "check").returncode == 0


def test_volume_in_use_is_refused(data_root):
    engine = Engine(data_root)
    engine.volumes.create("data")
    # a container (any maker's) whose config.v2.json mounts it
    cid = "c" * 64
    os.makedirs(os.path.join(data_root, "containers", cid))
    with open(os.path.join(data_root, "containers", cid, "config.v2.json"), "w") as f:
        json.dump({"ID": cid, "MountPoints": {"/data": {"Type": "volume", "Name": "data", "Destination": "/data"}}}, f)
    try:
        engine.volumes.remove("data")
    except Conflict as exc:
        assert str(exc) == f"remove data: volume is in use - [{cid}]"
    else:
        raise AssertionError("an in-use volume was removed")
    assert [v.name for v in engine.volumes.list(["dangling=false"])] == ["data"]
    assert engine.volumes.list(["dangling=true"]) == []
    assert engine.volumes.prune(all_volumes=True).deleted == []
    try:
        engine.volumes.list(["bogus=1"])
    except InvalidArgument as exc:
        assert "invalid filter 'bogus'" in str(exc)
    try:
        engine.volumes.get("gone")
    except NotFound as exc:
        assert str(exc) == "No such volume: gone"


def test_new_volume_is_filled_from_the_image(data_root, busybox_tar):
    engine = Engine(data_root, "overlay2")
    with open(busybox_tar, "rb") as f:
        engine.images.import_tarball(f, reference="bb:1")
    name, path = resolve_for_container(engine.store, "", "/etc", "bb:1")
    assert len(name) == 64 and path.endswith(f"/volumes/{name}/_data")
    assert sorted(os.listdir(path)) == ["group", "hostname", "passwd"]
    assert open(os.path.join(path, "passwd")).read().startswith("root:x:0:0")
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o755
    # a named volume that already holds files is left as it is
    named, npath = resolve_for_container(engine.store, "keep", "/etc", "bb:1")
    os.unlink(os.path.join(npath, "group"))
    resolve_for_container(engine.store, "keep", "/etc", "bb:1")
    assert "group" not in os.listdir(npath)
    # a path the image does not have gives an empty volume
    _, empty = resolve_for_container(engine.store, "fresh", "/nonexistent/dir", "bb:1")
    assert os.listdir(empty) == []
    assert engine.volumes.get(name).attrs["Labels"] == {"com.docker.volume.anonymous": ""}
    assert engine.check().clean


def test_rm_v_removes_only_anonymous_volumes(data_root):
    engine = Engine(data_root)
    anon = engine.volumes.create().name
    engine.volumes.create("named")
    points = {"/a": {"Type": "volume", "Name": anon}, "/n": {"Type": "volume", "Name": "named"},
              "/b": {"Type": "bind", "Source": "/tmp"}}
    assert remove_anonymous(engine.store, points) == [anon]
    assert [v.name for v in engine.volumes.list()] == ["named"]
