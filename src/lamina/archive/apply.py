"""Apply an uncompressed layer tar to a directory, safely (docker's archive.UnpackLayer).

What the tar says is reproduced exactly: files, directories, symlinks, hard links, devices and
fifos, with their modes (setuid and sticky bits included), numeric owners, mtimes and extended
attributes. AUFS-style whiteouts become what the graph driver needs: ``.wh.NAME`` a 0:0
character device and ``.wh..wh..opq`` the ``trusted.overlay.opaque`` xattr under overlay2
(``whiteouts="overlay"``), or real deletions in a full copy of the parent under vfs
(``whiteouts="delete"``); ``whiteouts="none"`` (``cp``) takes them as the plain files they are.

Safety: every entry is written relative to a directory fd from :mod:`.safepath`, so no ``..``,
absolute path, symlink or hard link in the archive can make a write land outside ``dest``.
The stream is read to its very end and hashed on the way (by :mod:`.pipeline`'s worker, which
also decompresses it), so the DiffID returned is the hash of every byte, trailer padding
included, exactly as docker computes it.
"""

from __future__ import annotations

import errno
import os
import shutil
import stat
import tarfile
from dataclasses import dataclass
from typing import BinaryIO

from ..digest import Digest
from ..errors import InvalidArgument, LaminaError, RuntimeFailure, UnsafeArchive
from .compression import Limits
from .pipeline import LayerFeed
from .safepath import clean_member_name, open_dir_beneath
from .tarentries import member_entry
from .tarstream import TarStream

TYPE_CHECKING = False
if TYPE_CHECKING:
    from .fileindex import IndexBuilder

__all__ = ["AppliedLayer", "apply_layer", "WHITEOUT_PREFIX", "OPAQUE_MARKER"]

WHITEOUT_PREFIX = ".wh."
OPAQUE_MARKER = ".wh..wh..opq"
#: AUFS bookkeeping entries (hard-link directory, etc.) that carry no content
_AUFS_META = ".wh..wh."
_XATTR_PAX = "SCHILY.xattr."
_CHUNK = 1 << 20
_CREATE = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC


@dataclass(frozen=True)
class AppliedLayer:
    diff_id: Digest
    #: bytes of the uncompressed tar stream
    tar_size: int
    #: bytes of regular-file content the layer holds (docker's layer size for vfs)
    size: int


class _Extractor:
    def __init__(self, dest: str, whiteouts: str, same_owner: bool) -> None:
        if whiteouts not in ("overlay", "delete", "none"):
            raise ValueError(f"whiteouts must be 'overlay', 'delete' or 'none', not {whiteouts!r}")
        self.whiteouts = whiteouts
        self.same_owner = same_owner
        self.root_fd = os.open(dest, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        self._dir_cache: dict[str, int] = {}
        self._dirs: list[tuple[str, tarfile.TarInfo]] = []
        #: paths this layer put in place: an opaque marker under vfs keeps these and deletes the rest
        self._unpacked: set[str] = set()
        self.content_bytes = 0

    def close(self) -> None:
        self._forget_dirs()
        os.close(self.root_fd)

    # directory fds ---------------------------------------------------------------------
    def _forget_dirs(self) -> None:
        for fd in self._dir_cache.values():
            os.close(fd)
        self._dir_cache.clear()

    def _parent(self, rel: str, entry: str) -> tuple[int, str]:
        parent, _, leaf = rel.rpartition("/")
        fd = self._dir_cache.get(parent)
        if fd is None:
            fd = open_dir_beneath(self.root_fd, parent, create=True, entry=entry)
            if len(self._dir_cache) > 64:
                self._forget_dirs()
            self._dir_cache[parent] = fd
        return fd, leaf

    def _remove(self, pfd: int, leaf: str) -> None:
        """Remove whatever is at ``leaf``; cached fds below it may now be stale, so drop them."""
        try:
            st = os.stat(leaf, dir_fd=pfd, follow_symlinks=False)
        except FileNotFoundError:
            return
        if stat.S_ISDIR(st.st_mode):
            shutil.rmtree(leaf, dir_fd=pfd)
            # pfd itself stays valid; children of leaf in the cache do not
            stale = [k for k in self._dir_cache if self._dir_cache[k] != pfd]
            for key in stale:
                os.close(self._dir_cache.pop(key))
        else:
            os.unlink(leaf, dir_fd=pfd)

    # entries ---------------------------------------------------------------------------
    def add(self, tf: TarStream, member: tarfile.TarInfo) -> None:
        rel = clean_member_name(member.name)
        if not rel:
            if member.isdir():
                self._dirs.append(("", member))
            return
        base = rel.rpartition("/")[2]
        if base.startswith(WHITEOUT_PREFIX) and self.whiteouts != "none":
            self._whiteout(rel, base, member.name)
            return
        pfd, leaf = self._parent(rel, member.name)
        if member.isdir():
            self._directory(pfd, leaf, rel)
        else:
            self._non_directory(tf, member, pfd, leaf, rel)
        self._unpacked.add(rel)

    def _create(self, pfd: int, leaf: str, make):
        """``make()`` creates ``leaf``; whatever is there already is removed first, but only
        when the creation says so (EEXIST): a fresh layer directory holds nothing to remove,
        and asking first would cost a stat for every entry."""
        try:
            return make()
        except FileExistsError:
            self._remove(pfd, leaf)
            return make()

    def _directory(self, pfd: int, leaf: str, rel: str) -> None:
        try:
            st = os.stat(leaf, dir_fd=pfd, follow_symlinks=False)
            if not stat.S_ISDIR(st.st_mode):
                self._remove(pfd, leaf)
                os.mkdir(leaf, 0o700, dir_fd=pfd)
        except FileNotFoundError:
            os.mkdir(leaf, 0o700, dir_fd=pfd)

    def _non_directory(
        self, tf: TarStream, m: tarfile.TarInfo, pfd: int, leaf: str, rel: str
    ) -> None:
        if m.isreg():
            self._regular(tf, m, pfd, leaf)
            return
        if m.issym():
            self._create(pfd, leaf, lambda: os.symlink(m.linkname, leaf, dir_fd=pfd))
        elif m.islnk():
            self._hardlink(m, pfd, leaf)
            return  # a hard link shares its target's inode: attributes are the target's
        elif m.ischr() or m.isblk():
            kind = stat.S_IFCHR if m.ischr() else stat.S_IFBLK
            device = os.makedev(m.devmajor, m.devminor)
            self._create(pfd, leaf, lambda: os.mknod(leaf, kind | (m.mode & 0o7777), device, dir_fd=pfd))
        elif m.isfifo():
            self._create(pfd, leaf, lambda: os.mkfifo(leaf, m.mode & 0o7777, dir_fd=pfd))
        else:
            raise InvalidArgument(f"layer entry {m.name!r} has unsupported tar type {m.type!r}")
        self._attributes_by_name(pfd, leaf, m)

    def _regular(self, tf: TarStream, m: tarfile.TarInfo, pfd: int, leaf: str) -> None:
        fd = self._create(pfd, leaf, lambda: os.open(leaf, _CREATE, 0o600, dir_fd=pfd))
        try:
            left = m.size
            while left:
                chunk = tf.read(min(_CHUNK, left))
                if not chunk:
                    raise InvalidArgument(f"layer tar is truncated inside {m.name!r}")
                _write_all(fd, chunk)
                left -= len(chunk)
            self.content_bytes += m.size
            self._attributes_by_fd(fd, m)
        finally:
            os.close(fd)

    def _attributes_by_fd(self, fd: int, m: tarfile.TarInfo) -> None:
        """xattrs, owner, mode (set after the owner: chown clears setuid) and mtime."""
        self._xattrs(fd, m)
        if self.same_owner:
            os.fchown(fd, m.uid, m.gid)
        os.fchmod(fd, m.mode & 0o7777)
        os.utime(fd, ns=(_mtime_ns(m), _mtime_ns(m)))

    def _hardlink(self, m: tarfile.TarInfo, pfd: int, leaf: str) -> None:
        target = clean_member_name(m.linkname)
        if not target:
            raise UnsafeArchive(
                f"hard link {m.name!r} points at the layer root; refusing the archive"
            )
        tparent, _, tleaf = target.rpartition("/")
        try:
            tfd = open_dir_beneath(self.root_fd, tparent, entry=m.name)
            try:
                self._create(pfd, leaf, lambda: os.link(tleaf, leaf, src_dir_fd=tfd, dst_dir_fd=pfd, follow_symlinks=False))
            finally:
                os.close(tfd)
        except FileNotFoundError:
            raise InvalidArgument(
                f"hard link {m.name!r} points at {m.linkname!r}, which is not earlier in the layer"
            ) from None

    def _attributes_by_name(self, pfd: int, leaf: str, m: tarfile.TarInfo) -> None:
        if self.same_owner:
            os.chown(leaf, m.uid, m.gid, dir_fd=pfd, follow_symlinks=False)
        if not m.issym():
            _chmod_at(pfd, leaf, m.mode)
            fd = os.open(leaf, os.O_PATH | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=pfd)
            try:
                self._xattrs_path(f"/proc/self/fd/{fd}", m)
            finally:
                os.close(fd)
        os.utime(leaf, ns=(_mtime_ns(m), _mtime_ns(m)), dir_fd=pfd, follow_symlinks=False)

    def _xattrs(self, fd: int, m: tarfile.TarInfo) -> None:
        for key, value in m.pax_headers.items():
            if key.startswith(_XATTR_PAX):
                _setxattr(fd, key[len(_XATTR_PAX) :], value, m.name)

    def _xattrs_path(self, path: str, m: tarfile.TarInfo) -> None:
        for key, value in m.pax_headers.items():
            if key.startswith(_XATTR_PAX):
                _setxattr(path, key[len(_XATTR_PAX) :], value, m.name)

    # whiteouts -------------------------------------------------------------------------
    def _whiteout(self, rel: str, base: str, entry: str) -> None:
        parent = rel.rpartition("/")[0]
        pfd, _ = self._parent(rel, entry)
        if base == OPAQUE_MARKER:
            if self.whiteouts == "overlay":
                os.setxattr(pfd, "trusted.overlay.opaque", b"y")
            else:
                self._empty_dir_except_unpacked(pfd, parent)
            return
        if base.startswith(_AUFS_META):
            return
        victim = base[len(WHITEOUT_PREFIX) :]
        if victim in ("", ".", ".."):
            raise UnsafeArchive(f"layer entry {entry!r} is a whiteout with no valid target")
        self._remove(pfd, victim)
        if self.whiteouts == "overlay":
            os.mknod(victim, stat.S_IFCHR | 0o000, os.makedev(0, 0), dir_fd=pfd)

    def _empty_dir_except_unpacked(self, pfd: int, parent: str) -> None:
        prefix = f"{parent}/" if parent else ""
        for name in os.listdir(pfd):
            if f"{prefix}{name}" not in self._unpacked:
                self._remove(pfd, name)

    # finish ----------------------------------------------------------------------------
    def finish_directories(self) -> None:
        """Directory modes, owners and mtimes last: adding children changes a dir's mtime."""
        self._forget_dirs()
        for rel, m in sorted(self._dirs, key=lambda item: item[0].count("/"), reverse=True):
            fd = open_dir_beneath(self.root_fd, rel, entry=m.name)
            try:
                self._attributes_by_fd(fd, m)
            finally:
                os.close(fd)

    def remember_directory(self, member: tarfile.TarInfo) -> None:
        rel = clean_member_name(member.name)
        if rel and (self.whiteouts == "none" or not rel.rpartition("/")[2].startswith(WHITEOUT_PREFIX)):
            self._dirs.append((rel, member))


def _chmod_at(pfd: int, leaf: str, mode: int) -> None:
    # fchmodat with AT_SYMLINK_NOFOLLOW is unsupported on Linux; this is only called for
    # non-symlinks, which O_NOFOLLOW guarantees are not followed anywhere.
    os.chmod(leaf, mode & 0o7777, dir_fd=pfd)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _mtime_ns(m: tarfile.TarInfo) -> int:
    return int(float(m.mtime) * 1_000_000_000)


def _setxattr(target, name: str, value: str, entry: str) -> None:
    raw = value.encode("utf-8", "surrogateescape")
    try:
        os.setxattr(target, name, raw)
    except ValueError:  # a NUL inside the name
        raise InvalidArgument(f"layer entry {entry!r} has an invalid xattr name {name!r}") from None
    except OSError as exc:
        # docker ignores xattrs the filesystem cannot hold (ENOTSUP) and, outside its user
        # namespace support, those it may not set (EPERM on trusted.*).
        if exc.errno not in (errno.ENOTSUP, errno.EPERM):
            raise InvalidArgument(
                f"layer entry {entry!r}: cannot set xattr {name}: {exc.strerror}"
            ) from None


#: errors that are the host's, not the archive's
_HOST_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EIO, errno.EROFS, errno.ENOMEM})


def _entry_error(member: tarfile.TarInfo, exc: OSError) -> LaminaError:
    """An entry the file system will not take (a name too long, a file where the archive
    wants a directory...) is a bad archive; a full or failing disk is the host's problem."""
    what = f"layer entry {member.name!r} cannot be extracted: {exc.strerror or exc}"
    if exc.errno in _HOST_ERRNOS:
        return RuntimeFailure(what)
    return InvalidArgument(what)


def apply_layer(
    stream: BinaryIO,
    dest: str,
    *,
    whiteouts: str = "overlay",
    limits: Limits | None = None,
    same_owner: bool = True,
    record: BinaryIO | None = None,
    compression: str | None = "none",
    index: IndexBuilder | None = None,
) -> AppliedLayer:
    """Extract the tar ``stream`` into ``dest`` and return its DiffID and sizes.

    ``stream`` is compressed as ``compression`` says ("none" by default; None detects it).
    It is read, decompressed and hashed by a :class:`.pipeline.LayerFeed` worker while this
    thread extracts. With ``record``, the layer's tar-split (:mod:`.tarsplit`) is written
    there on the way, and with ``index`` every entry goes into that file index builder.

    Raises UnsafeArchive for entries that would escape ``dest`` and InvalidArgument for a
    malformed tar; ``dest`` may then hold a partial layer, which the caller discards.
    """
    feed = LayerFeed(stream, compression, limits or Limits())
    try:
        tar = TarStream(feed, record)
        extracted = _extract(tar, dest, whiteouts, same_owner, index)
    finally:
        feed.close()
    return AppliedLayer(feed.digest(), feed.count, extracted.content_bytes)


def _extract(tar: TarStream, dest: str, whiteouts: str, same_owner: bool, index: IndexBuilder | None) -> _Extractor:
    extractor = _Extractor(dest, whiteouts, same_owner)
    try:
        for member in tar:
            if index is not None:
                index.add(member_entry(member))
            if member.isdir():
                extractor.remember_directory(member)
            try:
                extractor.add(tar, member)
            except OSError as exc:
                raise _entry_error(member, exc) from None
        extractor.finish_directories()
        # the trailer's padding counts towards the DiffID (and the record): read to the end
        tar.finish()
    finally:
        extractor.close()
        tar.close()
    return extractor
