"""Resolve paths below a directory fd without ever leaving it.

Every write that layer extraction does goes through a directory fd opened here. Paths are
resolved by the kernel with openat2(2)'s ``RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`` where the
kernel has it (Linux ≥ 5.6), otherwise one component at a time with ``O_NOFOLLOW``; in both
cases a symlink or ``..`` on the way is an error rather than something followed. Nothing is
decided by joining strings and checking the result afterwards: that check-then-use gap is the
root of the docker cp and containerd path-traversal CVEs.
"""

from __future__ import annotations

import ctypes
import errno
import os
import posixpath

from ..errors import UnsafeArchive

__all__ = ["clean_member_name", "open_dir_beneath", "open_in_root", "HAVE_OPENAT2"]

_SYS_OPENAT2 = {"x86_64": 437, "aarch64": 437, "ppc64le": 437, "s390x": 437, "riscv64": 437}.get(
    os.uname().machine
)
_RESOLVE_NO_MAGICLINKS = 0x02
_RESOLVE_NO_SYMLINKS = 0x04
_RESOLVE_BENEATH = 0x08
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC


class _OpenHow(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]


_libc = ctypes.CDLL(None, use_errno=True)


_RESOLVE_IN_ROOT = 0x10


def _openat2(
    dir_fd: int, path: str, flags: int, resolve: int = _RESOLVE_BENEATH | _RESOLVE_NO_SYMLINKS | _RESOLVE_NO_MAGICLINKS
) -> int:
    how = _OpenHow(flags, 0, resolve)
    fd = _libc.syscall(
        _SYS_OPENAT2, dir_fd, os.fsencode(path), ctypes.byref(how), ctypes.sizeof(how)
    )
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err), path)
    return fd


def _probe_openat2() -> bool:
    if _SYS_OPENAT2 is None:
        return False
    root = os.open("/", _DIR_FLAGS)
    try:
        os.close(_openat2(root, ".", _DIR_FLAGS))
    except OSError:
        return False
    finally:
        os.close(root)
    return True


HAVE_OPENAT2 = _probe_openat2()


def clean_member_name(name: str) -> str:
    """A tar member's path relative to the layer root, or UnsafeArchive if it climbs out.

    Like Go's filepath.Clean on ``/`` + name: leading slashes and ``.`` go, ``a/../b`` is ``b``;
    a ``..`` that would rise above the root is refused rather than clamped, since no honest
    layer contains one.
    """
    parts: list[str] = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise UnsafeArchive(
                    f"layer entry {name!r} points outside the layer; refusing the archive"
                )
            parts.pop()
            continue
        parts.append(part)
    return "/".join(parts)


def _walk(root_fd: int, rel: str, create: bool) -> int:
    """Component-by-component resolution (pre-openat2 kernels, and for creating parents)."""
    fd = os.dup(root_fd)
    try:
        for part in rel.split("/"):
            try:
                nxt = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            except FileNotFoundError:
                if not create:
                    raise
                try:
                    os.mkdir(part, 0o755, dir_fd=fd)
                except FileExistsError:
                    pass
                nxt = os.open(part, _DIR_FLAGS | os.O_NOFOLLOW, dir_fd=fd)
            os.close(fd)
            fd = nxt
        return fd
    except BaseException:
        os.close(fd)
        raise


def open_dir_beneath(root_fd: int, rel: str, *, create: bool = False, entry: str = "") -> int:
    """An fd for directory ``rel`` (already cleaned) below ``root_fd``.

    ``create`` makes missing directories (mode 0755, as docker's MkdirAll does for parents a tar
    leaves out). A symlink or non-directory on the way raises UnsafeArchive naming ``entry``.
    """
    if not rel:
        return os.dup(root_fd)
    try:
        if HAVE_OPENAT2:
            try:
                return _openat2(root_fd, rel, _DIR_FLAGS)
            except FileNotFoundError:
                if not create:
                    raise
        return _walk(root_fd, rel, create)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.EXDEV, errno.ENOTDIR):
            what = entry or rel
            raise UnsafeArchive(
                f"layer entry {what!r} goes through a symlink or non-directory at {posixpath.dirname(what) or rel!r}; "
                "refusing to follow it out of the layer"
            ) from None
        raise


def open_in_root(root_fd: int, path: str, *, follow: bool = True, flags: int = os.O_PATH) -> int:
    """An fd for ``path`` resolved as a process chrooted at ``root_fd`` would resolve it: ``..``
    stops at the root and absolute symlinks start from it (openat2's ``RESOLVE_IN_ROOT``), so no
    symlink a container made can lead out of it. ``follow=False`` opens a final symlink itself.

    This is how ``cp`` finds paths inside a container, where symlinks are the container's to
    follow (``/etc/localtime -> /usr/share/zoneinfo/…``) but never out of its root.
    """
    from ..errors import Unsupported

    if not HAVE_OPENAT2:
        raise Unsupported("copying into or out of a container needs openat2(2) (Linux 5.6 or later)")
    rel = path.lstrip("/") or "."
    flags |= os.O_CLOEXEC | (0 if follow else os.O_NOFOLLOW)
    return _openat2(root_fd, rel, flags, _RESOLVE_IN_ROOT | _RESOLVE_NO_MAGICLINKS)
