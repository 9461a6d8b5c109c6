"""``cp``: files between a container and the host (or a tar on stdin/stdout), as docker copies them.

Paths follow docker's rules (``docker cp --help``): a file goes to DEST, or into DEST if it is a
directory; a directory becomes DEST if DEST does not exist, or goes into it (its contents only
with ``SRC/.``); a directory never replaces a file; ``DEST/`` must be a directory.

Safety is the layer extractor's: every path inside a container is resolved by the kernel with
openat2's ``RESOLVE_IN_ROOT`` (symlinks are followed as the container sees them, never out of its
root), and what is written goes through ``archive.apply`` below that directory fd, which refuses
to follow any symlink or ``..``. A stopped container's layer is mounted for the copy, so writes
land in its upper directory with overlayfs's own copy-up; a running one is written through its
``merged/``.
"""

from __future__ import annotations

import os
import posixpath
import stat
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

from ..archive.safepath import open_in_root
from ..errors import Conflict, InvalidArgument, NotFound
from . import filesystem

if TYPE_CHECKING:
    from ..store.store import Store


@dataclass(frozen=True)
class Endpoint:
    """One side of a copy: a root directory (``/`` for the host) and a path in it."""

    root: str
    path: str
    #: how to name the path in errors ("c1:/etc/passwd" or "/tmp/x")
    shown: str


@dataclass(frozen=True)
class _Source:
    path: str  # a /proc/self/fd/… path the tar writer can read
    st: os.stat_result
    name: str  # the base name it is copied under
    contents_only: bool  # SRC/.: what the directory holds, not the directory


def _clean(path: str) -> str:
    """Absolute and normal (``posixpath.normpath`` keeps a leading ``//``; this does not)."""
    return posixpath.normpath("/" + path.lstrip("/"))


def _open(root_fd: int, path: str, follow: bool, shown: str) -> int:
    try:
        return open_in_root(root_fd, path, follow=follow)
    except FileNotFoundError:
        raise NotFound(f"Could not find the file {shown}") from None
    except NotADirectoryError:
        raise InvalidArgument(f"{shown}: not a directory") from None


def _source(stack: ExitStack, root_fd: int, raw: str, follow: bool, shown: str) -> _Source:
    contents_only = raw.endswith("/.") or raw == "."
    must_be_dir = raw.endswith("/") or contents_only
    clean = _clean(raw)
    if clean == "/" or follow or must_be_dir:
        fd = _open(root_fd, clean, True, shown)
        stack.callback(os.close, fd)
        path = f"/proc/self/fd/{fd}"
        st = os.stat(path)
    else:
        parent = _open(root_fd, posixpath.dirname(clean), True, shown)
        stack.callback(os.close, parent)
        path = f"/proc/self/fd/{parent}/{posixpath.basename(clean)}"
        try:
            st = os.lstat(path)
        except FileNotFoundError:
            raise NotFound(f"Could not find the file {shown}") from None
    if must_be_dir and not stat.S_ISDIR(st.st_mode):
        raise InvalidArgument(f"{shown}: not a directory")
    name = posixpath.basename(clean) or "/"
    return _Source(path, st, name, contents_only and stat.S_ISDIR(st.st_mode))


def _destination(stack: ExitStack, root_fd: int, raw: str, source: _Source, shown: str) -> tuple[str, str | None]:
    """(directory to extract into, name the source takes there; None: as it comes)."""
    clean = _clean(raw)
    is_dir_source = stat.S_ISDIR(source.st.st_mode)
    try:
        fd = open_in_root(root_fd, clean, follow=True)
    except FileNotFoundError:
        fd = -1
    except NotADirectoryError:
        raise InvalidArgument(f"{shown}: not a directory") from None
    if fd >= 0:
        stack.callback(os.close, fd)
        if stat.S_ISDIR(os.stat(f"/proc/self/fd/{fd}").st_mode):
            return f"/proc/self/fd/{fd}", None if source.contents_only else source.name
        if is_dir_source:
            raise Conflict(f"cannot copy a directory to a file: {shown}")
        if raw.endswith("/"):
            raise InvalidArgument(f"{shown}: not a directory")
    elif raw.endswith("/") and not is_dir_source:
        raise NotFound(f"no such directory: {shown}")
    parent = posixpath.dirname(clean)
    try:
        pfd = open_in_root(root_fd, parent, follow=True, flags=os.O_PATH | os.O_DIRECTORY)
    except (FileNotFoundError, NotADirectoryError):
        raise NotFound(f"no such directory: {parent} (the parent of {shown})") from None
    stack.callback(os.close, pfd)
    return f"/proc/self/fd/{pfd}", posixpath.basename(clean)


def _write(source: _Source, name: str | None, out: BinaryIO, owner: tuple[int, int] | None) -> None:
    """The tar that, unpacked in the destination directory, makes the copy: the source under
    ``name``, or (None) what the source directory holds."""
    from ..archive.create import write_path, write_tree

    if name is None:
        write_tree(source.path, out, owner)
    else:
        write_path(source.path, name, out, owner, source.st)


@contextmanager
def _root_fd(root: str) -> Iterator[int]:
    fd = os.open(root, os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
    try:
        yield fd
    finally:
        os.close(fd)


def copy_path(src: Endpoint, dst: Endpoint, *, follow_link: bool = False, owner: tuple[int, int] | None = None,
              same_owner: bool = False) -> None:
    """Copy ``src`` to ``dst`` (each a root directory and a path resolved inside it)."""
    from ..archive.apply import apply_layer
    from ..archive.pipe import piped

    with ExitStack() as stack:
        sfd = stack.enter_context(_root_fd(src.root))
        dfd = stack.enter_context(_root_fd(dst.root))
        source = _source(stack, sfd, src.path, follow_link, src.shown)
        target_dir, name = _destination(stack, dfd, dst.path, source, dst.shown)
        with piped(lambda out: _write(source, name, out, owner)) as stream:
            apply_layer(stream, target_dir, whiteouts="none", same_owner=same_owner)


def archive_path(src: Endpoint, out: BinaryIO, *, follow_link: bool = False) -> None:
    """``cp CONTAINER:SRC -``: a tar of SRC named by its base name."""
    with ExitStack() as stack:
        sfd = stack.enter_context(_root_fd(src.root))
        source = _source(stack, sfd, src.path, follow_link, src.shown)
        _write(source, source.name if not source.contents_only else None, out, None)


def extract_into(dst: Endpoint, stream: BinaryIO, *, same_owner: bool) -> None:
    """``cp - CONTAINER:DEST``: a tar from stdin unpacked into directory DEST."""
    from ..archive.apply import apply_layer

    with ExitStack() as stack:
        dfd = stack.enter_context(_root_fd(dst.root))
        clean = _clean(dst.path)
        try:
            fd = open_in_root(dfd, clean, follow=True, flags=os.O_PATH | os.O_DIRECTORY)
        except FileNotFoundError:
            raise NotFound(f"no such directory: {dst.shown}") from None
        except NotADirectoryError:
            raise InvalidArgument(f"{dst.shown}: not a directory (a tar from stdin is unpacked into a directory)") from None
        stack.callback(os.close, fd)
        apply_layer(stream, f"/proc/self/fd/{fd}", whiteouts="none", same_owner=same_owner)


# the command ----------------------------------------------------------------------------------
def split_target(arg: str) -> tuple[str | None, str]:
    """``CONTAINER:PATH`` → (container, path); a local path (``./a:b``, ``/x``) → (None, path)."""
    if arg.startswith(("/", ".")):
        return None, arg
    container, sep, path = arg.partition(":")
    if not sep:
        return None, arg
    return container, path


@contextmanager
def _container_side(store: Store, container: filesystem.ContainerFS, path: str, shown: str,
                    writing: bool) -> Iterator[Endpoint]:
    """Where ``path`` lives: in a volume or bind mount at or above it (its source directory, as
    docker's cp reaches mounts), else in the container's own filesystem."""
    mount = _mount_for(container, path)
    if mount is not None:
        source, rel, writable = mount
        if writing and not writable:
            raise Conflict("mounted volume is marked read-only")
        yield Endpoint(source, rel, shown)
        return
    if writing and container.read_only:
        raise Conflict("container rootfs is marked read-only")
    with filesystem.mounted_rootfs(store, container) as root:
        yield Endpoint(root, path, shown)


def _mount_for(container: filesystem.ContainerFS, path: str) -> tuple[str, str, bool] | None:
    """(source directory, path below it with ``path``'s trailing ``/`` or ``/.``, writable) of the
    deepest mount point covering ``path``."""
    clean = _clean(path)
    best: tuple[str, dict] | None = None
    for key, point in (container.mount_points or {}).items():
        if not isinstance(point, dict) or not point.get("Source"):
            continue
        dest = posixpath.normpath(point.get("Destination") or key)
        if (clean == dest or clean.startswith(dest.rstrip("/") + "/")) and (best is None or len(dest) > len(best[0])):
            best = (dest, point)
    if best is None:
        return None
    dest, point = best
    rel = clean[len(dest):] or "/"
    marker = "/." if path.endswith("/.") else "/" if path.endswith("/") else ""
    if marker:
        rel = rel.rstrip("/") + marker
    return point["Source"], rel, bool(point.get("RW", True))


def copy(store: Store, source: str, destination: str, *, archive: bool = False, follow_link: bool = False,
         stdin: BinaryIO | None = None, stdout: BinaryIO | None = None) -> None:
    """``cp SRC DEST``: exactly one side is ``CONTAINER:PATH``; ``-`` is a tar on stdin/stdout."""
    src_ctr, src_path = split_target(source)
    dst_ctr, dst_path = split_target(destination)
    if (src_ctr is None) == (dst_ctr is None):
        if src_ctr is None:
            raise InvalidArgument("must specify at least one container source")
        raise InvalidArgument("copying between containers is not supported")
    if src_ctr is not None:
        if not src_path:
            raise InvalidArgument("filepath cannot be empty")
        container = filesystem.resolve(store.paths, src_ctr)
        with _container_side(store, container, src_path, f"{src_ctr}:{src_path}", writing=False) as src:
            if destination == "-":
                if stdout is None:
                    raise InvalidArgument("no output stream for -")
                archive_path(src, stdout, follow_link=follow_link)
                return
            copy_path(src, Endpoint("/", _host_path(dst_path), dst_path), follow_link=follow_link)
        return
    if not dst_path:
        raise InvalidArgument("filepath cannot be empty")
    container = filesystem.resolve(store.paths, dst_ctr)
    with _container_side(store, container, dst_path, f"{dst_ctr}:{dst_path}", writing=True) as dst:
        if source == "-":
            if stdin is None:
                raise InvalidArgument("no input stream for -")
            extract_into(dst, stdin, same_owner=archive)
            return
        owner = None if archive else (0, 0)
        copy_path(Endpoint("/", _host_path(src_path), src_path), dst, follow_link=follow_link, owner=owner,
                  same_owner=True)


def _host_path(path: str) -> str:
    """Absolute, keeping a trailing ``/`` or ``/.`` (they change what is copied)."""
    return path if path.startswith("/") else os.path.join(os.getcwd(), path)
