"""The layer explorer on a real store (overlay2 layers extracted by lamina): the commands'
output, the per-layer file index under the store's crash rules, and archives explored
without loading them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

from lamina import Engine
from lamina.store import fileindexes
from lamina.testing.images import StepSpec, commit_steps, docker_archive
from lamina.testing.tars import make_tar

L1 = make_tar([
    ("etc", "dir", None), ("etc/passwd", "file", "root:x:0:0\n"), ("usr/bin", "dir", None),
    ("usr/bin/sh", "file", "sh" * 100), ("bin", "sym", "usr/bin"), ("opt", "dir", None),
    ("opt/a", "file", "a" * 1000), ("opt/b", "file", "b" * 2000), ("var/cache/big", "file", "z" * 5000),
])
L2 = make_tar([("etc", "dir", None), ("etc/passwd", "file", "root:x:0:0\nwww-data:x:82:82\n"), ("var/www/html", "dir", None)])
L3 = make_tar([
    ("usr/local/bin/php", "file", "php" * 300), ("usr/local/bin/php-hard", "link", "usr/local/bin/php"),
    ("opt", "dir", None), ("opt/.wh..wh..opq", "file", ""), ("opt/c", "file", "c"),
])
L4 = make_tar([("var/cache/.wh.big", "file", ""), ("usr/local/bin/.wh.php", "file", "")])
STEPS = [
    StepSpec("/bin/sh -c #(nop) ADD file:abc in / ", L1),
    StepSpec('/bin/sh -c #(nop)  CMD ["sh"]'),
    StepSpec("/bin/sh -c adduser www-data", L2, ("Dockerfile", 3, "RUN adduser www-data")),
    StepSpec("/bin/sh -c make install", L3, ("Dockerfile", 5, "RUN make install")),
    StepSpec("/bin/sh -c rm -f /var/cache/big /usr/local/bin/php", L4, ("Dockerfile", 7, "RUN rm -f /var/cache/big /usr/local/bin/php")),
]


@pytest.fixture
def committed(data_root):
    engine = Engine(data_root)
    commit_steps(engine, STEPS, "demo:latest")
    return engine


def test_layers_table_names_each_layers_diff_dir_and_dockerfile_line(committed, lamina):
    rows = [json.loads(line) for line in lamina.run("image", "layers", "--format", "json", "demo").out.splitlines()]
    assert [r["Index"] for r in rows] == [1, None, 2, 3, 4]
    assert [r["Source"] for r in rows] == ["", "", "Dockerfile:3", "Dockerfile:5", "Dockerfile:7"]
    assert rows[1]["CreatedBy"] == 'CMD ["sh"]' and rows[1]["Dir"] == ""
    assert rows[3]["CreatedBy"] == "RUN make install" and rows[3]["Files"] == 3
    inspect = json.loads(lamina.run("image", "inspect", "demo").out)[0]
    assert rows[0]["DiffID"] == inspect["RootFS"]["Layers"][0]
    assert rows[-1]["Dir"] == inspect["GraphDriver"]["Data"]["UpperDir"]
    assert inspect["GraphDriver"]["Data"]["LowerDir"].split(":") == [r["Dir"] for r in reversed(rows[:-1]) if r["Dir"]]
    # each row's directory holds what that layer changed (seed 000's find | grep, layer by layer)
    for row in rows:
        if row["Index"] is None:
            continue
        changes = lamina.run("image", "diff", "demo", "--layer", str(row["Index"])).out.splitlines()
        assert changes
        for line in changes:
            kind, path = line.split(" ", 1)
            if kind != "D":
                assert os.path.lexists(row["Dir"] + path), (row["Index"], path)
    table = lamina.run("image", "layers", "demo").out.splitlines()
    assert table[0].split() == ["LAYER", "DIFF", "ID", "SIZE", "FILES", "CREATED", "BY", "DOCKERFILE", "DIR"]
    assert "RUN make install" in table[4] and "Dockerfile:5" in table[4] and rows[3]["Dir"] in table[4]


def test_blame_reports_add_change_and_each_deletion(committed, lamina):
    out = lamina.run("image", "blame", "demo", "/etc/passwd", "bin/php", "/opt/a", "/var/cache/big").out
    upper2 = json.loads(lamina.run("image", "layers", "--format", "json", "demo").out.splitlines()[2])["Dir"]
    assert out.splitlines() == [
        "/etc/passwd: added in layer 1 (ADD file:abc in /)",
        "  changed in layer 2 (RUN adduser www-data, Dockerfile:3)",
        f"  now: {upper2}/etc/passwd",
        "/opt/a: added in layer 1 (ADD file:abc in /)",
        "  deleted in layer 3: /opt was made opaque (RUN make install, Dockerfile:5)",
        "/usr/local/bin/php: added in layer 3 (RUN make install, Dockerfile:5)",
        "  deleted in layer 4 by a whiteout (RUN rm -f /var/cache/big /usr/local/bin/php, Dockerfile:7)",
        "/var/cache/big: added in layer 1 (ADD file:abc in /)",
        "  deleted in layer 4 by a whiteout (RUN rm -f /var/cache/big /usr/local/bin/php, Dockerfile:7)",
    ]
    with open(f"{upper2}/etc/passwd") as f:
        assert "www-data" in f.read()
    tree = lamina.run("image", "blame", "-r", "demo", "/usr/local").out
    assert "/usr/local/bin/php-hard: added in layer 3" in tree and "/usr/local/bin: added in layer 3" in tree
    missing = lamina.run("image", "blame", "demo", "/nope", "/etc/passwd", check=False)
    assert missing.returncode == 1 and "Error: /nope: no such path in any layer of demo" in missing.err
    assert "/etc/passwd: added in layer 1" in missing.out


def test_diff_waste_and_tree(committed, lamina):
    assert lamina.run("image", "diff", "demo", "--layer", "4").out.splitlines() == [
        "C /usr", "C /usr/local", "C /usr/local/bin", "D /usr/local/bin/php", "C /var", "C /var/cache", "D /var/cache/big",
    ]
    base = lamina.run("image", "ls", "-a", "-q", "--no-trunc").out.split()
    first = [i for i in base if lamina.run("image", "inspect", "-f", "{{len .RootFS.Layers}}", i).out.strip() == "1"][0]
    diff = lamina.run("image", "diff", first, "demo").out.splitlines()
    assert "D /opt/a" in diff and "A /opt/c" in diff and "C /etc/passwd" in diff and "A /usr/local/bin/php-hard" in diff
    assert "A /usr/local/bin/php" not in diff
    waste = lamina.run("image", "waste", "demo").out
    assert "wastedBytes: 8011 bytes" in waste and "/var/cache/big" in waste
    doc = json.loads(lamina.run("image", "waste", "--format", "json", "demo").out)
    assert doc["WastedBytes"] == 5000 + 3000 + 11 and doc["Rows"][0] == {
        "Path": "/var/cache/big", "WastedBytes": 5000, "Count": 1, "Layers": [1]}
    ci = lamina.run("image", "waste", "--fail-above", "4k", "demo", check=False)
    assert ci.returncode == 1 and "FAIL:" in ci.out
    assert lamina.run("image", "waste", "--fail-above", "1MB", "demo").out.splitlines()[-1].startswith("PASS:")
    tree = lamina.run("image", "tree", "demo").out.splitlines()
    assert any(line.endswith("├── bin -> usr/bin") for line in tree)
    php_hard = next(line for line in tree if "php-hard" in line)
    assert "900 B" in php_hard and php_hard.split()[4] == "3"  # the deleted target's bytes live on
    assert not any("└── a" in line for line in tree)
    at2 = lamina.run("image", "tree", "--layer", "2", "demo", "/opt").out.splitlines()
    assert [line.split()[-1] for line in at2] == ["opt", "a", "b"]
    assert lamina.run("image", "tree", "--depth", "1", "demo").out.count("\n") == 1 + 5
    bad = lamina.run("image", "tree", "--layer", "9", "demo", check=False)
    assert bad.returncode == 125 and "layer 9 does not exist" in bad.err
    gone = lamina.run("image", "tree", "demo", "/opt/a", check=False)
    assert gone.returncode == 1 and "no such path" in gone.err
    assert lamina.run("image", "layers", "nosuch", check=False).returncode == 1


def test_index_is_written_with_the_layer_and_rebuilt_when_missing_or_damaged(committed, lamina):
    store = committed.store
    records = store.layers.list()
    assert records and all(os.path.isfile(os.path.join(store.paths.layer(r.chain_id), fileindexes.FILE_INDEX)) for r in records)
    before = lamina.run("image", "blame", "demo", "/etc/passwd").out
    # a layer stored before indexes existed: built on first use, and kept
    victim = records[0]
    path = os.path.join(store.paths.layer(victim.chain_id), fileindexes.FILE_INDEX)
    os.unlink(path)
    assert lamina.run("image", "blame", "demo", "/etc/passwd").out == before
    assert os.path.isfile(path)
    # damage: reported by system check, rebuilt by --repair (and never trusted meanwhile)
    with open(path, "r+b") as f:
        f.seek(40)
        f.write(b"\xff\xff\xff")
    assert lamina.run("image", "blame", "demo", "/etc/passwd").out == before
    with open(path, "r+b") as f:
        f.seek(40)
        f.write(b"\xff\xff\xff")
    report = lamina.run("system", "check", check=False)
    assert report.returncode != 0 and f"damaged file index: {path}" in report.out
    lamina.run("system", "check", "--repair", check=False)
    assert lamina.run("system", "check").returncode == 0
    assert fileindexes.read(store.paths.layer(victim.chain_id), str(victim.diff_id)) is not None


def test_killed_index_writer_leaves_only_a_temp_file_that_check_removes(committed, lamina):
    store = committed.store
    record = store.layers.list()[0]
    entry = store.paths.layer(record.chain_id)
    os.unlink(os.path.join(entry, fileindexes.FILE_INDEX))
    # a writer killed between creating its temporary file and renaming it in
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    stale = os.path.join(entry, f".tmp-{fileindexes.FILE_INDEX}-{child.pid}-deadbeef")
    with open(stale, "wb") as f:
        f.write(b"partial")
    child.send_signal(signal.SIGKILL)
    child.wait()
    assert lamina.run("image", "layers", "demo").returncode == 0  # readers never see the temp file
    report = lamina.run("system", "check", check=False).out
    assert f"temporary file: {stale}" in report
    lamina.run("system", "check", "--repair", check=False)
    assert not os.path.exists(stale) and lamina.run("system", "check").returncode == 0


def test_loaded_image_and_its_archive_explored_without_loading(tmp_path, lamina):
    archive = tmp_path / "demo.tar"
    archive.write_bytes(docker_archive(STEPS, "loaded/demo:v1"))
    from_archive = lamina.run("image", "blame", "--archive", str(archive), "loaded/demo:v1", "/etc/passwd", "/opt/a").out
    assert not lamina.run("images", "-q").out.strip()  # nothing was loaded
    lamina.run("load", "-i", str(archive))
    stored = lamina.run("image", "blame", "loaded/demo:v1", "/etc/passwd", "/opt/a").out
    assert [line for line in stored.splitlines() if "now:" not in line] == from_archive.splitlines()
    assert "deleted in layer 3: /opt was made opaque (RUN make install)" in from_archive
    # lamina's own save, both formats, explored in place
    for fmt in ("docker", "oci"):
        saved = tmp_path / f"saved-{fmt}.tar"
        lamina.run("save", "--format", fmt, "-o", str(saved), "loaded/demo:v1")
        rows = [json.loads(x) for x in lamina.run("image", "layers", "--archive", str(saved), "--format", "json").out.splitlines()]
        assert [r["Files"] for r in rows if r["Index"]] == [6, 1, 3, 0]
        assert lamina.run("image", "diff", "--archive", str(saved), "loaded/demo:v1", "--layer", "4").out == \
            lamina.run("image", "diff", "loaded/demo:v1", "--layer", "4").out
        assert lamina.run("image", "waste", "--archive", str(saved), "--format", "json").out == \
            lamina.run("image", "waste", "loaded/demo:v1", "--format", "json").out
    wrong = lamina.run("image", "layers", "--archive", str(archive), "other:tag", check=False)
    assert wrong.returncode == 1 and "No such image in" in wrong.err
    notar = lamina.run("image", "layers", "--archive", str(tmp_path / "missing.tar"), check=False)
    assert notar.returncode == 125 and notar.err.startswith("Error: ")
