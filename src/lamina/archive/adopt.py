"""A layer made from an overlay upper directory in place, instead of from a copy of it.

A build step's container is removed as soon as its upper directory is committed, so the files
need not be written a second time: docker's builder tars the upper directory and extracts the
tar into a new layer directory (every byte written twice, then the container's copy deleted);
here the directory is moved into the new layer (``Store.adopt_layer``) and only the tar is
produced, to hash it (the DiffID) and record its tar-split, never written anywhere.

The moved directory is made what extracting its tar would have made (:class:`_AsExtracted`), so
the layer on disk does not depend on which way it was registered: times in whole seconds
(access time = modification time), as the tar holds them; overlay's own bookkeeping
(``trusted.overlay.*`` other than the opaque mark: ``origin``, ``impure``…), which the tar leaves
out, removed; sockets, which a tar cannot hold, removed.
"""

from __future__ import annotations

import errno
import io
import os
import stat
from typing import BinaryIO

from ..digest import Digest
from .compression import CountingReader
from .create import write_layer_from_overlay_upper
from .pipe import piped
from .tarstream import TarStream

__all__ = ["adopt_upper", "record_split"]

_OPAQUE = "trusted.overlay.opaque"
_CHUNK = 1 << 20


def record_split(stream: BinaryIO, record: BinaryIO) -> tuple[int, int]:
    """Read a layer tar to its end, writing its tar-split to ``record`` (what ``apply_layer``
    records, without extracting anything); returns (tar bytes, regular-file content bytes)."""
    counted = CountingReader(stream)
    tar = TarStream(io.BufferedReader(counted, _CHUNK), record)
    content = 0
    try:
        for member in tar:
            if member.isreg():
                content += member.size
        tar.finish()
    finally:
        tar.close()
    return counted.count, content


def adopt_upper(directory: str, record: BinaryIO) -> tuple[Digest, int]:
    """Make ``directory`` (an overlay upper directory, now a layer's ``diff``) what extracting
    its own tar gives, and return that tar's DiffID and content bytes, its tar-split written to
    ``record``."""
    normalize = _AsExtracted(directory)
    created = []

    def produce(out: BinaryIO) -> None:
        created.append(write_layer_from_overlay_upper(directory, out, visit=normalize))
        normalize.finish()

    with piped(produce) as stream:
        _, content = record_split(stream, record)
    return created[0].diff_id, content


class _AsExtracted:
    """Called for each entry once the tar writer has read it: whole-second times, no overlay
    bookkeeping, no sockets. Directory times are set last, deepest first (removing a socket
    changes its directory's time)."""

    def __init__(self, root: str) -> None:
        self.root = root
        self.dirs: list[tuple[str, int]] = []

    def __call__(self, rel: str, st: os.stat_result) -> None:
        path = os.path.join(self.root, rel)
        if stat.S_ISSOCK(st.st_mode):
            os.unlink(path)
            return
        _strip_overlay_xattrs(path, keep_opaque=stat.S_ISDIR(st.st_mode))
        ns = int(st.st_mtime) * 1_000_000_000
        if stat.S_ISDIR(st.st_mode):
            self.dirs.append((path, ns))
        elif not (stat.S_ISCHR(st.st_mode) and st.st_rdev == 0):  # whiteouts: made anew on extraction
            os.utime(path, ns=(ns, ns), follow_symlinks=False)

    def finish(self) -> None:
        for path, ns in reversed(self.dirs):
            os.utime(path, ns=(ns, ns), follow_symlinks=False)
        _strip_overlay_xattrs(self.root, keep_opaque=False)


def _strip_overlay_xattrs(path: str, keep_opaque: bool) -> None:
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EPERM):
            return
        raise
    for name in names:
        if not name.startswith("trusted.overlay."):
            continue
        if keep_opaque and name == _OPAQUE and os.getxattr(path, name, follow_symlinks=False) == b"y":
            continue  # the mark the tar carries (``.wh..wh..opq``) and extraction sets again
        os.removexattr(path, name, follow_symlinks=False)
