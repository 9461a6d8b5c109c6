"""The Store: one data root's image configs, layers, tags and graph driver, kept consistent.

Invariants, each kept by the order of writes, so a process killed anywhere leaves only
garbage that ``check()`` can find, never a half-valid store:

* a layerdb entry exists only once its driver directory is complete (extract, then rename
  the entry into place);
* an image config exists only once every layer of its chain is registered (layers first,
  config after, under the store lock);
* a tag points only at a stored config (config first, tag after);
* deletion runs the other way: tags, then the config, then layers no one else uses;
* the image catalog (``catalog``), a cache of what ``images`` and ``inspect`` show, is taken
  out of use before any of the above changes and written again only under the lock.
"""

from __future__ import annotations

import _thread  # threading's RLock and local are these; the module costs a millisecond more
import errno
import os
import stat

from ..digest import Digest
from ..errors import DigestMismatch, InvalidArgument, LaminaError, NotFound, StoreCorrupt
from ..graphdriver.base import DriverChoice, make_driver, select_driver
from ..oci import chain_ids
from ..value import Value
from . import catalog as catalogs
from . import lease as leases
from .blobs import BlobStore
from .imagedb import ImageDB
from .layerdb import TAR_SPLIT, LayerDB, LayerRecord
from .lock import store_lock
from .paths import DataRoot
from .repositories import Repositories

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only (typing costs start-up time: lamina.value says why)
    from collections.abc import Callable
    from typing import BinaryIO

    from ..archive.compression import Limits
    from ..archive.fileindex import FileIndex
    from ..graphdriver.interface import GraphDriver
    from ..oci import ImageConfig

    #: builds a catalog from the store, reusing what it can of the previous one (``ImageService``)
    CatalogBuilder = Callable[[catalogs.Catalog | None], catalogs.Catalog]


def next_chain_id(parent: Digest | None, diff_id: Digest) -> Digest:
    return chain_ids([parent, diff_id])[1] if parent else diff_id


def tree_size(path: str) -> int:
    """Bytes of a directory tree as docker's ``directory.Size`` counts them: st_size of every
    non-directory entry, hard links once."""
    total = 0
    seen: set[tuple[int, int]] = set()
    stack = [path]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    st = entry.stat(follow_symlinks=False)
                    if entry.is_dir(follow_symlinks=False):
                        stack.append(entry.path)
                        continue
                    if st.st_nlink > 1:
                        key = (st.st_dev, st.st_ino)
                        if key in seen:
                            continue
                        seen.add(key)
                    total += st.st_size
        except FileNotFoundError:
            continue
    return total


class ContainerUse(Value):
    """A container's claim on an image (read from ``containers/<id>/config.v2.json``)."""

    __slots__ = ("container_id", "image_id", "running")
    container_id: str
    image_id: Digest
    running: bool

    def __init__(self, container_id: str, image_id: Digest, running: bool) -> None:
        self._init(container_id=container_id, image_id=image_id, running=running)


class Store:
    def __init__(self, root: str, driver: str | None = None, limits: Limits | None = None) -> None:
        self.root = os.path.abspath(root)
        os.makedirs(self.root, mode=0o710, exist_ok=True)
        self.driver_choice: DriverChoice = select_driver(self.root, driver)
        self.paths = DataRoot(self.root, self.driver_choice.name)
        for directory in self.paths.skeleton():
            os.makedirs(directory, exist_ok=True)
        self.driver: GraphDriver = make_driver(self.root, self.driver_choice.name)
        self.images = ImageDB(self.paths, self.invalidate_catalog)
        self.layers = LayerDB(self.paths, self.invalidate_catalog)
        self.repositories = Repositories(self.paths.repositories_json(), self.invalidate_catalog)
        self.blobs = BlobStore(self.paths)
        self._limits = limits
        # the flock is per process; threads of this process queue on the RLock first
        self._thread_lock = _thread.RLock()
        self._lock_depth = 0
        self._changes = _thread._local()
        self._catalog_dirty = False

    @property
    def limits(self) -> Limits:
        """The decompression-bomb limits for layers this store extracts."""
        if self._limits is None:
            from ..archive.compression import Limits  # only commands that extract need it

            self._limits = Limits()
        return self._limits

    def lock(self) -> _Locked:
        """The store lock; re-entrant within a thread (a transaction may call helpers that take
        it too: flock on a second descriptor would wait for ourselves)."""
        return _Locked(self)

    # the image catalog -------------------------------------------------------------------
    def invalidate_catalog(self) -> None:
        catalogs.invalidate(self.paths.image_dir)
        self._catalog_dirty = True

    def catalog(self, build: CatalogBuilder) -> catalogs.Catalog:
        """The current catalog: read, or (under the lock) built with ``build`` and written.

        ``build`` gets the previous catalog, whose unchanged entries it may reuse.
        """
        current = catalogs.read(self.root, self.paths.image_dir)
        if current is not None:
            return current
        try:
            with self.lock():
                current = catalogs.read(self.root, self.paths.image_dir)
                if current is not None:
                    return current
                sig = catalogs.signature(self.root, self.paths.image_dir)
                built = build(catalogs.read_previous(self.root, self.paths.image_dir))
                catalogs.write(self.root, self.paths.image_dir, built, sig)
                self._catalog_dirty = False
                return built
        except OSError as exc:
            if exc.errno not in (errno.EACCES, errno.EPERM, errno.EROFS):
                raise
            return build(None)  # a read-only data root: answer from the store, cache nothing

    def changes(self, build: CatalogBuilder) -> _Changes:
        """One command's changes: when the outermost block ends, if the store changed, write
        the new catalog now, so the next ``images`` or ``inspect`` reads it in milliseconds
        instead of paying for the rebuild (and for the full CLI's start-up)."""
        return _Changes(self, build)

    def lease(self) -> leases.Lease:
        return leases.Lease(self.paths.leases())

    # layers ------------------------------------------------------------------------------
    def pin_existing(self, lease: leases.Lease, chain_id: Digest) -> LayerRecord | None:
        """Pin ``chain_id`` for this lease and return it if it is already stored."""
        with self.lock():
            lease.pin(chain_id.hex)
            if self.layers.exists(chain_id):
                return self.layers.get(chain_id)
        return None

    def create_layer(
        self,
        lease: leases.Lease,
        parent: LayerRecord | None,
        tar_stream: BinaryIO,
        expected_diff_id: Digest | None = None,
        compression: str | None = "none",
    ) -> LayerRecord:
        """Extract a layer tar on top of ``parent`` and register it.

        ``tar_stream`` is compressed as ``compression`` says (None: detect it); it is read,
        decompressed and hashed in one pass while it is extracted (``archive.pipeline``), and
        the layer's file index is built from the headers on the way.

        The driver directory is listed as pending in the lease while it fills, so a concurrent
        ``system check`` leaves it alone; if this process dies, the next check removes it.
        """
        from ..archive.apply import apply_layer
        from ..archive.fileindex import IndexBuilder

        cache_id = os.urandom(32).hex()
        lease.add_pending(cache_id)
        tmp = self.layers.new_tmp_dir(cache_id)
        try:
            diff_dir = self.driver.create(cache_id, parent.cache_id if parent else None)
            entries = IndexBuilder()
            with open(os.path.join(tmp, TAR_SPLIT), "wb") as split:
                applied = apply_layer(
                    tar_stream, diff_dir, whiteouts=self.driver.whiteouts, limits=self.limits,
                    record=split, compression=compression, index=entries,
                )
            if expected_diff_id is not None and applied.diff_id != expected_diff_id:
                raise DigestMismatch(
                    f"layer content does not match its DiffID: expected {expected_diff_id}, "
                    f"got {applied.diff_id}"
                )
            if self.driver.whiteouts != "overlay":
                size = applied.size
            else:  # from the headers; walking the directory only when they cannot tell
                known = entries.disk_size()
                size = known if known is not None else tree_size(diff_dir)
            index = entries.build(str(applied.diff_id))
            return self._register_layer(lease, parent, cache_id, tmp, applied.diff_id, size, index)
        except BaseException:
            self._discard(cache_id, tmp)
            raise
        finally:
            lease.drop_pending(cache_id)

    def adopt_layer(self, lease: leases.Lease, parent: LayerRecord | None, directory: str) -> LayerRecord:
        """Register the overlay upper directory ``directory`` as a layer on ``parent`` by
        moving it into the new layer's ``diff`` (``archive.adopt``: the tar is produced only to
        hash it and record its tar-split). For a build step's container, removed right after:
        its files are not written twice. overlay2 only (``driver.whiteouts == "overlay"``);
        ``directory`` must be on the driver's file system. On failure it is moved back.
        """
        from ..archive.adopt import adopt_upper

        cache_id = os.urandom(32).hex()
        lease.add_pending(cache_id)
        tmp = self.layers.new_tmp_dir(cache_id)
        diff_dir = ""
        try:
            diff_dir = self.driver.create(cache_id, parent.cache_id if parent else None)
            fresh = os.stat(diff_dir)
            os.rmdir(diff_dir)
            try:
                os.rename(directory, diff_dir)
            except BaseException:
                os.mkdir(diff_dir)  # _discard removes the driver directory whole
                diff_dir = ""
                raise
            # the layer's root as the driver makes it (the tar has no entry for it)
            os.chown(diff_dir, fresh.st_uid, fresh.st_gid)
            os.chmod(diff_dir, stat.S_IMODE(fresh.st_mode))
            with open(os.path.join(tmp, TAR_SPLIT), "wb") as split:
                diff_id, _ = adopt_upper(diff_dir, split)
            return self._register_layer(lease, parent, cache_id, tmp, diff_id, tree_size(diff_dir))
        except BaseException:
            if diff_dir:
                try:
                    os.rename(diff_dir, directory)
                except OSError:
                    pass
            self._discard(cache_id, tmp)
            raise
        finally:
            lease.drop_pending(cache_id)

    def _register_layer(
        self, lease: leases.Lease, parent: LayerRecord | None, cache_id: str, tmp: str, diff_id: Digest, size: int,
        index: FileIndex | None = None,
    ) -> LayerRecord:
        """The layerdb entry of a filled driver directory, renamed into place under the lock;
        the layer already stored if another writer registered the same ChainID first.
        ``index`` is the layer's file index when its extraction built it (else it is built
        from the tar-split in the entry)."""
        from .fileindexes import index_new_layer, keep_new_index

        if index is not None:  # in the entry before it is renamed in
            keep_new_index(tmp, index)
        else:
            index_new_layer(tmp, str(diff_id))
        chain = next_chain_id(parent.chain_id if parent else None, diff_id)
        record = LayerRecord(chain, diff_id, parent.chain_id if parent else None, size, cache_id)
        with self.lock():
            lease.pin(chain.hex)
            if self.layers.exists(chain) or not self.layers.commit(tmp, record):
                self._discard(cache_id, tmp)
                return self.layers.get(chain)
        return record

    def _discard(self, cache_id: str, tmp: str) -> None:
        self.driver.remove(cache_id)
        import shutil

        shutil.rmtree(tmp, ignore_errors=True)

    def layer_chain(self, image_diff_ids: list[Digest]) -> list[LayerRecord]:
        return [self.layers.get(c) for c in chain_ids(image_diff_ids)]

    # images ------------------------------------------------------------------------------
    def register_image(self, config_raw: bytes, parent: Digest | None = None) -> Digest:
        """Store an image config whose layers are all registered (checked under the lock)."""
        from ..oci import ImageConfig

        config = ImageConfig.parse(config_raw)
        with self.lock():
            for chain in chain_ids(list(config.diff_ids)):
                if not self.layers.exists(chain):
                    raise StoreCorrupt(f"cannot register image: layer {chain} is not stored")
            image_id = self.images.put(config_raw)
            if parent is not None and self.images.exists(parent):
                self.images.set_parent(image_id, parent)
            self.images.touch(image_id)
        return image_id

    def image_size(
        self, image_id: Digest, cache: dict[Digest, int] | None = None, config: ImageConfig | None = None
    ) -> int:
        """Bytes of the image's layers (docker's Size); ``cache`` shares layer sizes across
        calls and ``config`` saves reading the image config again."""
        config = config or self.images.get(image_id)
        total = 0
        for chain in chain_ids(list(config.diff_ids)):
            if cache is not None and chain in cache:
                total += cache[chain]
                continue
            try:
                size = self.layers.get(chain).size
            except NotFound:
                size = 0
            if cache is not None:
                cache[chain] = size
            total += size
        return total

    def container_uses(self) -> list[ContainerUse]:
        """Containers and the image each was created from (running or not)."""
        from .. import jsonc

        out = []
        try:
            names = os.listdir(self.paths.containers())
        except FileNotFoundError:
            return out
        for name in names:
            path = os.path.join(self.paths.containers(), name, "config.v2.json")
            try:
                with open(path, "rb") as f:
                    doc = jsonc.loads(f.read())
                image = Digest.parse(doc.get("Image", ""))
            except (OSError, ValueError, Exception):
                continue
            running = bool((doc.get("State") or {}).get("Running"))
            out.append(ContainerUse(name, image, running))
        return out

    def delete_image_data(self, image_id: Digest) -> list[Digest]:
        """Remove an image config and the layers only it used; return deleted layer ChainIDs.

        Caller holds the lock and has removed the image's references.
        """
        config = self.images.get(image_id)
        self.images.delete(image_id)
        in_use: set[Digest] = set()
        for other in self.images.ids():
            try:
                in_use.update(chain_ids(list(self.images.get(other).diff_ids)))
            except (NotFound, StoreCorrupt, InvalidArgument):
                continue
        in_use.update(self.pinned_layers())
        deleted = []
        for chain in reversed(chain_ids(list(config.diff_ids))):
            if chain in in_use:
                break  # everything below is shared too
            try:
                record = self.layers.get(chain)
            except NotFound:
                continue
            self.layers.remove(chain)
            self.driver.remove(record.cache_id)
            deleted.append(chain)
        if deleted and self.blobs.any():
            self.blobs.forget_unused(self.live_diff_ids())
        return deleted

    def live_diff_ids(self) -> set[Digest]:
        """The DiffIDs of the stored layers: what kept blobs may belong to."""
        return {r.diff_id for r in self.layers.list()}

    def pinned_layers(self) -> set[Digest]:
        """Layers no deletion may take: pinned by a live lease or under a container's mount."""
        pinned = {Digest("sha256", h) for h in leases.live_pins(self.paths.leases())}
        return pinned | self._mount_parents()

    def _mount_parents(self) -> set[Digest]:
        out: set[Digest] = set()
        base = self.paths.layerdb_mounts()
        try:
            names = os.listdir(base)
        except FileNotFoundError:
            return out
        for name in names:
            try:
                with open(os.path.join(base, name, "parent")) as f:
                    out.add(Digest.parse(f.read().strip()))
            except (OSError, Exception):
                continue
        return out


# The two context managers of ``Store`` as classes, not ``contextlib`` generators: contextlib
# (with ``collections`` and ``functools``) costs every command that builds a Store start-up time.
class _Locked:
    """``with store.lock():`` the thread lock, then (outermost only) the store's flock."""

    __slots__ = ("store", "flock")

    def __init__(self, store: Store) -> None:
        self.store = store
        self.flock: store_lock | None = None

    def __enter__(self) -> None:
        store = self.store
        store._thread_lock.acquire()
        try:
            if not store._lock_depth:
                flock = store_lock(store.paths.lock_file())
                flock.__enter__()
                self.flock = flock
        except BaseException:
            store._thread_lock.release()
            raise
        store._lock_depth += 1

    def __exit__(self, *exc) -> None:
        store = self.store
        store._lock_depth -= 1
        try:
            if self.flock is not None:
                self.flock.__exit__(None, None, None)
                self.flock = None
        finally:
            store._thread_lock.release()


class _Changes:
    """``with store.changes(build):`` when the outermost block of this thread ends and the store
    changed, the catalog is written again (a failure there is left to the next reader)."""

    __slots__ = ("store", "build", "depth")

    def __init__(self, store: Store, build: CatalogBuilder) -> None:
        self.store = store
        self.build = build
        self.depth = 0

    def __enter__(self) -> None:
        changes = self.store._changes
        self.depth = getattr(changes, "depth", 0)
        changes.depth = self.depth + 1

    def __exit__(self, *exc) -> None:
        store = self.store
        store._changes.depth = self.depth
        if not self.depth and store._catalog_dirty:
            try:
                store.catalog(self.build)
            except (LaminaError, OSError):
                pass  # left to the next reader, which rebuilds and reports what it finds
