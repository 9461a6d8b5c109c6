"""Containers on the data root, in docker's layout:

    containers/<id>/config.v2.json, hostconfig.json     the container (docker's JSON)
    containers/<id>/hostname, hosts, resolv.conf        written at each start, bind-mounted in
    containers/<id>/<id>-json.log                       json-file log (the monitor writes it)
    image/<driver>/layerdb/mounts/<id>/{init-id,mount-id,parent}
    <driver>/<mount-id>-init/diff                        the init layer: /etc/hosts, /etc/hostname,
                                                         /etc/resolv.conf, /etc/mtab, /dev skeleton,
                                                         /.dockerenv (docker's initlayer)
    <driver>/<mount-id>/diff                             the container's writable layer (upper dir);
                                                         merged/ is mounted while it runs

Crash rules (any process may be killed at any instruction):

* create builds the layers, then the ``mounts/<id>`` entry, then the container directory, each
  step appearing whole (temp dir + rename). The container exists, and its name is taken, only
  once ``containers/<id>`` is in place. Until then a live lease lists the IDs as pending; a dead
  creator's leftovers are "container layer without container" to ``system check``.
* remove runs the other way: the container directory is renamed out of the namespace first
  (the name is free from that instant), then the mounts entry and the layers go.
* names are unique: the check and the rename that publishes a container happen under the store
  lock, and every name is read from the config files themselves (no second index to go stale).
"""

from __future__ import annotations

import os

from .. import jsonc
from ..errors import Conflict, InvalidArgument, NotFound, StoreCorrupt
from ..store import atomic
from ..store.paths import check_hex_id
from .model import Container

# ``ps``, ``logs`` and the lifecycle commands read containers on the lean path (cli/lean): what
# only create, rename or remove need (secrets, shutil, the name generator) is imported there
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only (typing costs start-up time: lamina.value says why)
    from typing import Any

    from ..digest import Digest
    from ..mount import Mount
    from ..store.store import Store

CONFIG = "config.v2.json"
HOST_CONFIG = "hostconfig.json"

#: the init layer's content: path → kind ("dir", "file", or a symlink target), as docker's initlayer
INIT_LAYER = (
    ("dev", "dir"),
    ("dev/pts", "dir"),
    ("dev/shm", "dir"),
    ("dev/console", "file"),
    ("etc", "dir"),
    ("etc/hosts", "file"),
    ("etc/hostname", "file"),
    ("etc/resolv.conf", "file"),
    ("etc/mtab", "/proc/mounts"),
    (".dockerenv", "file"),
)


def exec_root(data_root: str) -> str:
    """Runtime state of one data root (runc's state, bundles, monitor locks): on /run, a tmpfs,
    so a reboot clears it as it clears the processes it describes."""
    tag = _sha256(os.path.abspath(data_root).encode()).hexdigest()[:12]
    return os.path.join(os.environ.get("LAMINA_EXEC_ROOT", "/run/lamina"), tag)


def _sha256(data: bytes):
    """CPython's built-in SHA-256 (``_sha256``; ``_sha2`` from 3.12): ``hashlib`` loads OpenSSL,
    ~5 ms of a ``ps`` that lists a running container."""
    try:
        from _sha256 import sha256
    except ImportError:
        try:
            from _sha2 import sha256
        except ImportError:
            from hashlib import sha256
    return sha256(data)


class ContainerStore:
    def __init__(self, store: Store) -> None:
        self.store = store
        self.paths = store.paths
        self._exec_root = ""

    @property
    def exec_root(self) -> str:
        if not self._exec_root:
            self._exec_root = exec_root(self.store.root)
        return self._exec_root

    # reading -----------------------------------------------------------------------------
    def ids(self) -> list[str]:
        try:
            names = os.listdir(self.paths.containers())
        except FileNotFoundError:
            return []
        return [n for n in names if len(n) == 64 and all(c in "0123456789abcdef" for c in n)]

    def exists(self, container_id: str) -> bool:
        return os.path.isfile(os.path.join(self.paths.container(container_id), CONFIG))

    def load(self, container_id: str) -> Container:
        directory = self.paths.container(container_id)
        try:
            with open(os.path.join(directory, CONFIG), "rb") as f:
                doc = jsonc.loads(f.read())
        except FileNotFoundError:
            raise NotFound(f"No such container: {container_id}") from None
        except ValueError as exc:
            raise StoreCorrupt(f"container {container_id}: {CONFIG} is not JSON: {exc}") from None
        try:
            with open(os.path.join(directory, HOST_CONFIG), "rb") as f:
                host = jsonc.loads(f.read())
        except (FileNotFoundError, ValueError):
            host = {}
        return Container.from_json(doc, host)

    def list(self) -> list[Container]:
        out = []
        for container_id in self.ids():
            try:
                out.append(self.load(container_id))
            except (NotFound, StoreCorrupt):
                continue  # removed meanwhile, or half-written by something else
        return out

    def resolve(self, ref: str) -> Container:
        """By full ID, then exact name, then unique ID prefix (docker's order)."""
        if not ref:
            raise NotFound("No such container: ")
        if len(ref) == 64 and self._is_hex(ref) and self.exists(ref):
            return self.load(ref)
        from .names import is_name

        name = ref[1:] if ref.startswith("/") else ref
        if not is_name(name) and not self._is_hex(ref):
            raise NotFound(f"No such container: {ref}")  # ``team/app:1``: no container is called so
        containers = self.list()
        for container in containers:
            if container.bare_name == name:
                return container
        if self._is_hex(ref):
            matches = [c for c in containers if c.id.startswith(ref)]
            if len(matches) == 1:
                return matches[0]
            if len(matches) > 1:
                raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        raise NotFound(f"No such container: {ref}")

    @staticmethod
    def _is_hex(text: str) -> bool:
        return bool(text) and all(c in "0123456789abcdef" for c in text)

    # writing -----------------------------------------------------------------------------
    def save(self, container: Container, host_config: bool = False) -> None:
        """Replace config.v2.json (and hostconfig.json) atomically. Callers that read, change and
        write hold ``locked(id)`` so two writers never lose each other's change."""
        directory = self.paths.container(container.id)
        atomic.write_file(os.path.join(directory, CONFIG), container.config_bytes(), mode=0o600, durable=False)
        if host_config:
            atomic.write_file(os.path.join(directory, HOST_CONFIG), container.host_config_bytes(), durable=False)

    def locked(self, container_id: str) -> ContainerLock:
        """The container's own lock (its config's read-change-write; start/stop/remove)."""
        return ContainerLock(os.path.join(self.exec_root, f"{check_hex_id(container_id)}.lock"))

    def update(self, container_id: str, change, host_config: bool = False) -> Container:
        """Load, apply ``change(container)``, save (hostconfig.json too if ``host_config``
        says the change touches it): under the container's lock."""
        with self.locked(container_id):
            container = self.load(container_id)
            change(container)
            self.save(container, host_config=host_config)
            return container

    # names -------------------------------------------------------------------------------
    def names_in_use(self, skip: str = "") -> dict[str, str]:
        return {c.bare_name: c.id for c in self.list() if c.id != skip}

    def _claim_name(self, wanted: str | None, container_id: str) -> str:
        """Caller holds the store lock."""
        from .names import check_name, generate_name

        used = self.names_in_use()
        if wanted:
            name = check_name(wanted)
            if name in used:
                raise Conflict(
                    f'Conflict. The container name "/{name}" is already in use by container '
                    f'"{used[name]}". You have to remove (or rename) that container to be able to reuse that name.'
                )
            return name
        for retry in range(10):
            name = generate_name(retry)
            if name not in used:
                return name
        return f"lamina_{container_id[:12]}"

    def rename(self, ref: str, new_name: str) -> Container:
        from .names import check_name

        new = check_name(new_name)
        container = self.resolve(ref)
        with self.store.lock(), self.locked(container.id):
            used = self.names_in_use(skip=container.id)
            if new in used:
                raise Conflict(
                    f'Error when allocating new name: Conflict. The container name "/{new}" is already in use '
                    f'by container "{used[new]}". You have to remove (or rename) that container to be able to reuse that name.'
                )
            container = self.load(container.id)
            if container.bare_name == new:
                raise InvalidArgument("Renaming a container with the same name as its current name")
            container.name = "/" + new
            self.save(container)
        return container

    # create ------------------------------------------------------------------------------
    def create(self, config: dict[str, Any], host_config: dict[str, Any], image_id: Digest,
               top_layer: Digest | None, name: str | None, path: str, args: list[str],
               mount_points: dict[str, Any] | None = None) -> Container:
        """Make the init and mount layers and publish the container (see the module's crash rules)."""
        from .model import default_network_settings, rfc3339nano

        container_id = os.urandom(32).hex()  # secrets.token_hex(32), without its imports
        mount_id = os.urandom(32).hex()
        init_id = f"{mount_id}-init"
        driver = self.store.driver
        if not config.get("Hostname"):
            config["Hostname"] = container_id[:12]
        with self.store.lease() as lease:
            for pending in (container_id, mount_id, init_id):
                lease.add_pending(pending)
            parent_cache = None
            if top_layer is not None:
                record = self.store.pin_existing(lease, top_layer)
                if record is None:
                    raise StoreCorrupt(f"image {image_id} has no layer {top_layer}")
                parent_cache = record.cache_id
            try:
                init_diff = driver.create(init_id, parent_cache)
                _fill_init_layer(init_diff)
                with open(os.path.join(os.path.dirname(init_diff), "committed"), "w"):
                    pass
                driver.create(mount_id, init_id)
                self._write_mount_entry(container_id, mount_id, init_id, top_layer)
                container = Container(
                    id=container_id,
                    created=rfc3339nano(),
                    path=path,
                    args=args,
                    config=config,
                    image=str(image_id),
                    name="",
                    driver=driver.name,
                    host_config=host_config,
                    network_settings=default_network_settings(host_config.get("NetworkMode") or "none"),
                    mount_points=mount_points or {},
                )
                self._publish(container, name)
            except BaseException:
                self._discard_layers(container_id, mount_id, init_id)
                raise
        return container

    def _write_mount_entry(self, container_id: str, mount_id: str, init_id: str, parent: Digest | None) -> None:
        tmp = os.path.join(self.paths.layerdb_tmp(), f"mount-{container_id}")
        os.makedirs(tmp, exist_ok=True)
        files = {"init-id": init_id, "mount-id": mount_id}
        if parent is not None:
            files["parent"] = str(parent)
        for fname, value in files.items():
            with open(os.path.join(tmp, fname), "w") as f:
                f.write(value)
        os.rename(tmp, self.paths.container_mount(container_id))

    def _publish(self, container: Container, wanted_name: str | None) -> None:
        tmp = os.path.join(self.paths.containers(), f".tmp-create-{container.id}")
        os.makedirs(os.path.join(tmp, "checkpoints"), mode=0o700)
        os.chmod(tmp, 0o710)
        try:
            with self.store.lock():
                container.name = "/" + self._claim_name(wanted_name, container.id)
                with open(os.path.join(tmp, CONFIG), "wb") as f:
                    f.write(container.config_bytes())
                os.chmod(os.path.join(tmp, CONFIG), 0o600)
                with open(os.path.join(tmp, HOST_CONFIG), "wb") as f:
                    f.write(container.host_config_bytes())
                os.rename(tmp, self.paths.container(container.id))
        except BaseException:
            import shutil

            shutil.rmtree(tmp, ignore_errors=True)
            raise

    def _discard_layers(self, container_id: str, mount_id: str, init_id: str) -> None:
        import shutil

        shutil.rmtree(os.path.join(self.paths.layerdb_tmp(), f"mount-{container_id}"), ignore_errors=True)
        shutil.rmtree(self.paths.container_mount(container_id), ignore_errors=True)
        for cache_id in (mount_id, init_id):
            self.store.driver.remove(cache_id)

    # layers ------------------------------------------------------------------------------
    def layer_ids(self, container_id: str) -> tuple[str, str]:
        """(mount-id, init-id) from layerdb/mounts/<id>."""
        base = self.paths.container_mount(container_id)
        try:
            mount_id = atomic.read_text(os.path.join(base, "mount-id"))
            init_id = atomic.read_text(os.path.join(base, "init-id"))
        except FileNotFoundError:
            raise StoreCorrupt(f"container {container_id} has no layer record (layerdb/mounts)") from None
        return mount_id, init_id

    def rootfs(self, container_id: str) -> tuple[Mount | None, str, str]:
        """(mount, where to mount it, directory the mount options are relative to)."""
        mount_id, _ = self.layer_ids(container_id)
        driver = self.store.driver
        spec = driver.mount_spec(mount_id)
        layer_dir = os.path.dirname(driver.diff_dir(mount_id)) if driver.name == "overlay2" else driver.diff_dir(mount_id)
        merged = os.path.join(layer_dir, "merged") if driver.name == "overlay2" else driver.diff_dir(mount_id)
        return spec, merged, driver.home

    def graph_driver(self, container_id: str) -> dict[str, Any]:
        """GraphDriver of ``container inspect``: LowerDir includes the init layer, as docker's."""
        driver = self.store.driver
        try:
            mount_id, init_id = self.layer_ids(container_id)
        except StoreCorrupt:
            return {"Data": None, "Name": driver.name}
        data = driver.metadata(mount_id)
        return {"Data": data, "Name": driver.name}

    # remove ------------------------------------------------------------------------------
    def remove(self, container_id: str, unpublished=None) -> None:
        """Delete a stopped container: its directory first (freeing the name), then its layers.
        ``unpublished()``, if given, runs in between: the monitor of a ``run --rm`` tells its
        client there, which then returns as soon as the name is free (the lease still lists
        the layers as pending, so ``system check`` never takes them for debris meanwhile)."""
        check_hex_id(container_id)
        try:
            mount_id, init_id = self.layer_ids(container_id)
        except StoreCorrupt:
            mount_id = init_id = ""
        doomed = os.path.join(self.paths.tmp(), f"removing-container-{container_id}")
        with self.store.lease() as lease:
            for pending in (container_id, mount_id, init_id):
                if pending:
                    lease.add_pending(pending)
            self._remove(container_id, mount_id, init_id, doomed, unpublished)

    def _remove(self, container_id: str, mount_id: str, init_id: str, doomed: str, unpublished=None) -> None:
        with self.store.lock():
            try:
                os.rename(self.paths.container(container_id), doomed)
            except FileNotFoundError:
                raise NotFound(f"No such container: {container_id}") from None
            mounts = self.paths.container_mount(container_id)
            gone = os.path.join(self.paths.layerdb_tmp(), f"remove-mount-{container_id}")
            try:
                os.rename(mounts, gone)
            except FileNotFoundError:
                gone = ""
        if unpublished is not None:
            unpublished()
        for cache_id in (mount_id, init_id):
            if cache_id:
                self.store.driver.remove(cache_id)
        import shutil

        if gone:
            shutil.rmtree(gone, ignore_errors=True)
        shutil.rmtree(doomed, ignore_errors=True)
        atomic.unlink_quietly(os.path.join(self.exec_root, f"{container_id}.lock"))


def _fill_init_layer(root: str) -> None:
    for rel, kind in INIT_LAYER:
        path = os.path.join(root, rel)
        if kind == "dir":
            os.makedirs(path, 0o755, exist_ok=True)
        elif kind == "file":
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o755)
            os.close(fd)
            os.chmod(path, 0o755)
        else:
            os.symlink(kind, path)


class ContainerLock:
    """An exclusive flock on ``path``, held for a ``with`` block (a class, not a
    ``contextmanager``: contextlib is not loaded on the lean paths)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.fd = -1

    def __enter__(self) -> None:
        import fcntl

        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self.fd = fd

    def __exit__(self, *exc) -> None:
        os.close(self.fd)
        self.fd = -1


class StoreView:
    """What containers need of a data root, without opening the image store: the monitor and
    the lean CLI paths use it (no driver probe, no catalog; the driver made when first used)."""

    def __init__(self, root: str, driver_name: str) -> None:
        from ..store.paths import DataRoot

        self.root = os.path.abspath(root)
        self.paths = DataRoot(self.root, driver_name)
        self._driver = None

    @property
    def driver(self):
        if self._driver is None:
            from ..graphdriver.base import make_driver

            self._driver = make_driver(self.root, self.paths.driver)
        return self._driver

    @property
    def images(self):
        """The image configs, to read (``store.imagedb``; a write through a view would leave
        the image catalog stale, so it is refused)."""
        from ..store.imagedb import ImageDB

        return ImageDB(self.paths, _read_only)

    def pin_existing(self, lease, chain_id):
        """``Store.pin_existing``: pin the layer for ``lease``; its record if it is stored."""
        from ..store.layerdb import LayerDB

        layers = LayerDB(self.paths, _read_only)
        with self.lock():
            lease.pin(chain_id.hex)
            if layers.exists(chain_id):
                return layers.get(chain_id)
        return None

    def lock(self):
        from ..store.lock import store_lock

        return store_lock(self.paths.lock_file())

    def lease(self):
        from ..store.lease import Lease

        return Lease(self.paths.leases())


def _read_only() -> None:
    raise RuntimeError("a StoreView reads images and layers; writes go through lamina.store.Store")
