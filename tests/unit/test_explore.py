"""Layer file indexes and what the explorer computes from them (pure: no store, no root)."""

from __future__ import annotations

import io
import tarfile

import pytest

from lamina.archive.fileindex import IMPLICIT, OPAQUE, FileIndex, IndexBuilder
from lamina.archive.tarentries import SplitSource, StreamSource, scan
from lamina.archive.tarstream import TarStream
from lamina.errors import StoreCorrupt
from lamina.image.explore import analysis
from lamina.image.explore.source import short_instruction, steps_for
from lamina.oci import ImageConfig
from lamina.testing.tars import make_tar


def index_of(tar: bytes, diff_id: str = "sha256:" + "0" * 64) -> FileIndex:
    return IndexBuilder().add_all(scan(StreamSource(io.BytesIO(tar)))).build(diff_id)


def split_of(tar: bytes) -> bytes:
    record = io.BytesIO()
    stream = TarStream(io.BytesIO(tar), record)
    for _ in stream:
        pass
    stream.finish()
    return record.getvalue()


def entries(index: FileIndex) -> list[tuple]:
    return [(e.path, e.type, e.size, e.link, e.flags) for e in map(index.entry, range(len(index)))]


def gnu_tar(names: list[str]) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.GNU_FORMAT) as tar:
        for name in names:
            info = tarfile.TarInfo(name)
            info.size = 3
            tar.addfile(info, io.BytesIO(b"abc"))
    return buf.getvalue()


LONG = "deep/" + "d" * 120 + "/" + "f" * 130


# the index ---------------------------------------------------------------------------------
def test_index_records_types_links_whiteouts_and_opaque_dirs():
    tar = make_tar([
        ("./", "dir", None),
        ("etc", "dir", None),
        ("etc/passwd", "file", "root\n"),
        ("bin", "sym", "usr/bin"),
        ("etc/passwd-hard", "link", "./etc/passwd"),
        ("var/.wh.cache", "file", ""),
        ("opt/.wh..wh..opq", "file", ""),
        ("srv", "dir", None),
        ("srv/.wh..wh..opq", "file", ""),
        ("usr/.wh..wh.plnk", "dir", None),  # AUFS bookkeeping: not a file anyone sees
        (LONG, "file", "x" * 700),
    ])
    index = index_of(tar)
    got = {e[0]: e[1:] for e in entries(index)}
    assert got["etc/passwd"] == ("f", 5, "", 0)
    assert got["bin"] == ("l", 0, "usr/bin", 0)
    assert got["etc/passwd-hard"] == ("h", 0, "etc/passwd", 0)
    assert got["var/cache"] == ("w", 0, "", 0)
    assert got["opt"] == ("d", 0, "", OPAQUE | IMPLICIT)
    assert got["srv"] == ("d", 0, "", OPAQUE)
    assert got[LONG] == ("f", 700, "", 0)
    assert not any(p.startswith("usr") for p in got)
    assert index.paths == sorted(index.paths)
    assert index.file_count == 4  # passwd, bin, passwd-hard, the long one
    assert index.find("etc/passwd") >= 0 and index.find("etc/nope") == -1
    assert [index.paths[i] for i in index.under("etc")] == ["etc/passwd", "etc/passwd-hard"]


def test_tar_split_gives_the_same_index_as_the_tar():
    for tar in (
        make_tar([("a", "dir", None), ("a/f", "file", "1" * 1000), ("a/l", "sym", "f"), (LONG, "file", "x"),
                  ("a/.wh.gone", "file", ""), ("a/h", "link", "a/f"), ("e", "file", "")]),
        gnu_tar(["x/" + "n" * 150, "y"]),
    ):
        from_split = IndexBuilder().add_all(scan(SplitSource(io.BytesIO(split_of(tar))), verify=False)).build("d")
        assert entries(from_split) == entries(index_of(tar))


def test_docker_style_tar_split_with_a_file_entry_for_every_member():
    # docker's tar-split writes a type-1 entry (size 0 too) after every header, with positions
    import base64
    import gzip
    import json

    tar = make_tar([("d", "dir", None), ("d/f", "file", "hello"), ("d/s", "sym", "f")])
    lines, pos = [], 0
    for member in tarfile.open(fileobj=io.BytesIO(tar)):
        header_end = member.offset_data
        lines.append({"type": 2, "payload": base64.b64encode(tar[pos:header_end]).decode(), "position": len(lines)})
        lines.append({"type": 1, "name": member.name, "size": member.size, "payload": "AAAAAAAAAAA=", "position": len(lines)})
        pos = header_end + member.size
    lines.append({"type": 2, "payload": base64.b64encode(tar[pos:]).decode(), "position": len(lines)})
    record = gzip.compress("".join(json.dumps(x) + "\n" for x in lines).encode())
    from_split = IndexBuilder().add_all(scan(SplitSource(io.BytesIO(record)), verify=False)).build("d")
    assert entries(from_split) == entries(index_of(tar))


def test_index_file_round_trips_and_refuses_damage():
    index = index_of(make_tar([("a", "file", "1"), ("b", "sym", "a"), ("ü/ñ", "file", "22")]), "sha256:" + "1" * 64)
    data = index.encode()
    back = FileIndex.decode(data)
    assert entries(back) == entries(index) and back.diff_id == index.diff_id
    damaged = bytearray(data)
    damaged[len(data) // 2] ^= 0xFF
    with pytest.raises(StoreCorrupt):
        FileIndex.decode(bytes(damaged))
    with pytest.raises(StoreCorrupt):
        FileIndex.decode(data[:40])
    empty = IndexBuilder().build("e")
    assert len(FileIndex.decode(empty.encode())) == 0


# the stack ---------------------------------------------------------------------------------
def stack(*tars: list) -> list[FileIndex]:
    return [index_of(make_tar(t), f"sha256:{i:064x}") for i, t in enumerate(tars)]


BASE = [("etc", "dir", None), ("etc/passwd", "file", "root\n"), ("opt", "dir", None),
        ("opt/a", "file", "a" * 100), ("opt/b", "file", "b" * 200), ("var/cache", "dir", None),
        ("var/cache/big", "file", "z" * 1000), ("var/cache/sub/x", "file", "x" * 10), ("bin/sh", "file", "sh")]


def test_merged_tree_applies_whiteouts_opaque_dirs_and_replacements():
    layers = stack(
        BASE,
        [("etc/passwd", "file", "root\nwww\n"), ("opt/.wh..wh..opq", "file", ""), ("opt/c", "file", "c")],
        [("var/.wh.cache", "file", ""), ("bin", "sym", "usr/bin")],
    )
    resolved = analysis.resolve(layers)
    assert resolved.visible["etc/passwd"][0] == 2
    assert "opt/a" not in resolved.visible and resolved.visible["opt/c"][0] == 2
    assert not any(p.startswith("var/cache") for p in resolved.visible)
    assert "bin/sh" not in resolved.visible and resolved.visible["bin"][0] == 3
    how = {(layers[h.layer - 1].paths[h.pos], h.how, h.by_layer, h.by_path) for h in resolved.hidden}
    assert ("etc/passwd", "overwritten", 2, "etc/passwd") in how
    assert ("opt/a", "opaque", 2, "opt") in how
    assert ("var/cache/sub/x", "whiteout", 3, "var/cache") in how
    assert ("bin/sh", "replaced", 3, "bin") in how


def test_path_history_tells_added_changed_and_each_kind_of_deletion():
    layers = stack(
        BASE,
        [("etc/passwd", "file", "v2"), ("opt/.wh..wh..opq", "file", "")],
        [("etc/passwd", "file", "v3"), ("var/cache/.wh.big", "file", "")],
        [("etc/.wh.passwd", "file", ""), ("var/.wh.cache", "file", "")],
        [("etc/passwd", "file", "again")],
    )
    story = [(e.layer, e.what, e.how, e.via) for e in analysis.path_history(layers, "etc/passwd")]
    assert story == [(1, "added", "", ""), (2, "changed", "", ""), (3, "changed", "", ""),
                     (4, "deleted", "whiteout", ""), (5, "added", "", "")]
    assert [(e.layer, e.what, e.how, e.via) for e in analysis.path_history(layers, "opt/a")] == [
        (1, "added", "", ""), (2, "deleted", "opaque", "opt")]
    assert [(e.layer, e.what) for e in analysis.path_history(layers, "var/cache/big")] == [(1, "added"), (3, "deleted")]
    sub = analysis.path_history(layers, "var/cache/sub/x")
    assert [(e.layer, e.what, e.how, e.via) for e in sub] == [(1, "added", "", ""), (4, "deleted", "whiteout", "var/cache")]
    # a directory the layer only implies (no entry of its own) is still added there
    assert [(e.layer, e.what) for e in analysis.path_history(layers, "var/cache/sub")] == [(1, "added"), (4, "deleted")]
    assert analysis.path_history(layers, "nowhere") == []


def test_layer_changes_in_container_diff_terms():
    layers = stack(
        BASE,
        [("etc", "dir", None), ("etc/passwd", "file", "v2"), ("etc/new", "file", "n"), ("opt", "dir", None),
         ("opt/.wh..wh..opq", "file", ""), ("opt/b", "file", "b2"), ("var/cache/.wh.big", "file", ""),
         ("var/.wh.never-there", "file", "")],
    )
    got = [c.line() for c in analysis.layer_changes(layers, 2)]
    assert got == ["C /etc", "A /etc/new", "C /etc/passwd", "C /opt", "D /opt/a", "C /opt/b", "C /var",
                   "C /var/cache", "D /var/cache/big"]
    assert [c.line() for c in analysis.layer_changes(layers, 1)][:2] == ["A /bin", "A /bin/sh"]


def test_image_changes_skip_shared_layers_and_compare_metadata():
    base = stack(BASE)[0]
    top1 = index_of(make_tar([("etc/passwd", "file", "root\n"), ("tmp/x", "file", "1")]), "sha256:" + "a" * 64)
    top2 = index_of(make_tar([("etc/passwd", "file", "root\n"), ("opt/.wh.a", "file", "")]), "sha256:" + "b" * 64)
    got = [c.line() for c in analysis.image_changes([base, top1], [base, top2])]
    # etc/passwd: same bytes, same mtime in both tops: unchanged
    assert got == ["D /opt/a", "D /tmp", "D /tmp/x"]


def test_waste_counts_hidden_bytes_once_per_hider_and_spares_hard_linked_content():
    layers = stack(
        BASE + [("data/blob", "file", "B" * 500), ("data/blob-link", "link", "data/blob")],
        [("etc/passwd", "file", "root\nwww\n"), ("opt/.wh..wh..opq", "file", "")],
        [("var/.wh.cache", "file", ""), ("data/.wh.blob", "file", "")],
    )
    report = analysis.waste(layers)
    rows = {r.path: (r.wasted, r.count, r.layers) for r in report.rows}
    assert rows == {"var/cache": (1010, 2, [1]), "opt": (300, 2, [1]), "etc/passwd": (5, 1, [1])}
    assert report.wasted_bytes == 1315
    assert report.total_bytes == 5 + 300 + 1010 + 2 + 500 + 9
    assert report.efficiency == pytest.approx(1 - 1315 / report.total_bytes)
    assert analysis.waste([]).efficiency == 1.0


def test_merged_tree_sums_sizes_and_marks_layers():
    layers = stack(BASE, [("opt/.wh..wh..opq", "file", ""), ("opt/c", "file", "c" * 7)])
    top = analysis.merged_tree(layers)
    assert top.size == 5 + 1010 + 7 + 2
    opt = top.children["opt"]
    assert opt.layer == 2 and list(opt.children) == ["c"] and opt.size == 7
    assert top.children["var"].layer is None  # only implied by var/cache
    sub = analysis.merged_tree(layers, "var/cache")
    assert sub.size == 1010 and set(sub.children) == {"big", "sub"}
    with pytest.raises(KeyError):
        analysis.merged_tree(layers, "opt/a")


@pytest.mark.parametrize("pattern,path,hit", [
    ("/usr/local/bin/php", "usr/local/bin/php", True),
    ("bin/php", "usr/local/bin/php", True),
    ("bin/php", "usr/local/bin/php-fpm", False),
    ("/bin/php", "usr/local/bin/php", False),
    ("/usr/*/php", "usr/bin/php", True),
    ("/usr/*/php", "usr/local/bin/php", False),
    ("/usr/**/php", "usr/local/bin/php", True),
    ("*.ini", "usr/local/etc/php/conf.d/docker-php-ext-sodium.ini", True),
    ("php?", "usr/bin/php8", True),
    ("php[78]", "usr/bin/php9", False),
])
def test_globs(pattern, path, hit):
    assert bool(analysis.glob_matcher(pattern)(path)) is hit


def test_history_steps_map_layers_and_shorten_instructions():
    config = ImageConfig.from_doc({
        "architecture": "amd64", "os": "linux",
        "rootfs": {"type": "layers", "diff_ids": ["sha256:" + "1" * 64, "sha256:" + "2" * 64]},
        "history": [
            {"created_by": "/bin/sh -c #(nop) ADD file:abc in / "},
            {"created_by": '/bin/sh -c #(nop)  CMD ["sh"]', "empty_layer": True},
            {"created_by": "RUN /bin/sh -c apk add php # buildkit"},
        ],
    })
    steps = steps_for(config, {})
    assert [(s.layer, s.instruction) for s in steps] == [(1, "ADD file:abc in /"), (None, 'CMD ["sh"]'), (2, "RUN apk add php")]
    assert short_instruction("/bin/sh -c make   install") == "RUN make install"
    odd = ImageConfig.from_doc({**config.doc, "history": []})
    assert [(s.layer, s.created_by) for s in steps_for(odd, {})] == [(1, ""), (2, "")]
