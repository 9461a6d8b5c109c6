"""Each stored layer's file index (``archive.fileindex``), kept in its layerdb entry.

``image/<driver>/layerdb/sha256/<chain-id>/lamina-files`` sits beside docker's ``diff``,
``cache-id`` and ``tar-split.json.gz`` (dockerd reads only the names it knows and removes the
whole directory with the layer). It holds what the layer tar's headers say, so it needs
neither the tar nor the layer's files, and the tar-split (the record of every header) can
always rebuild it. It is written:

* when a layer is stored, in its scratch entry before the entry is renamed into place
  (``Store.create_layer``, ``adopt_layer``), so a registered layer has its index from the
  first moment: built from the headers as extraction parses them (``apply_layer``'s
  ``index``; the record is not read back for it), or from the tar-split just written;
* on first use for a layer stored before (by an older lamina, or by dockerd), written to a
  temporary name and renamed in under the store lock, only while the layer is still there.

The index is a cache of the tar-split: a missing one is built, a damaged one (its checksum
fails, or it describes another DiffID) is rebuilt, and ``system check`` reports and repairs
both kinds, and the temporary files a killed writer leaves. Building from a layer without a
tar-split falls back to walking its diff directory (overlay2 only: whiteouts are 0:0 character
devices there and opaque directories carry ``trusted.overlay.opaque``).
"""

from __future__ import annotations

import errno
import os
import stat
from typing import TYPE_CHECKING

from ..archive.fileindex import FileIndex, IndexBuilder
from ..archive.tarentries import SplitSource, TarEntry, scan
from ..errors import LaminaError, NotFound, StoreCorrupt
from . import atomic
from .layerdb import TAR_SPLIT, LayerRecord

if TYPE_CHECKING:
    from .store import Store

FILE_INDEX = "lamina-files"


def build_from_split(split_path: str, diff_id: str) -> FileIndex:
    with open(split_path, "rb") as f:
        source = SplitSource(f)
        try:
            return IndexBuilder().add_all(scan(source, verify=False)).build(diff_id)
        finally:
            source.close()


def write_into(entry_dir: str, diff_id: str, durable: bool = False) -> FileIndex:
    """Build the index of the layer whose scratch (or registered) entry is ``entry_dir``
    from its tar-split, and write it there atomically."""
    index = build_from_split(os.path.join(entry_dir, TAR_SPLIT), diff_id)
    atomic.write_file(os.path.join(entry_dir, FILE_INDEX), index.encode(), durable=durable)
    return index


def index_new_layer(entry_dir: str, diff_id: str) -> None:
    """At registration: index the layer in its scratch entry (fsynced with it by the commit).
    A record this cannot read is the tar-split's problem, not the layer's: the layer is still
    stored, and its index is built (or the failure reported) when first asked for."""
    try:
        write_into(entry_dir, diff_id)
    except LaminaError:
        pass


def keep_new_index(entry_dir: str, index: FileIndex) -> None:
    """At registration: write the index that extraction built into the layer's scratch entry
    (fsynced with it by the commit)."""
    atomic.write_file(os.path.join(entry_dir, FILE_INDEX), index.encode(), durable=False)


def read(entry_dir: str, diff_id: str) -> FileIndex | None:
    """The stored index if it is intact and describes ``diff_id``; None if missing."""
    try:
        with open(os.path.join(entry_dir, FILE_INDEX), "rb") as f:
            data = f.read()
    except FileNotFoundError:
        return None
    index = FileIndex.decode(data)
    if index.diff_id != diff_id:
        raise StoreCorrupt(f"file index describes {index.diff_id}, not the layer's {diff_id}")
    return index


def load(store: Store, record: LayerRecord) -> FileIndex:
    """The layer's index: read, or built now (and kept, when the data root is writable)."""
    entry = store.paths.layer(record.chain_id)
    diff_id = str(record.diff_id)
    try:
        index = read(entry, diff_id)
    except StoreCorrupt:
        index = None
    if index is not None:
        return index
    index = build(store, record)
    try:
        with store.lock():
            if store.layers.exists(record.chain_id):
                atomic.write_file(os.path.join(entry, FILE_INDEX), index.encode(), durable=False)
    except OSError as exc:
        if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS, errno.ENOENT):
            raise
    return index


def build(store: Store, record: LayerRecord) -> FileIndex:
    """An index for a stored layer from its tar-split, else from its diff directory."""
    split = store.layers.tar_split_path(record.chain_id)
    if os.path.exists(split):
        return build_from_split(split, str(record.diff_id))
    if store.driver.name != "overlay2":
        raise NotFound(f"layer {record.chain_id} has no tar-split to index")
    diff_dir = store.driver.diff_dir(record.cache_id)
    if not os.path.isdir(diff_dir):
        raise StoreCorrupt(f"layer {record.chain_id} has neither a tar-split nor a diff directory")
    return IndexBuilder().add_all(walk_overlay_diff(diff_dir)).build(str(record.diff_id))


def walk_overlay_diff(diff_dir: str):
    """Tar entries for an overlay2 diff dir, whiteouts spelled the AUFS way (as docker's
    layer export writes them)."""
    stack = [""]
    while stack:
        rel = stack.pop()
        with os.scandir(os.path.join(diff_dir, rel) if rel else diff_dir) as it:
            for dent in it:
                path = f"{rel}/{dent.name}" if rel else dent.name
                st = dent.stat(follow_symlinks=False)
                mode, mtime = st.st_mode, int(st.st_mtime)
                if stat.S_ISCHR(mode) and st.st_rdev == 0:
                    head = f"{rel}/" if rel else ""
                    yield TarEntry(f"{head}.wh.{dent.name}", "0", 0, st.st_uid, st.st_gid, 0, mtime, "")
                    continue
                kind, size, link = _kind_of(mode), 0, ""
                if kind == "0":
                    size = st.st_size
                elif kind == "2":
                    link = os.readlink(dent.path)
                yield TarEntry(path, kind, stat.S_IMODE(mode), st.st_uid, st.st_gid, size, mtime, link)
                if kind == "5":
                    if _is_opaque(dent.path):
                        yield TarEntry(f"{path}/.wh..wh..opq", "0", 0, 0, 0, 0, mtime, "")
                    stack.append(path)


def _kind_of(mode: int) -> str:
    for test, kind in ((stat.S_ISDIR, "5"), (stat.S_ISLNK, "2"), (stat.S_ISCHR, "3"),
                       (stat.S_ISBLK, "4"), (stat.S_ISFIFO, "6")):
        if test(mode):
            return kind
    return "0"


def _is_opaque(path: str) -> bool:
    try:
        return os.getxattr(path, "trusted.overlay.opaque", follow_symlinks=False) == b"y"
    except OSError:
        return False


def problem(store: Store, record: LayerRecord) -> str | None:
    """What is wrong with the layer's stored index (None: intact, or not built yet)."""
    try:
        read(store.paths.layer(record.chain_id), str(record.diff_id))
    except StoreCorrupt as exc:
        return str(exc)
    except OSError as exc:
        return exc.strerror or str(exc)
    return None


def repair(store: Store, record: LayerRecord) -> None:
    """Rebuild a damaged index (caller holds the store lock)."""
    entry = store.paths.layer(record.chain_id)
    atomic.unlink_quietly(os.path.join(entry, FILE_INDEX))
    try:
        index = build(store, record)
    except LaminaError:
        return  # nothing to build from: the damaged file is gone, the error shows on use
    atomic.write_file(os.path.join(entry, FILE_INDEX), index.encode(), durable=True)
