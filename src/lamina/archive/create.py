"""Write a layer tar from a directory diff: the reverse of :mod:`.apply`.

Two sources, as docker has them:

* an overlay upper directory (:func:`write_layer_from_overlay_upper`): every entry is a change;
  0:0 character devices are whiteouts and become ``.wh.NAME``, and a directory with
  ``trusted.overlay.opaque=y`` gets a ``.wh..wh..opq`` entry after it (docker's
  overlayWhiteoutConverter);
* two full trees (:func:`write_layer_from_dirs`, for vfs): docker's ChangesDirs, comparing
  mode, owner, device, and for non-directories size and mtime; a directory that holds a change is
  written too, so its permissions survive; paths only in the old tree become ``.wh.NAME``.

Output is deterministic: entries in byte order of their paths, PAX headers, times truncated to
seconds, numeric owners without user names (docker's FileInfoHeaderNoLookups), hard links
written once and linked after, and the end marker without record padding (as Go writes it).
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import tarfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import BinaryIO

from ..digest import Digest
from .apply import OPAQUE_MARKER, WHITEOUT_PREFIX

__all__ = [
    "CreatedLayer",
    "write_layer_from_overlay_upper",
    "write_layer_from_dirs",
    "write_tree",
    "write_path",
]

_CHUNK = 1 << 20


@dataclass(frozen=True)
class CreatedLayer:
    diff_id: Digest
    #: bytes of the tar stream written
    tar_size: int
    #: entries written (whiteouts included)
    entries: int


class _HashingWriter:
    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._hash = hashlib.sha256()
        self.count = 0

    def write(self, data) -> int:
        self._hash.update(data)
        self.count += len(data)
        self._out.write(data)
        return len(data)

    def tell(self) -> int:
        return self.count

    def digest(self) -> Digest:
        return Digest("sha256", self._hash.hexdigest())


def _expand(
    root: str, children: list[tuple[str, os.stat_result]]
) -> Iterator[tuple[str, os.stat_result]]:
    for rel, st in children:
        yield rel, st
        if stat.S_ISDIR(st.st_mode):
            grand = []
            for entry in sorted(
                os.scandir(os.path.join(root, rel)), key=lambda e: os.fsencode(e.name)
            ):
                grand.append((f"{rel}/{entry.name}", entry.stat(follow_symlinks=False)))
            yield from _expand(root, grand)


class _LayerWriter:
    """Writes entries as docker's tar writer does, remembering hard-link groups."""

    def __init__(self, out: BinaryIO, owner: tuple[int, int] | None = None) -> None:
        #: (uid, gid) written for every entry instead of the file's own (``cp`` without ``-a``)
        self._owner = owner
        self._hashing = _HashingWriter(out)
        # "w" on our writer, not the stream mode "w|": tarfile's _Stream buffers by appending to
        # a bytes object, which copies each MiB ~60 times (3 s for a 100 MiB layer here)
        self._tar = tarfile.open(fileobj=self._hashing, mode="w", format=tarfile.PAX_FORMAT)
        self._tar.copybufsize = _CHUNK
        self._inodes: dict[tuple[int, int], str] = {}
        self.entries = 0

    def add(self, root: str, rel: str, st: os.stat_result, name: str | None = None) -> None:
        """Write ``root/rel`` (``st`` its lstat) as ``name`` (default ``rel``)."""
        path = os.path.join(root, rel) if rel else root
        rel = rel if name is None else name
        info = tarfile.TarInfo(rel + "/" if stat.S_ISDIR(st.st_mode) else rel)
        info.mode = stat.S_IMODE(st.st_mode)
        info.uid, info.gid = self._owner or (st.st_uid, st.st_gid)
        info.uname = info.gname = ""
        info.mtime = int(st.st_mtime)
        xattrs = _xattrs(path)
        if xattrs:
            info.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in xattrs.items()}
        fmt = stat.S_IFMT(st.st_mode)
        key = (st.st_dev, st.st_ino)
        if fmt == stat.S_IFREG and st.st_nlink > 1 and key in self._inodes:
            info.type, info.linkname = tarfile.LNKTYPE, self._inodes[key]
            self._write(info)
            return
        if fmt == stat.S_IFREG:
            if st.st_nlink > 1:
                self._inodes[key] = rel
            info.type, info.size = tarfile.REGTYPE, st.st_size
            with open(path, "rb") as f:
                self._write(info, f)
            return
        if fmt == stat.S_IFDIR:
            info.type = tarfile.DIRTYPE
        elif fmt == stat.S_IFLNK:
            info.type, info.linkname = tarfile.SYMTYPE, os.readlink(path)
        elif fmt in (stat.S_IFCHR, stat.S_IFBLK):
            info.type = tarfile.CHRTYPE if fmt == stat.S_IFCHR else tarfile.BLKTYPE
            info.devmajor, info.devminor = os.major(st.st_rdev), os.minor(st.st_rdev)
        elif fmt == stat.S_IFIFO:
            info.type = tarfile.FIFOTYPE
        else:
            return  # sockets are not archived (docker skips them too)
        self._write(info)

    def whiteout(self, rel: str, like: os.stat_result | None) -> None:
        """``.wh.NAME`` for a deleted ``rel`` (docker: an empty regular file, mode 0600)."""
        parent, _, base = rel.rpartition("/")
        info = tarfile.TarInfo(
            f"{parent}/{WHITEOUT_PREFIX}{base}" if parent else f"{WHITEOUT_PREFIX}{base}"
        )
        info.type, info.mode, info.size = tarfile.REGTYPE, 0o600, 0
        if like is not None:
            info.uid, info.gid, info.mtime = like.st_uid, like.st_gid, int(like.st_mtime)
        info.uname = info.gname = ""
        self._write(info)

    def opaque(self, rel: str, st: os.stat_result) -> None:
        info = tarfile.TarInfo(f"{rel}/{OPAQUE_MARKER}")
        info.type, info.mode, info.size = tarfile.REGTYPE, stat.S_IMODE(st.st_mode), 0
        info.uid, info.gid, info.mtime = st.st_uid, st.st_gid, int(st.st_mtime)
        info.uname = info.gname = ""
        self._write(info)

    def _write(self, info: tarfile.TarInfo, fileobj=None) -> None:
        self._tar.addfile(info, fileobj)
        self.entries += 1

    def close(self) -> CreatedLayer:
        # end as Go's tar writer does (docker's layers): the two zero blocks, without tarfile's
        # padding to a 10 KiB record, so an empty change set is docker's empty-layer DiffID
        self._hashing.write(tarfile.NUL * (2 * tarfile.BLOCKSIZE))
        self._tar.closed = True
        return CreatedLayer(self._hashing.digest(), self._hashing.count, self.entries)


def _xattrs(path: str) -> dict[str, str]:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EPERM):
            return {}
        raise
    found = {}
    for name in sorted(names):
        # overlay's own bookkeeping is not content
        if name.startswith("trusted.overlay."):
            continue
        found[name] = os.getxattr(path, name, follow_symlinks=False).decode(
            "utf-8", "surrogateescape"
        )
    return found


def _is_overlay_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def write_layer_from_overlay_upper(
    upper: str, out: BinaryIO, visit: Callable[[str, os.stat_result], None] | None = None
) -> CreatedLayer:
    """The layer tar for an overlay upper (or a layer's ``diff``) directory. ``visit(rel, st)``
    is called for every entry once it is written (sockets too, which are not)."""
    writer = _LayerWriter(out)
    for rel, st in _expand(upper, _children(upper, "")):
        if _is_overlay_whiteout(st):
            writer.whiteout(rel, st)
        else:
            writer.add(upper, rel, st)
            if stat.S_ISDIR(st.st_mode) and _is_opaque(os.path.join(upper, rel)):
                writer.opaque(rel, st)
        if visit is not None:
            visit(rel, st)
    return writer.close()


def write_tree(root: str, out: BinaryIO, owner: tuple[int, int] | None = None) -> CreatedLayer:
    """A tar of everything below ``root`` (a first layer, ``export``, ``cp SRC/. DEST``);
    ``owner`` replaces every uid/gid."""
    writer = _LayerWriter(out, owner)
    for rel, st in _expand(root, _children(root, "")):
        writer.add(root, rel, st)
    return writer.close()


def write_path(
    path: str, name: str, out: BinaryIO, owner: tuple[int, int] | None = None, st: os.stat_result | None = None
) -> CreatedLayer:
    """A tar of ``path`` (not followed if a symlink) named ``name``, with everything below it if
    it is a directory (``name/…``): what ``cp`` sends. ``owner`` replaces every uid/gid; ``st``
    is the path's stat when ``path`` is a ``/proc/self/fd`` link that lstat would describe."""
    writer = _LayerWriter(out, owner)
    st = st or os.lstat(path)
    writer.add(path, "", st, name=name)
    if stat.S_ISDIR(st.st_mode):
        for rel, cst in _expand(path, _children(path, "")):
            writer.add(path, rel, cst, name=f"{name}/{rel}")
    return writer.close()


def _children(root: str, rel: str) -> list[tuple[str, os.stat_result]]:
    path = os.path.join(root, rel) if rel else root
    out = []
    for entry in sorted(os.scandir(path), key=lambda e: os.fsencode(e.name)):
        out.append(
            (f"{rel}/{entry.name}" if rel else entry.name, entry.stat(follow_symlinks=False))
        )
    return out


def _differs(old: os.stat_result, new: os.stat_result, old_path: str, new_path: str) -> bool:
    if (old.st_mode, old.st_uid, old.st_gid, old.st_rdev) != (
        new.st_mode,
        new.st_uid,
        new.st_gid,
        new.st_rdev,
    ):
        return True
    if not stat.S_ISDIR(new.st_mode) and (
        old.st_size != new.st_size or old.st_mtime_ns != new.st_mtime_ns
    ):
        return True
    if stat.S_ISLNK(new.st_mode) and os.readlink(old_path) != os.readlink(new_path):
        return True
    return _xattrs(old_path) != _xattrs(new_path)


def _changes(old: str, new: str, rel: str, writer: _LayerWriter) -> bool:
    """Write the changes below directory ``rel``; True if there were any."""
    new_children = dict(_children(new, rel))
    try:
        old_children = dict(_children(old, rel))
    except FileNotFoundError:
        old_children = {}
    names = sorted(set(new_children) | set(old_children), key=os.fsencode)
    pending: list[tuple[str, os.stat_result | None, bool]] = []
    for child in names:
        nst, ost = new_children.get(child), old_children.get(child)
        if nst is None:
            pending.append((child, ost, True))
            continue
        changed = ost is None or _differs(
            ost, nst, os.path.join(old, child), os.path.join(new, child)
        )
        if stat.S_ISDIR(nst.st_mode) and ost is not None and stat.S_ISDIR(ost.st_mode):
            # buffer the directory's own entry until we know whether something below changed
            sub = _LayerBuffer()
            inner = _changes(old, new, child, sub.writer_for(writer))
            if changed or inner:
                writer.add(new, child, nst)
                sub.replay(writer)
                changed = True
            continue
        if changed:
            writer.add(new, child, nst)
            if stat.S_ISDIR(nst.st_mode):
                for grel, gst in _expand(new, _children(new, child)):
                    writer.add(new, grel, gst)
        pending.append((child, None, changed))
    any_change = False
    for child, ost, flag in pending:
        if ost is not None:
            writer.whiteout(child, ost)
        any_change = any_change or flag
    return any_change


class _LayerBuffer:
    """Defers entries below a directory until the directory itself has been written."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple]] = []

    def writer_for(self, real: _LayerWriter) -> _LayerWriter:
        buffer = self

        class _Recorder(_LayerWriter):
            def __init__(self) -> None:  # noqa: D401 - no tar of its own
                self.entries = 0

            def add(self, root, rel, st):
                buffer.calls.append(("add", (root, rel, st)))

            def whiteout(self, rel, like):
                buffer.calls.append(("whiteout", (rel, like)))

            def opaque(self, rel, st):
                buffer.calls.append(("opaque", (rel, st)))

        return _Recorder()

    def replay(self, writer: _LayerWriter) -> None:
        for name, args in self.calls:
            getattr(writer, name)(*args)


def write_layer_from_dirs(old: str, new: str, out: BinaryIO) -> CreatedLayer:
    """The layer tar that turns tree ``old`` into tree ``new`` (docker's ChangesDirs + ExportChanges)."""
    writer = _LayerWriter(out)
    _changes(old, new, "", writer)
    return writer.close()
