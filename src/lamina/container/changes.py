"""``container diff``: what a container changed, as docker's ``ChangesDirs`` reports it.

docker compares the container's filesystem with the one it started from (its image plus the
init layer) entry by entry: a path only in the new tree is ``A`` (with everything below it), only
in the old one ``D`` (not what was below it), in both but with a different mode, owner, device,
``security.capability`` or, for non-directories, size or mtime, ``C``; a directory that holds a
change is ``C`` too (so its permissions survive in a layer). That is what docker 20.10 prints on
overlay2 here, and it is what a user means: a directory deleted and made again (overlay's opaque
directory) shows the files that went, not the directory.

Both trees are overlay views, so lamina computes the comparison from the layer directories
instead of mounting them: the new tree is the upper directory over the lowers, the old one the
lowers alone, and only what the upper directory holds can differ. Lowers are read as overlayfs
reads them (the nearest layer wins; a 0:0 character device hides a path, an opaque directory
hides what is below it in farther layers). The init layer (``/etc/hosts``, ``/etc/hostname``,
``/etc/resolv.conf``, ``/dev``, ``/.dockerenv``…) is a lower, so its files are never reported
unless the container changed them in its upper directory, as with docker.

Order: docker's native walk (each directory's entries in byte order, a directory before what is
in it), as the seeds show it; docker 20.10's naive differ walks Go maps, so the order of its
lines varies from run to run while the lines are these.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator, Sequence

from ..value import Value

__all__ = ["Change", "overlay_changes", "tree_changes"]

_OPAQUE = "trusted.overlay.opaque"
_CAPABILITY = "security.capability"


class Change(Value):
    """One line of ``container diff``."""

    __slots__ = ("kind", "path")
    kind: str  # "A", "C" or "D"
    path: str  # absolute in the container: "/etc/passwd"

    def __init__(self, kind: str, path: str) -> None:
        self._init(kind=kind, path=path)

    def line(self) -> str:
        return f"{self.kind} {self.path}"

    def to_json(self) -> dict[str, object]:
        """The Engine API's shape: Kind 0 modified, 1 added, 2 deleted."""
        return {"Path": self.path, "Kind": {"C": 0, "A": 1, "D": 2}[self.kind]}


def _lstat(path: str) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except (FileNotFoundError, NotADirectoryError):
        return None


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, _OPAQUE, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _capability(path: str) -> bytes | None:
    try:
        return os.getxattr(path, _CAPABILITY, follow_symlinks=False)
    except OSError:
        return None


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path), key=os.fsencode)
    except (FileNotFoundError, NotADirectoryError):
        return []


class OverlayView:
    """A read-only union of layer directories (nearest first), resolved as overlayfs does."""

    def __init__(self, layers: Sequence[str]) -> None:
        self.layers = list(layers)

    def lookup(self, rel: str) -> tuple[str, os.stat_result] | None:
        """(host path, stat) of ``rel`` in the union, or None when it is not there."""
        parts = rel.split("/")
        for layer in self.layers:
            hidden_below = False
            current = layer
            for i, part in enumerate(parts):
                current = os.path.join(current, part)
                st = _lstat(current)
                if st is None:
                    break
                if _is_whiteout(st):
                    return None
                if i == len(parts) - 1:
                    return current, st
                if not stat.S_ISDIR(st.st_mode):
                    return None  # a file here hides everything below its name
                if _is_opaque(current):
                    hidden_below = True  # farther layers are hidden from here down
            if hidden_below:
                return None
        return None

    def children(self, rel: str) -> dict[str, tuple[str, os.stat_result]]:
        """The directory ``rel``'s entries in the union."""
        found: dict[str, tuple[str, os.stat_result]] = {}
        gone: set[str] = set()
        parts = rel.split("/") if rel else []
        for layer in self.layers:
            directory = os.path.join(layer, *parts)
            st = _lstat(directory)
            if st is None:
                if self._blocked(layer, parts):
                    break
                continue
            if _is_whiteout(st) or not stat.S_ISDIR(st.st_mode):
                break
            for name in _listdir(directory):
                if name in found or name in gone:
                    continue
                path = os.path.join(directory, name)
                cst = _lstat(path)
                if cst is None:
                    continue
                if _is_whiteout(cst):
                    gone.add(name)
                else:
                    found[name] = (path, cst)
            if _is_opaque(directory) or self._blocked(layer, parts):
                break
        return found

    @staticmethod
    def _blocked(layer: str, parts: list[str]) -> bool:
        """Whether ``layer`` hides the directory from farther layers on the way to it."""
        current = layer
        for part in parts:
            current = os.path.join(current, part)
            st = _lstat(current)
            if st is None:
                return False
            if _is_whiteout(st) or not stat.S_ISDIR(st.st_mode):
                return True
            if _is_opaque(current):
                return True
        return False


def _differs(old: tuple[str, os.stat_result], new: tuple[str, os.stat_result]) -> bool:
    """docker's statDifferent plus the capability comparison of ChangesDirs."""
    (opath, ost), (npath, nst) = old, new
    if (ost.st_mode, ost.st_uid, ost.st_gid, ost.st_rdev) != (nst.st_mode, nst.st_uid, nst.st_gid, nst.st_rdev):
        return True
    if not stat.S_ISDIR(nst.st_mode):
        if ost.st_size != nst.st_size or not _same_time(ost, nst):
            return True
    return _capability(opath) != _capability(npath)


def _same_time(a: os.stat_result, b: os.stat_result) -> bool:
    """docker's sameFsTimeSpec: equal seconds, and equal nanoseconds unless one side has none
    (a time that came through a tar)."""
    sa, na = divmod(a.st_mtime_ns, 1_000_000_000)
    sb, nb = divmod(b.st_mtime_ns, 1_000_000_000)
    return sa == sb and (na == nb or na == 0 or nb == 0)


def _added(view: OverlayView, rel: str, out: list[Change]) -> None:
    """``rel`` and everything below it (in the new tree) are added."""
    out.append(Change("A", "/" + rel))
    _added_below(view, rel, out)


def _added_below(view: OverlayView, rel: str, out: list[Change]) -> None:
    children = view.children(rel)
    for name in _sorted_names(children):
        _add(view, f"{rel}/{name}", children[name][1], out)


def _add(view: OverlayView, rel: str, st: os.stat_result, out: list[Change]) -> None:
    """An entry only in the new tree: a file, or a directory with all it holds."""
    if stat.S_ISDIR(st.st_mode):
        _added(view, rel, out)
    else:
        out.append(Change("A", "/" + rel))


def _sorted_names(entries) -> list[str]:
    return sorted(entries, key=os.fsencode)


def overlay_changes(upper: str, lowers: Sequence[str]) -> list[Change]:
    """The changes of an overlay upper directory over its lowers (nearest first)."""
    old = OverlayView(lowers)
    new = OverlayView([upper, *lowers])
    out: list[Change] = []
    _walk_upper(upper, "", old, new, out)
    return out


def _walk_upper(upper: str, rel: str, old: OverlayView, new: OverlayView, out: list[Change]) -> None:
    """Changes below directory ``rel``, visiting only what the upper directory holds there: the
    rest of the new tree is the old tree's."""
    start = len(out)
    directory = os.path.join(upper, rel) if rel else upper
    in_upper = {name: _lstat(os.path.join(directory, name)) for name in _listdir(directory)}
    # an opaque directory hides the old entries it does not hold itself: those are deleted
    hidden = old.children(rel) if rel and _is_opaque(directory) else {}
    for name in _sorted_names(set(in_upper) | set(hidden)):
        child = f"{rel}/{name}" if rel else name
        st = in_upper.get(name)
        if st is None:
            if name in hidden:
                out.append(Change("D", "/" + child))
            continue
        before = old.lookup(child)
        if _is_whiteout(st):
            if before is not None:
                out.append(Change("D", "/" + child))
        elif before is None:
            _add(new, child, st, out)
        else:
            _compare(child, before, (os.path.join(directory, name), st), out)
            if stat.S_ISDIR(st.st_mode):
                if stat.S_ISDIR(before[1].st_mode):
                    _walk_upper(upper, child, old, new, out)
                else:
                    _added_below(new, child, out)  # a file became a directory
    _mark_parent(rel, start, out)


def _compare(rel: str, before, after, out: list[Change]) -> None:
    if _differs(before, after):
        out.append(Change("C", "/" + rel))


def _mark_parent(rel: str, start: int, out: list[Change]) -> None:
    """A directory holding changes is itself changed (listed before them), unless it is the
    root or listed already."""
    if len(out) == start or not rel:
        return
    if start > 0 and out[start - 1].path == "/" + rel:
        return
    out.insert(start, Change("C", "/" + rel))


def tree_changes(new_root: str, old_root: str | None) -> list[Change]:
    """The changes between two full trees (vfs keeps every layer whole)."""
    old = OverlayView([old_root] if old_root else [])
    new = OverlayView([new_root])
    out: list[Change] = []
    _walk_trees("", old, new, out)
    return out


def _walk_trees(rel: str, old: OverlayView, new: OverlayView, out: list[Change]) -> None:
    start = len(out)
    new_children = new.children(rel)
    old_children = old.children(rel)
    for name in _sorted_names(set(new_children) | set(old_children)):
        child = f"{rel}/{name}" if rel else name
        after, before = new_children.get(name), old_children.get(name)
        if after is None:
            out.append(Change("D", "/" + child))
        elif before is None:
            _add(new, child, after[1], out)
        else:
            _compare(child, before, after, out)
            if stat.S_ISDIR(after[1].st_mode):
                if stat.S_ISDIR(before[1].st_mode):
                    _walk_trees(child, old, new, out)
                else:
                    _added_below(new, child, out)
    _mark_parent(rel, start, out)


def iter_lines(changes: Sequence[Change]) -> Iterator[str]:
    for change in changes:
        yield change.line()
