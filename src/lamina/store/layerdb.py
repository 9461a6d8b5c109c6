"""layerdb: metadata of read-only layers, keyed by ChainID.

Each entry is a directory ``layerdb/sha256/<chain-id>/`` of small files (``diff``, ``parent``,
``size``, ``cache-id``, ``tar-split.json.gz``). An entry is assembled in ``layerdb/tmp/`` and
renamed into place in one step, so it either exists whole or not at all; the graph driver's
directory it names is always complete before the rename.
"""

from __future__ import annotations

import os

from ..digest import Digest
from ..errors import InvalidArgument, NotFound, StoreCorrupt
from ..value import Value
from . import atomic
from .paths import DataRoot, check_hex_id

TYPE_CHECKING = False  # annotations only: ``run`` reads image configs and layers, and pays for imports
if TYPE_CHECKING:
    from collections.abc import Callable

TAR_SPLIT = "tar-split.json.gz"


class LayerRecord(Value):
    __slots__ = ("chain_id", "diff_id", "parent", "size", "cache_id")
    chain_id: Digest
    diff_id: Digest
    parent: Digest | None
    size: int
    cache_id: str

    def __init__(self, chain_id: Digest, diff_id: Digest, parent: Digest | None, size: int, cache_id: str) -> None:
        self._init(chain_id=chain_id, diff_id=diff_id, parent=parent, size=size, cache_id=cache_id)


class LayerDB:
    def __init__(self, paths: DataRoot, on_change: Callable[[], None] | None = None) -> None:
        self.paths = paths
        #: called before a layer record appears or goes (the store drops its image catalog)
        self.on_change = on_change or (lambda: None)

    def get(self, chain_id: Digest) -> LayerRecord:
        path = self.paths.layer(chain_id)
        try:
            diff = atomic.read_text(os.path.join(path, "diff"))
            cache_id = atomic.read_text(os.path.join(path, "cache-id"))
            size = int(atomic.read_text(os.path.join(path, "size")) or 0)
        except FileNotFoundError:
            raise NotFound(f"No such layer: {chain_id}") from None
        except ValueError:
            raise StoreCorrupt(f"layer {chain_id} has an unreadable size file") from None
        try:
            parent_text = atomic.read_text(os.path.join(path, "parent"))
        except FileNotFoundError:
            parent_text = ""
        try:
            return LayerRecord(
                chain_id=chain_id,
                diff_id=Digest.parse(diff),
                parent=Digest.parse(parent_text) if parent_text else None,
                size=size,
                cache_id=check_hex_id(cache_id),
            )
        except InvalidArgument as exc:
            raise StoreCorrupt(f"layer {chain_id} metadata is corrupt: {exc}") from None

    def exists(self, chain_id: Digest) -> bool:
        return os.path.isfile(os.path.join(self.paths.layer(chain_id), "cache-id"))

    def list(self) -> list[LayerRecord]:
        out = []
        try:
            names = os.listdir(self.paths.layerdb())
        except FileNotFoundError:
            return out
        for name in names:
            if not Digest.is_valid(f"sha256:{name}"):
                continue
            try:
                out.append(self.get(Digest("sha256", name)))
            except (NotFound, StoreCorrupt):
                continue
        return out

    def tar_split_path(self, chain_id: Digest) -> str:
        return os.path.join(self.paths.layer(chain_id), TAR_SPLIT)

    def new_tmp_dir(self, cache_id: str) -> str:
        """Scratch dir for an entry; named by the cache-id that a lease lists as pending."""
        path = os.path.join(self.paths.layerdb_tmp(), f"write-set-{check_hex_id(cache_id)}")
        os.makedirs(path)
        return path

    def commit(self, tmp_dir: str, record: LayerRecord) -> bool:
        """Fill ``tmp_dir`` with ``record`` and rename it into place.

        Returns False when another process registered the same ChainID first; the caller
        then discards its own copy and uses the existing layer.
        """
        files = {
            "diff": str(record.diff_id),
            "size": str(record.size),
            "cache-id": record.cache_id,
        }
        if record.parent is not None:
            files["parent"] = str(record.parent)
        for name, value in files.items():
            atomic.write_text(os.path.join(tmp_dir, name), value, durable=False)
        _fsync_tree(tmp_dir)
        target = self.paths.layer(record.chain_id)
        self.on_change()
        try:
            os.rename(tmp_dir, target)
        except OSError as exc:
            if os.path.isdir(target):
                import shutil

                shutil.rmtree(tmp_dir, ignore_errors=True)
                return False
            raise StoreCorrupt(f"cannot register layer {record.chain_id}: {exc.strerror}") from None
        atomic.fsync_dir(self.paths.layerdb())
        return True

    def remove(self, chain_id: Digest) -> None:
        """Unregister: rename out of the namespace first, then delete at leisure."""
        path = self.paths.layer(chain_id)
        doomed = os.path.join(self.paths.layerdb_tmp(), f"remove-{chain_id.hex}-{os.urandom(4).hex()}")
        self.on_change()
        try:
            os.rename(path, doomed)
        except FileNotFoundError:
            return
        import shutil

        shutil.rmtree(doomed, ignore_errors=True)


def _fsync_tree(directory: str) -> None:
    for name in os.listdir(directory):
        fd = os.open(os.path.join(directory, name), os.O_RDONLY | os.O_CLOEXEC)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    atomic.fsync_dir(directory)
