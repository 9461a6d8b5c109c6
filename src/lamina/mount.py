"""Mounts as values, and the only module that calls mount(2) and umount(2).

Graph drivers *return* Mount values (containerd's snapshotter shape) so that callers decide
when and where to mount, tests can inspect the options without root, and the OCI runtime spec
can carry the same values.
"""

from __future__ import annotations

import os

from .errors import RuntimeFailure
from .value import Value

_LIBC = []


def _libc():
    """libc through ctypes, loaded on the first mount: most commands never mount, and loading
    ctypes costs every command start (``find_library`` would even run ldconfig). Kept in a
    list, not ``functools.cache``: functools costs ``run`` ~2 ms of imports."""
    if _LIBC:
        return _LIBC[0]
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
    libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
    _LIBC.append(libc)
    return libc


def _errno() -> int:
    import ctypes

    return ctypes.get_errno()

MS_RDONLY = 1
MS_BIND = 4096
MNT_DETACH = 2


class Mount(Value):
    """What to mount: ``mount -t <type> -o <options> <source> <target>``."""

    __slots__ = ("type", "source", "options")
    type: str
    source: str
    options: tuple[str, ...]

    def __init__(self, type: str, source: str, options: tuple[str, ...] = ()) -> None:
        self._init(type=type, source=source, options=options)

    def data(self) -> str:
        return ",".join(o for o in self.options if o not in ("bind", "rbind", "ro", "rw"))

    def flags(self) -> int:
        flags = 0
        if "ro" in self.options:
            flags |= MS_RDONLY
        if self.type == "bind" or "bind" in self.options:
            flags |= MS_BIND
        return flags

    def mount(self, target: str, chdir: str | None = None) -> None:
        """Mount onto ``target``. ``chdir`` makes relative lowerdir paths resolve (overlay2's
        ``l/`` short links), keeping the option string under the kernel's page-size limit."""
        cwd = os.getcwd() if chdir else None
        try:
            if chdir:
                os.chdir(chdir)
            rc = _libc().mount(
                self.source.encode(), target.encode(), self.type.encode(), self.flags(),
                self.data().encode() or None,
            )
            if rc != 0:
                err = _errno()
                raise RuntimeFailure(
                    f"mount {self.type} on {target} failed: {os.strerror(err)}"
                )
        finally:
            if cwd:
                os.chdir(cwd)


def unmount(target: str, detach: bool = False) -> None:
    if _libc().umount2(target.encode(), MNT_DETACH if detach else 0) != 0:
        err = _errno()
        if err in (22, 2):  # EINVAL: not a mount point; ENOENT: gone
            return
        raise RuntimeFailure(f"unmount {target} failed: {os.strerror(err)}")


def is_mountpoint(path: str) -> bool:
    real = os.path.realpath(path)
    try:
        with open("/proc/self/mountinfo") as f:
            return any(line.split()[4] == real for line in f)
    except OSError:
        return os.path.ismount(path)


def mounts_under(prefix: str) -> list[str]:
    """Mount points at or below ``prefix`` (deepest first, for unmounting)."""
    real = os.path.realpath(prefix)
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            point = line.split()[4].replace("\\040", " ")
            if point == real or point.startswith(real + "/"):
                found.append(point)
    return sorted(found, key=len, reverse=True)
