"""A read-only view of an image's merged filesystem, read from its layer directories.

COPY, ADD and WORKDIR need to know what the image already holds at the destination (is
``/app`` a directory? is ``/bin`` a symlink to ``usr/bin``? who is ``www-data`` in
``/etc/passwd``?). Docker answers by mounting a container; lamina looks through the layer
directories top-down instead, honouring overlay whiteouts (0:0 character devices) and opaque
directories, so these instructions need no mount and no root.
"""

from __future__ import annotations

import os
import posixpath
import stat

from ..errors import InvalidArgument
from ..value import Value

__all__ = ["ImageFS", "Entry"]

_OPAQUE = "trusted.overlay.opaque"


class Entry(Value):
    __slots__ = ("path", "real", "st")
    path: str  # the resolved path inside the image, without a leading '/'
    real: str  # where it is on this host
    st: os.stat_result

    def __init__(self, path: str, real: str, st: os.stat_result) -> None:
        self._init(path=path, real=real, st=st)


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, _OPAQUE, follow_symlinks=False) == b"y"
    except OSError:
        return False


class ImageFS:
    def __init__(self, layer_dirs: list[str], overlay: bool = True) -> None:
        """``layer_dirs``: top layer first. With ``overlay`` False (vfs) the first directory
        already holds the whole tree."""
        self.dirs = layer_dirs if overlay else layer_dirs[:1]
        self.overlay = overlay

    def _lookup(self, rel: str) -> tuple[str, os.stat_result] | None:
        """The topmost visible entry at ``rel`` (no symlinks followed), or None."""
        visible = list(self.dirs)
        parts = [p for p in rel.split("/") if p]
        if not parts:
            if not visible:
                return None
            top = visible[0]
            return top, os.lstat(top)
        for i in range(len(parts)):
            found = None
            below: list[str] = []
            for d in visible:
                path = os.path.join(d, *parts[: i + 1])
                try:
                    st = os.lstat(path)
                except (FileNotFoundError, NotADirectoryError):
                    continue
                if found is None:
                    if self.overlay and _is_whiteout(st):
                        return None
                    found = (path, st)
                    if not stat.S_ISDIR(st.st_mode):
                        break
                    below.append(d)
                    if self.overlay and _is_opaque(path):
                        break
                elif stat.S_ISDIR(st.st_mode):
                    below.append(d)
                    if self.overlay and _is_opaque(path):
                        break
                else:
                    break
            if found is None:
                return None
            if i == len(parts) - 1:
                return found
            if not stat.S_ISDIR(found[1].st_mode):
                return found if stat.S_ISLNK(found[1].st_mode) else None
            visible = below
        return None

    def resolve(self, path: str, follow_last: bool = True) -> tuple[str, Entry | None]:
        """Resolve ``path`` inside the image as the kernel would with the image as root
        (symlinks followed, never above ``/``): the resolved path and its entry (None when it
        does not exist; the path is then where it would be created)."""
        todo = [p for p in path.split("/") if p and p != "."]
        done: list[str] = []
        hops = 0
        while todo:
            name = todo.pop(0)
            if name == "..":
                if done:
                    done.pop()
                continue
            candidate = "/".join(done + [name])
            found = self._lookup(candidate)
            if found is None:
                return "/".join(done + [name] + todo), None
            real, st = found
            if stat.S_ISLNK(st.st_mode) and (todo or follow_last):
                hops += 1
                if hops > 40:
                    raise InvalidArgument(f"too many levels of symbolic links: /{path}")
                target = os.readlink(real)
                if target.startswith("/"):
                    done = []
                todo = [p for p in target.split("/") if p and p != "."] + todo
                continue
            if todo and not stat.S_ISDIR(st.st_mode):
                raise InvalidArgument(f"not a directory: /{candidate}")
            done.append(name)
        rel = "/".join(done)
        found = self._lookup(rel)
        return rel, Entry(rel, found[0], found[1]) if found else None

    def is_dir(self, path: str) -> bool:
        _, entry = self.resolve(path)
        return entry is not None and stat.S_ISDIR(entry.st.st_mode)

    def read_file(self, path: str, limit: int = 1 << 20) -> bytes | None:
        _, entry = self.resolve(path)
        if entry is None or not stat.S_ISREG(entry.st.st_mode):
            return None
        with open(entry.real, "rb") as f:
            return f.read(limit)


def lookup_user(fs: ImageFS | None, user: str, group: str | None) -> tuple[int, int]:
    """``--chown``'s user[:group] as numeric ids: numbers as given, names from the image's
    /etc/passwd and /etc/group (docker's rules: a user name alone takes that user's group)."""

    def table(path: str) -> list[list[str]]:
        data = fs.read_file(path) if fs is not None else None
        if data is None:
            return []
        return [line.split(":") for line in data.decode("utf-8", "replace").splitlines() if line and not line.startswith("#")]

    uid: int | None = None
    gid: int | None = None
    if user.isdigit():
        uid = int(user)
        gid = uid if group is None else None
    else:
        for row in table("etc/passwd"):
            if len(row) >= 4 and row[0] == user:
                uid, gid = int(row[2]), int(row[3])
                break
        if uid is None:
            raise InvalidArgument(f"unable to convert uid/gid chown string to host mapping: can't find uid for user {user}: no such user: {user}")
    if group is not None:
        if group.isdigit():
            gid = int(group)
        else:
            gid = None
            for row in table("etc/group"):
                if len(row) >= 3 and row[0] == group:
                    gid = int(row[2])
                    break
            if gid is None:
                raise InvalidArgument(f"unable to convert uid/gid chown string to host mapping: can't find gid for group {group}: no such group: {group}")
    return uid, gid if gid is not None else uid


def normalize_dest(dest: str, workdir: str) -> str:
    """COPY's destination made absolute against WORKDIR; a trailing '/' is kept (it means
    "a directory")."""
    trailing = dest.endswith("/") or dest in (".", "")
    path = dest if dest.startswith("/") else posixpath.join(workdir or "/", dest)
    path = posixpath.normpath(path)
    if trailing and not path.endswith("/"):
        path += "/"
    return path


def listdir(fs: ImageFS, rel: str) -> list[str]:
    """Names in the merged directory ``rel`` (resolved), whiteouts and opaque dirs honoured."""
    names: dict[str, bool] = {}
    parts = [p for p in rel.split("/") if p]
    for d in fs.dirs:
        path = os.path.join(d, *parts) if parts else d
        try:
            st = os.lstat(path)
        except (FileNotFoundError, NotADirectoryError):
            continue
        if not stat.S_ISDIR(st.st_mode):
            break
        for entry in os.scandir(path):
            if entry.name in names:
                continue
            if fs.overlay and entry.name.startswith(".wh."):
                continue
            est = entry.stat(follow_symlinks=False)
            names[entry.name] = not (fs.overlay and _is_whiteout(est))
        if fs.overlay and _is_opaque(path):
            break
    return sorted((n for n, visible in names.items() if visible), key=os.fsencode)
