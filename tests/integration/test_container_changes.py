"""``container diff`` from layer directories (no mount) against the naive differ on real
overlayfs mounts: the same lines for adds, changes, deletions, opaque directories, a file that
became a directory and the other way round, across several lower layers."""

from __future__ import annotations

import os
import shutil
import subprocess

import pytest

from lamina.container.changes import overlay_changes, tree_changes
from lamina.mount import Mount, unmount


def _tree(root, files: dict[str, str | None]) -> None:
    for rel, body in files.items():
        path = os.path.join(root, rel)
        if body is None:
            os.makedirs(path, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(body)


@pytest.fixture
def overlay(tmp_path):
    base, mid, upper, work, merged, old = (tmp_path / n for n in ("base", "mid", "upper", "work", "merged", "old"))
    for d in (base, mid, upper, work, merged, old):
        d.mkdir()
    _tree(base, {"etc/passwd": "root\n", "etc/group": "g\n", "usr/sbin/a": "a", "usr/sbin/b": "b",
                 "var/log/old.log": "o", "opt/file": "f", "srv": None, "keep/x": "x", "dir2file/y": "y"})
    _tree(mid, {"etc/hosts": "", "usr/sbin/c": "c"})  # an init-like layer above the image
    mounts = []
    lowers = f"{mid}:{base}"
    Mount("overlay", "overlay", (f"lowerdir={lowers}", f"upperdir={upper}", f"workdir={work}")).mount(str(merged))
    mounts.append(str(merged))
    Mount("overlay", "overlay", (f"lowerdir={lowers}",)).mount(str(old))
    mounts.append(str(old))
    yield str(merged), str(old), str(upper), [str(mid), str(base)]
    for point in mounts:
        unmount(point, detach=True)


def _lines(changes):
    return [c.line() for c in changes]


def test_upper_dir_diff_equals_the_naive_differ(overlay):
    merged, old, upper, lowers = overlay
    script = (
        "echo new > new.txt && echo more >> etc/passwd && rm etc/group && rm -rf usr/sbin && mkdir usr/sbin && "
        "touch usr/sbin/z && rm -rf var/log && mkdir var/log && mkdir -p home/u/deep && echo d > home/u/deep/f && "
        "chmod 700 srv && rm opt/file && mkdir opt/file && touch opt/file/inner && rm -rf dir2file && "
        "echo now-a-file > dir2file && ln -s /x link && rm etc/hosts"
    )
    subprocess.run(["sh", "-c", script], cwd=merged, check=True)
    fast = _lines(overlay_changes(upper, lowers))
    naive = _lines(tree_changes(merged, old))
    assert fast == naive
    expected = {
        "A /new.txt", "C /etc", "C /etc/passwd", "D /etc/group", "D /etc/hosts", "C /usr", "C /usr/sbin",
        "A /usr/sbin/z", "D /usr/sbin/a", "D /usr/sbin/b", "D /usr/sbin/c", "C /var", "C /var/log",
        "D /var/log/old.log", "A /home", "A /home/u", "A /home/u/deep", "A /home/u/deep/f", "C /srv",
        "C /opt", "C /opt/file", "A /opt/file/inner", "C /dir2file", "A /link",
    }
    assert set(fast) == expected
    assert "/keep" not in " ".join(fast)  # untouched: never reported
    # docker's order: a directory before its entries, entries in byte order
    assert fast.index("C /usr") < fast.index("C /usr/sbin") < fast.index("D /usr/sbin/a") < fast.index("A /usr/sbin/z")


def test_no_changes_is_empty_and_a_touched_parent_alone_is_not_a_change(overlay):
    merged, old, upper, lowers = overlay
    assert overlay_changes(upper, lowers) == []
    # copy-up of a directory (a file below it changed and changed back to the same bytes and time)
    path = os.path.join(merged, "keep", "x")
    st = os.stat(path)
    with open(path, "w") as f:
        f.write("x")
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))
    assert _lines(overlay_changes(upper, lowers)) == _lines(tree_changes(merged, old))


def test_vfs_style_full_trees(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    _tree(old, {"a/b": "1", "c": "2", "d/e": "3"})
    shutil.copytree(old, new, symlinks=True, copy_function=shutil.copy2)
    (new / "c").write_text("changed")
    shutil.rmtree(new / "d")
    (new / "a" / "n").write_text("n")
    assert _lines(tree_changes(str(new), str(old))) == ["C /a", "A /a/n", "C /c", "D /d"]
