"""COPY and ADD without a container: plan the entries, checksum them, write the layer tar.

The plan is a sorted list of :class:`Item` (path in the image, type, mode, owner, time, and
where the bytes come from). Its checksum is the cache key's content part: it covers every
copied entry's path below the destination, type, permission bits, owner *as copied* (after
``--chown``/``--chmod``), link target and data; never timestamps, never anything of the host
(so the same context gives the same key on any machine). Docker's form is kept:
``file:<sha256>`` for one file, ``dir:<sha256>`` for a directory, ``multi:<sha256>`` for
several sources, shown in ``history`` as ``COPY file:<sum> in /dest``.

The layer tar holds the destination's parent directories (as the image has them, or new ones
0755 owned by the ``--chown`` user, like docker's MkdirAllAndChown) and the items, in path
order, with numeric owners, no user names, whole-second times clamped to SOURCE_DATE_EPOCH
when it is set: the same plan always gives the same bytes.
"""

from __future__ import annotations

import hashlib
import io
import os
import stat
import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: a cached build (the lean path) never writes a tar
    import tarfile
    from collections.abc import Iterable
    from typing import BinaryIO

__all__ = ["Item", "CopyPlan", "SumCache", "TarReader", "file_sum", "layer_stream"]

_CHUNK = 1 << 20
_PAX_FORMAT = 2  # tarfile.PAX_FORMAT


class Item:
    """One entry of a COPY/ADD layer (a plain slotted class: ``build`` is on the lean path)."""

    __slots__ = ("path", "kind", "mode", "uid", "gid", "mtime", "source", "data", "linkname", "size", "rdev",
                 "sum_name", "copied", "digest")

    def __init__(
        self,
        path: str,
        kind: str,
        mode: int,
        uid: int,
        gid: int,
        mtime: int,
        source: str | None = None,
        data: bytes | None = None,
        linkname: str = "",
        size: int = 0,
        rdev: int = 0,
        sum_name: str = "",
        copied: bool = True,
        digest: str = "",
    ) -> None:
        self.path = path  # in the image, no leading '/'
        self.kind = kind  # "file" | "dir" | "symlink" | "char" | "block" | "fifo" | "hardlink"
        self.mode = mode  # permission bits (07777)
        self.uid = uid
        self.gid = gid
        self.mtime = mtime
        self.source = source  # host file holding the data
        self.data = data  # or the data itself (heredoc, download)
        self.linkname = linkname
        self.size = size
        self.rdev = rdev
        #: the source-relative name this item is summed under (relative to its source root)
        self.sum_name = sum_name
        #: part of the copied content (False for parent directories of the destination)
        self.copied = copied
        self.digest = digest

    def __repr__(self) -> str:
        return f"Item({self.path!r}, {self.kind!r}, {self.mode:o}, {self.uid}:{self.gid})"


def file_sum(path: str | None, data: bytes | None) -> str:
    h = hashlib.sha256()
    if data is not None:
        h.update(data)
    elif path is not None:
        with open(path, "rb") as f:
            while chunk := f.read(_CHUNK):
                h.update(chunk)
    return h.hexdigest()


class SumCache:
    """Content sums of context files by (path, device, inode, size, mtime, ctime), so a rebuild
    does not read an unchanged file again (BuildKit keeps the same kind of record). Any write to
    a file changes its ctime, so a stale sum is never used. Kept in the data root
    (``build/sums.json``), a cache: deleting it only costs the next build a read."""

    def __init__(self, path: str | None) -> None:
        self.path = path
        self.entries: dict[str, list] = {}
        self.changed = False
        if path:
            try:
                import json

                with open(path, encoding="utf-8") as f:
                    loaded = json.load(f)
                if isinstance(loaded, dict):
                    self.entries = loaded
            except (OSError, ValueError):
                pass

    def sum(self, path: str) -> str:
        st = os.stat(path)
        key = [st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns]
        known = self.entries.get(path)
        if known is not None and known[:5] == key and len(known) == 6:
            return known[5]
        value = file_sum(path, None)
        # a file changed in this very instant might change again unseen: don't remember it
        if time.time_ns() - st.st_mtime_ns > 2_000_000_000:
            self.entries[path] = [*key, value]
            self.changed = True
        return value

    def save(self) -> None:
        if not (self.path and self.changed):
            return
        import json

        from ..store import atomic

        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        live = {p: v for p, v in self.entries.items() if os.path.exists(p)}
        atomic.write_text(self.path, json.dumps(live), durable=False)
        self.changed = False


def item_sum(item: Item, cache: SumCache | None = None) -> str:
    """One entry's checksum: what was copied, not when (no mtime) nor from where."""
    content = ""
    if item.kind == "file":
        if cache is not None and item.data is None and item.source is not None:
            content = cache.sum(item.source)
        else:
            content = file_sum(item.source, item.data)
    header = f"{item.kind}\0{item.sum_name}\0{item.mode:o}\0{item.uid}\0{item.gid}\0{item.linkname}\0{item.rdev}\0{content}"
    return hashlib.sha256(header.encode("utf-8", "surrogateescape")).hexdigest()


class CopyPlan:
    def __init__(self) -> None:
        self.items: list[Item] = []
        #: one (kind, [items]) per source: "file", "dir" or "archive" (ADD's extracted tar)
        self.sources: list[tuple[str, list[Item]]] = []

    def add_source(self, kind: str, items: list[Item]) -> None:
        self.sources.append((kind, items))
        self.items.extend(items)

    def checksum(self, cache: SumCache | None = None) -> tuple[str, dict[str, str]]:
        """docker's ``file:``/``dir:``/``multi:`` source hash, and each item's sum by path
        (for ``--explain-cache``)."""
        per_path: dict[str, str] = {}
        hashes = []
        for kind, items in self.sources:
            sums = []
            for item in items:
                item.digest = item.digest or item_sum(item, cache)
                per_path["/" + item.path] = item.digest
                sums.append(item.digest)
            if kind == "file" and len(items) == 1:
                hashes.append("file:" + items[0].digest)
            elif kind == "archive":  # docker names an extracted archive by the file it came from
                hashes.append("file:" + hashlib.sha256(",".join(sums).encode()).hexdigest())
            else:
                hashes.append("dir:" + hashlib.sha256(",".join(sorted(sums)).encode()).hexdigest())
        if len(hashes) == 1:
            return hashes[0], per_path
        return "multi:" + hashlib.sha256(",".join(hashes).encode()).hexdigest(), per_path


def _tar_info(item: Item, clamp: int | None) -> tarfile.TarInfo | None:
    import tarfile

    info = tarfile.TarInfo(item.path + ("/" if item.kind == "dir" else ""))
    info.mode = item.mode
    info.uid, info.gid = item.uid, item.gid
    info.uname = info.gname = ""
    info.mtime = min(item.mtime, clamp) if clamp is not None else item.mtime
    if item.kind == "file":
        info.type = tarfile.REGTYPE
        info.size = item.size
    elif item.kind == "dir":
        info.type = tarfile.DIRTYPE
    elif item.kind == "symlink":
        info.type, info.linkname = tarfile.SYMTYPE, item.linkname
    elif item.kind == "hardlink":
        info.type, info.linkname = tarfile.LNKTYPE, item.linkname
    elif item.kind in ("char", "block"):
        info.type = tarfile.CHRTYPE if item.kind == "char" else tarfile.BLKTYPE
        info.devmajor, info.devminor = os.major(item.rdev), os.minor(item.rdev)
    elif item.kind == "fifo":
        info.type = tarfile.FIFOTYPE
    else:
        return None
    return info


class TarReader(io.RawIOBase):
    """The layer tar of ``items`` (in the order to write), produced as it is read: headers
    from tarfile, file data read straight into the reader's buffer, Go's end (two zero
    blocks, no record padding). No thread and no pipe: the store's extractor pulls, and each
    byte is read from the context once, hashed once and written once."""

    def __init__(self, items: Iterable[Item], clamp: int | None) -> None:
        self._items = iter(items)
        self._clamp = clamp
        self._pending = memoryview(b"")
        self._file: BinaryIO | None = None
        self._left = 0  # data bytes still to come from the current file
        self._pad = 0
        self._done = False

    def readable(self) -> bool:
        return True

    def _next(self) -> bool:
        for item in self._items:
            data = item.data
            fileobj = None
            if item.kind == "file":
                if data is None:
                    assert item.source is not None
                    fileobj = open(item.source, "rb")  # noqa: SIM115 - closed when drained
                    item.size = os.fstat(fileobj.fileno()).st_size
                else:
                    item.size = len(data)
            info = _tar_info(item, self._clamp)
            if info is None:
                continue
            header = info.tobuf(_PAX_FORMAT, "utf-8", "surrogateescape")
            if data is not None and item.kind == "file":
                header += data
            self._pending = memoryview(header)
            self._file = fileobj
            self._left = item.size if fileobj is not None else 0
            self._pad = (-item.size) % 512 if item.kind == "file" else 0
            return True
        if not self._done:
            self._done = True
            self._pending = memoryview(bytes(1024))
            return True
        return False

    def readinto(self, buffer) -> int:
        view = memoryview(buffer).cast("B")
        while True:
            if self._pending:
                n = min(len(view), len(self._pending))
                view[:n] = self._pending[:n]
                self._pending = self._pending[n:]
                return n
            if self._file is not None and self._left:
                n = self._file.readinto(view[: min(len(view), self._left)])
                if not n:
                    raise OSError(f"{self._file.name}: file shrank while it was being copied")
                self._left -= n
                return n
            if self._file is not None:
                self._file.close()
                self._file = None
            if self._pad:
                self._pending, self._pad = memoryview(bytes(self._pad)), 0
                continue
            if not self._next():
                return 0

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        super().close()


def layer_stream(items: list[Item], clamp: int | None) -> BinaryIO:
    return io.BufferedReader(TarReader(items, clamp), _CHUNK)


def kind_of(st: os.stat_result) -> str | None:
    fmt = stat.S_IFMT(st.st_mode)
    return {
        stat.S_IFREG: "file",
        stat.S_IFDIR: "dir",
        stat.S_IFLNK: "symlink",
        stat.S_IFCHR: "char",
        stat.S_IFBLK: "block",
        stat.S_IFIFO: "fifo",
    }.get(fmt)
