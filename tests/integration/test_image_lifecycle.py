"""Images through the real CLI on a real data root: import, list, inspect, history, tag, rm."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile

from lamina.engine import Engine


def _sha256_file(path: str) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return "sha256:" + h.hexdigest()


def test_import_identities_and_layout(lamina, busybox_tar, data_root):
    out = lamina.run("image", "import", "-c", 'CMD ["/bin/sh"]', busybox_tar, "busybox:latest").out
    image_id = out.strip()
    assert image_id.startswith("sha256:") and len(image_id) == 71
    base = os.path.join(data_root, "image", "overlay2")
    config_path = os.path.join(base, "imagedb", "content", "sha256", image_id[7:])
    # image ID = sha256 of the config bytes
    assert _sha256_file(config_path) == image_id
    config = json.load(open(config_path))
    diff_id = config["rootfs"]["diff_ids"][0]
    # DiffID = sha256 of the uncompressed tar; ChainID of a one-layer image = its DiffID
    assert diff_id == _sha256_file(busybox_tar)
    layer = os.path.join(base, "layerdb", "sha256", diff_id[7:])
    assert open(os.path.join(layer, "diff")).read() == diff_id
    cache_id = open(os.path.join(layer, "cache-id")).read()
    assert int(open(os.path.join(layer, "size")).read()) > 1_000_000
    layer_dir = os.path.join(data_root, "overlay2", cache_id)
    assert os.path.isfile(os.path.join(layer_dir, "diff", "bin", "busybox"))
    short = open(os.path.join(layer_dir, "link")).read()
    assert os.readlink(os.path.join(data_root, "overlay2", "l", short)) == f"../{cache_id}/diff"
    repos = json.load(open(os.path.join(base, "repositories.json")))
    assert repos["Repositories"]["busybox"]["busybox:latest"] == image_id
    assert config["config"]["Cmd"] == ["/bin/sh"]
    assert config["history"][0]["comment"] == "Imported from -"


def test_import_from_stdin_message_and_history(lamina, busybox_tar):
    with open(busybox_tar, "rb") as f:
        lamina.run("import", "-", "newbase:first_cut", input=f.read())
    hist = lamina.run("history", "newbase:first_cut").out.splitlines()
    assert hist[0].split() == ["IMAGE", "CREATED", "CREATED", "BY", "SIZE", "COMMENT"]
    assert hist[1].rstrip().endswith("Imported from -")
    assert len(hist) == 2
    lamina.run("import", "-m", "my message", busybox_tar, "msg")
    assert "my message" in lamina.run("history", "msg").out
    assert lamina.run("history", "-q", "msg").out.strip() == lamina.run("images", "-q", "msg").out.strip()


def test_images_columns_and_options(lamina, busybox_tar):
    image_id = lamina.run("import", busybox_tar, "busybox").out.strip()
    lamina.run("tag", "busybox", "localhost:5000/team/busybox:v1")
    lines = lamina.run("images").out.splitlines()
    assert lines[0].split() == ["REPOSITORY", "TAG", "IMAGE", "ID", "CREATED", "SIZE"]
    rows = [line.split() for line in lines[1:]]
    assert ["busybox", "latest", image_id[7:19]] == rows[1][:3] or ["busybox", "latest", image_id[7:19]] == rows[0][:3]
    assert any(r[0] == "localhost:5000/team/busybox" and r[1] == "v1" for r in rows)
    created = lamina.run("images", "--format", "{{.CreatedSince}}").out.splitlines()
    assert len(created) == 2 and all(c.endswith(" ago") and ("second" in c or "minute" in c) for c in created)
    assert rows[0][-1] == "MB" and rows[0][-2].replace(".", "").isdigit()
    assert lamina.run("images", "-q").out.split() == [image_id[7:19]]
    assert lamina.run("images", "--no-trunc", "-q").out.split() == [image_id]
    assert "DIGEST" in lamina.run("images", "--digests").out.splitlines()[0]
    fmt = lamina.run("image", "ls", "--format", "{{.Repository}}\\t{{.Tag}}", "busybox").out
    assert fmt == "busybox\tlatest\n"
    table = lamina.run("image", "ls", "--format", "table {{.Repository}}\t{{.ID}}", "busybox").out.splitlines()
    assert table[0].split() == ["REPOSITORY", "IMAGE", "ID"]


def test_images_filters(lamina, busybox_tar):
    first = lamina.run("import", "-c", "LABEL tier=base", busybox_tar, "one").out.strip()
    second = lamina.run("import", "-c", "LABEL tier=app", "-m", "second", busybox_tar, "two").out.strip()
    assert first != second  # same layer, different configs
    q = lambda *f: lamina.run("images", "-q", "--no-trunc", *f).out.split()  # noqa: E731
    assert q("-f", "label=tier=base") == [first]
    assert sorted(q("-f", "label=tier")) == sorted([first, second])
    assert q("-f", "reference=tw*") == [second]
    assert q("-f", "before=two") == [first]
    assert q("-f", "since=one") == [second]
    lamina.run("tag", "one", "three")
    lamina.run("import", busybox_tar, "one")  # moves the tag: the old "one" keeps "three"
    lamina.run("rmi", "three")
    assert first not in q()
    dangling_id = lamina.run("import", busybox_tar, "two").out.strip()  # "two" moves, old second dangles
    assert q("-f", "dangling=true") == [second]
    assert second not in q("-f", "dangling=false")
    assert dangling_id in q("-f", "dangling=false")
    bad = lamina.run("images", "-f", "bogus=1", check=False)
    assert bad.returncode == 125 and bad.err.startswith("Error: invalid filter 'bogus'")


def test_inspect_fields_and_templates(lamina, busybox_tar, data_root):
    image_id = lamina.run("import", "-c", "ENV A=1", "-c", "EXPOSE 80", busybox_tar, "lab/websvr:v0.2").out.strip()
    lamina.run("tag", "lab/websvr:v0.2", "problems:bad-web-server")
    lamina.run("tag", "lab/websvr:v0.2", "websvr")
    doc = json.loads(lamina.run("image", "inspect", "lab/websvr:v0.2").out)[0]
    for key in ("Id", "RepoTags", "RepoDigests", "Parent", "Comment", "Created", "Container", "ContainerConfig",
                "DockerVersion", "Author", "Config", "Architecture", "Os", "Size", "GraphDriver", "RootFS", "Metadata"):
        assert key in doc, key
    assert doc["Id"] == image_id
    assert doc["RepoTags"] == ["lab/websvr:v0.2", "problems:bad-web-server", "websvr:latest"]
    assert doc["GraphDriver"]["Name"] == "overlay2"
    data = doc["GraphDriver"]["Data"]
    assert data["UpperDir"].startswith(os.path.join(data_root, "overlay2")) and data["UpperDir"].endswith("/diff")
    assert set(data) == {"MergedDir", "UpperDir", "WorkDir"}
    assert doc["RootFS"]["Type"] == "layers" and len(doc["RootFS"]["Layers"]) == 1
    assert doc["Config"]["Env"] == ["A=1"] and doc["Config"]["ExposedPorts"] == {"80/tcp": {}}
    tpl = "{{range $t := .RepoTags}}TAG: {{$t}}\n{{end}}Total: {{len .RepoTags}}"
    out = lamina.run("inspect", "-f", tpl, "lab/websvr:v0.2").out
    assert out == "TAG: lab/websvr:v0.2\nTAG: problems:bad-web-server\nTAG: websvr:latest\nTotal: 3\n"
    assert lamina.run("inspect", "-f", "{{.Config.ExposedPorts}}", "websvr").out == "map[80/tcp:{}]\n"
    assert lamina.run("inspect", "-f", "{{json .Config.Env}}", "websvr").out == '["A=1"]\n'
    assert lamina.run("inspect", "-f", "{{.Size}}", "websvr").out.strip() == str(doc["Size"])
    missing = lamina.run("inspect", "nope", check=False)  # docker's top-level inspect: any kind of object
    assert missing.returncode == 1 and missing.err == "Error: No such object: nope\n"
    assert missing.out == "[]\n"  # as docker: scripts parsing the JSON get a valid (empty) array
    missing = lamina.run("image", "inspect", "nope", check=False)
    assert missing.returncode == 1 and missing.err == "Error: No such image: nope:latest\n"
    both = lamina.run("inspect", "websvr", "nope", check=False)
    assert both.returncode == 1 and [d["Id"] for d in json.loads(both.out)] == [doc["Id"]]


def test_rm_rules(lamina, busybox_tar, data_root):
    image_id = lamina.run("import", busybox_tar, "sam/thriftdev:0.9.1").out.strip()
    lamina.run("tag", "sam/thriftdev:0.9.1", "sam/thriftdev:0.9.1_rm")
    # by tag with another tag left: untag only
    assert lamina.run("rmi", "sam/thriftdev:0.9.1_rm").out == "Untagged: sam/thriftdev:0.9.1_rm\n"
    lamina.run("tag", "sam/thriftdev:0.9.1", "other:1")
    # by ID with two tags: conflict unless forced
    res = lamina.run("rmi", image_id[7:19], check=False)
    assert res.returncode == 1
    assert "(must be forced) - image is referenced in multiple repositories" in res.err
    lamina.run("rmi", "other:1")
    # a stopped container using it is a conflict too
    cdir = os.path.join(data_root, "containers", "8d75247087b5" + "0" * 52)
    os.makedirs(cdir)
    with open(os.path.join(cdir, "config.v2.json"), "w") as f:
        json.dump({"ID": os.path.basename(cdir), "Image": image_id, "State": {"Running": False}}, f)
    res = lamina.run("rmi", image_id[7:19], check=False)
    assert res.returncode == 1 and "being used by stopped container 8d75247087b5" in res.err
    os.remove(os.path.join(cdir, "config.v2.json"))
    os.rmdir(cdir)
    out = lamina.run("rmi", image_id[7:19]).out.splitlines()
    assert out[0] == "Untagged: sam/thriftdev:0.9.1"
    assert out[1] == f"Deleted: {image_id}"
    assert out[2].startswith("Deleted: sha256:")  # its only layer
    assert lamina.run("images", "-aq").out == ""
    assert os.listdir(os.path.join(data_root, "overlay2")) == ["l"]
    assert os.listdir(os.path.join(data_root, "overlay2", "l")) == []
    res = lamina.run("rmi", "sam/thriftdev:0.9.1", check=False)
    assert res.returncode == 1 and "No such image" in res.err


def test_rm_shared_layer_kept_until_last_image(lamina, busybox_tar, data_root):
    a = lamina.run("import", "-m", "a", busybox_tar, "a").out.strip()
    lamina.run("import", "-m", "b", busybox_tar, "b")
    out = lamina.run("rmi", "a").out.splitlines()
    assert out == ["Untagged: a:latest", f"Deleted: {a}"]
    assert len(os.listdir(os.path.join(data_root, "overlay2", "l"))) == 1
    out = lamina.run("rmi", "b").out.splitlines()
    assert len(out) == 3 and out[2].startswith("Deleted: sha256:")


def test_untagged_parent_pruned_unless_no_prune(data_root, busybox_tar):
    engine = Engine(data_root)
    with open(busybox_tar, "rb") as f:
        parent = engine.images.import_tarball(f, reference="parent")
    config = dict(engine.store.images.get(parent).doc)
    config["comment"] = "child"
    from lamina.oci import canonical_json

    child = engine.store.register_image(canonical_json(config), parent=parent)
    engine.images.tag(str(child), "child")
    engine.image_remover.remove("parent")  # untag only: the child depends on it
    assert engine.store.images.exists(parent)
    events = [e.line() for e in engine.image_remover.remove("child")]
    assert f"Deleted: {child}" in events and f"Deleted: {parent}" in events
    assert engine.store.images.ids() == []


def test_tag_errors(lamina, busybox_tar):
    lamina.run("import", busybox_tar, "x")
    for bad in ("UPPER", "a:b:c", "x@sha256:" + "a" * 64):
        res = lamina.run("tag", "x", bad, check=False)
        assert res.returncode == 125 and res.err.startswith("Error: ") and "Traceback" not in res.err
    assert lamina.run("tag", "nope", "y", check=False).returncode == 1


def test_bad_inputs_are_one_line_errors(lamina, tmp_path):
    garbage = tmp_path / "garbage.tar"
    garbage.write_bytes(b"this is not a tar file" * 100)
    archives = []
    for name, manifest in (
        ("layers-not-list", [{"Config": "c.json", "RepoTags": ["a:1"], "Layers": 5}]),
        ("tags-not-list", [{"Config": "c.json", "RepoTags": {"a": 1}, "Layers": []}]),
        ("config-wrong-types", [{"Config": "bad.json", "Layers": []}]),
    ):
        path = tmp_path / f"{name}.tar"
        with tarfile.open(path, "w") as tar:
            for member, data in (
                ("manifest.json", json.dumps(manifest).encode()),
                ("c.json", b'{"rootfs": {"type": "layers", "diff_ids": []}}'),
                ("bad.json", b'{"rootfs": {"type": "layers", "diff_ids": []}, "history": [{"created_by": 1}]}'),
            ):
                info = tarfile.TarInfo(member)
                info.size = len(data)
                tar.addfile(info, io.BytesIO(data))
        archives.append(["load", "-i", str(path)])
    for args in (["import", str(garbage)], ["import", str(tmp_path / "missing.tar")], ["load", "-i", str(garbage)], *archives):
        res = lamina.run(*args, check=False)
        assert res.returncode == 125, (args, res.err)
        assert res.err.startswith("Error: ") and res.err.count("\n") == 1 and "Traceback" not in res.err
    assert lamina.run("system", "check").returncode == 0


def test_import_from_url_streams_over_http(lamina, busybox_tar, tmp_path):
    import functools
    import http.server
    import threading

    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=os.path.dirname(busybox_tar))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{os.path.basename(busybox_tar)}"
        lamina.run("import", url, "fromurl:v1")
        assert lamina.run("history", "--format", "{{.Comment}}", "fromurl:v1").out.strip() == f"Imported from {url}"
        missing = lamina.run("import", url + ".nope", check=False)
        assert missing.returncode == 125 and "404" in missing.err and "Traceback" not in missing.err
    finally:
        server.shutdown()
    with open(busybox_tar, "rb") as f:
        lamina.run("import", "-", "fromfile:v1", input=f.read())
    layers = [lamina.run("inspect", "-f", "{{json .RootFS.Layers}}", name).out for name in ("fromurl:v1", "fromfile:v1")]
    assert layers[0] == layers[1]


def test_history_without_human_units(lamina, busybox_tar):
    lamina.run("import", busybox_tar, "plain")
    row = lamina.run("history", "-H=false", "--format", "{{.CreatedSince}}|{{.Size}}", "plain").out.strip()
    created, size = row.split("|")
    assert size.isdigit() and int(size) > 1_000_000
    assert created.endswith("Z") or created[-6] in "+-"
    assert "T" in created


def test_prune_filters_until_label_and_dangling(lamina, busybox_tar):
    lamina.run("import", "-c", "LABEL team=red", busybox_tar, "red")
    lamina.run("import", "-c", "LABEL team=blue", busybox_tar, "blue")
    lamina.run("import", "-m", "plain", busybox_tar, "plain")

    def would_delete(*filters: str) -> list[str]:
        args = ["image", "prune", "-a", "--dry-run"] + [f"--filter={f}" for f in filters]
        return [line.split(": ", 1)[1] for line in lamina.run(*args).out.splitlines() if line.startswith("Untagged: ")]

    assert would_delete("label=team=red") == ["red:latest"]
    assert sorted(would_delete("label=team")) == ["blue:latest", "red:latest"]
    assert would_delete("label!=team") == ["plain:latest"]
    assert would_delete("until=1h") == []  # everything is younger than an hour
    assert would_delete("until=2000-01-01") == []
    assert len(would_delete("until=0s")) == 3
    # dangling=false is -a
    out = lamina.run("image", "prune", "-f", "--filter", "dangling=false", "--filter", "label=team=blue").out
    assert "Untagged: blue:latest" in out and "red" not in out
    assert sorted(lamina.run("images", "--format", "{{.Repository}}").out.split()) == ["plain", "red"]
    for bad in ("until=junk", "bogus=1", "dangling=maybe"):
        res = lamina.run("image", "prune", "-f", "--filter", bad, check=False)
        assert res.returncode == 125 and res.err.startswith("Error: ") and "Traceback" not in res.err
    assert lamina.run("images", "-f", "until=1h", check=False).err == "Error: invalid filter 'until'\n"
