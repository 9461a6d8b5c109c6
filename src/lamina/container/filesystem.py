"""A container's filesystem, read from docker's on-disk format only.

``containers/<id>/config.v2.json`` names the container, its image and its state;
``image/<driver>/layerdb/mounts/<id>/{mount-id,init-id,parent}`` names its layers;
``<driver>/<mount-id>/diff`` is the writable (upper) layer and ``<driver>/<mount-id>/lower`` the
layers below it (the init layer first, then the image's). Nothing here depends on how the
container was made, so ``diff``, ``commit``, ``export`` and ``cp`` work the same on containers
that lamina created and on those a dockerd created on the same data root.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager

from ..digest import Digest
from ..errors import InvalidArgument, NotFound, StoreCorrupt
from ..store import atomic
from ..store.paths import check_hex_id
from ..value import Value

TYPE_CHECKING = False  # not typing's: ``diff`` runs on the lean path, where typing costs ~4 ms
if TYPE_CHECKING:
    from typing import Any

    from ..store.paths import DataRoot
    from ..store.store import Store
    from .changes import Change

_LAYER_DIR = re.compile(r"[a-f0-9]{64}(-init)?\Z")


class ContainerFS(Value):
    """What the filesystem commands need to know about one container."""

    __slots__ = ("id", "name", "image_id", "running", "paused", "config", "mount_id", "init_id", "read_only",
                 "mount_points")
    _compare = ("id", "name", "image_id", "running", "paused", "mount_id", "init_id", "read_only")
    id: str
    name: str
    image_id: Digest | None
    running: bool
    paused: bool
    config: dict[str, Any]
    mount_id: str
    init_id: str
    #: HostConfig.ReadonlyRootfs (``--read-only``): ``cp`` into it is refused, as docker does
    read_only: bool
    #: config.v2.json's MountPoints (destination → Source, Destination, RW, Type, Name, …)
    mount_points: dict[str, Any]

    def __init__(self, id: str, name: str, image_id: Digest | None, running: bool, paused: bool,
                 config: dict[str, Any], mount_id: str = "", init_id: str = "", read_only: bool = False,
                 mount_points: dict[str, Any] | None = None) -> None:
        self._init(id=id, name=name, image_id=image_id, running=running, paused=paused, config=config,
                   mount_id=mount_id, init_id=init_id, read_only=read_only, mount_points=mount_points or {})

    @property
    def short_name(self) -> str:
        return self.name.lstrip("/")


def _layer_dir_id(value: str, container_id: str) -> str:
    if not _LAYER_DIR.match(value):
        raise StoreCorrupt(f"container {container_id} names an invalid layer directory {value!r}")
    return value


def load(paths: DataRoot, container_id: str) -> ContainerFS:
    """The container with this full ID."""
    path = os.path.join(paths.container(container_id), "config.v2.json")
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except FileNotFoundError:
        raise NotFound(f"No such container: {container_id}") from None
    except ValueError:
        raise StoreCorrupt(f"container {container_id} has an unreadable config.v2.json") from None
    state = doc.get("State") or {}
    mounts = paths.layerdb_mounts()
    try:
        mount_id = atomic.read_text(os.path.join(mounts, container_id, "mount-id"))
        init_id = atomic.read_text(os.path.join(mounts, container_id, "init-id"))
    except FileNotFoundError:
        mount_id = init_id = ""
    image = doc.get("Image") or ""
    try:
        with open(os.path.join(paths.container(container_id), "hostconfig.json"), "rb") as f:
            host_config = json.load(f) or {}
    except (OSError, ValueError):
        host_config = {}
    return ContainerFS(
        id=container_id,
        name=doc.get("Name") or "",
        image_id=Digest.parse(image) if image else None,
        running=bool(state.get("Running")),
        paused=bool(state.get("Paused")),
        config=doc.get("Config") or {},
        mount_id=_layer_dir_id(mount_id, container_id) if mount_id else "",
        init_id=_layer_dir_id(init_id, container_id) if init_id else "",
        read_only=bool(host_config.get("ReadonlyRootfs")),
        mount_points=doc.get("MountPoints") or {},
    )


def _names(paths: DataRoot) -> dict[str, str]:
    """Container names (without docker's slash) → IDs, read from the configs themselves."""
    out: dict[str, str] = {}
    for cid in _ids(paths):
        try:
            with open(os.path.join(paths.containers(), cid, "config.v2.json"), "rb") as f:
                name = (json.load(f).get("Name") or "").lstrip("/")
        except (OSError, ValueError):
            continue
        if name:
            out[name] = cid
    return out


def _ids(paths: DataRoot) -> list[str]:
    try:
        names = os.listdir(paths.containers())
    except FileNotFoundError:
        return []
    return [n for n in names if re.fullmatch(r"[a-f0-9]{64}", n)]


def resolve(paths: DataRoot, ref: str) -> ContainerFS:
    """A container by full ID, name, or unique ID prefix (docker's order)."""
    if not ref:
        raise InvalidArgument("container name cannot be empty")
    ids = _ids(paths)
    if ref in ids:
        return load(paths, ref)
    by_name = _names(paths)
    if ref.lstrip("/") in by_name:
        return load(paths, by_name[ref.lstrip("/")])
    if re.fullmatch(r"[a-f0-9]+", ref):
        matches = [i for i in ids if i.startswith(ref)]
        if len(matches) > 1:
            raise InvalidArgument(f"multiple IDs found with provided prefix: {ref}")
        if matches:
            return load(paths, matches[0])
    raise NotFound(f"No such container: {ref}")


# the layers ----------------------------------------------------------------------------------
def _need_layers(container: ContainerFS) -> None:
    if not container.mount_id:
        raise StoreCorrupt(f"container {container.id[:12]} has no layer record (layerdb/mounts)")


def upper_dir(paths: DataRoot, container: ContainerFS) -> str:
    """The container's own layer: overlay2's upper dir, or vfs's full copy."""
    _need_layers(container)
    if paths.driver == "overlay2":
        return os.path.join(paths.driver_home(), container.mount_id, "diff")
    return os.path.join(paths.driver_home(), "dir", container.mount_id)


def lower_dirs(paths: DataRoot, container: ContainerFS) -> list[str]:
    """overlay2: the directories below the upper one, nearest first (init layer, then image)."""
    _need_layers(container)
    home = paths.driver_home()
    try:
        text = atomic.read_text(os.path.join(home, container.mount_id, "lower"))
    except FileNotFoundError:
        return []
    out = []
    for entry in text.split(":"):
        if not re.fullmatch(r"l/[A-Z0-9]+", entry):
            raise StoreCorrupt(f"container {container.id[:12]} has an invalid lower entry {entry!r}")
        out.append(os.path.join(home, entry))
    return out


def changes(paths: DataRoot, container: ContainerFS) -> list[Change]:
    """``container diff``."""
    from .changes import overlay_changes, tree_changes

    upper = upper_dir(paths, container)
    if not os.path.isdir(upper):
        raise StoreCorrupt(f"container {container.id[:12]} has lost its layer directory {upper}")
    if paths.driver == "overlay2":
        return overlay_changes(upper, lower_dirs(paths, container))
    init = os.path.join(paths.driver_home(), "dir", container.init_id) if container.init_id else None
    return tree_changes(upper, init)


@contextmanager
def mounted_rootfs(store: Store, container: ContainerFS) -> Iterator[str]:
    """The container's root filesystem as a directory: its ``merged/`` while it is mounted
    (a running container), else mounted there for the duration and unmounted after, as docker
    mounts a stopped container's layer for ``cp`` and ``export``. vfs layers are whole trees."""
    from ..mount import is_mountpoint, unmount

    upper = upper_dir(store.paths, container)
    if store.driver.name != "overlay2":
        yield upper
        return
    layer = os.path.dirname(upper)
    merged = os.path.join(layer, "merged")
    if os.path.isdir(merged) and is_mountpoint(merged):
        yield merged
        return
    spec = store.driver.mount_spec(check_hex_id(container.mount_id))
    if spec is None:
        yield upper
        return
    from .store import ContainerStore

    # under the container's lock: a start waits until this mount is gone, instead of finding
    # it and running the container on a mount that is about to be taken away
    with ContainerStore(store).locked(container.id):
        if is_mountpoint(merged):  # started while we waited for the lock
            yield merged
            return
        os.makedirs(merged, exist_ok=True)
        os.makedirs(os.path.join(layer, "work"), mode=0o700, exist_ok=True)
        spec.mount(merged, chdir=store.paths.driver_home())
        try:
            yield merged
        finally:
            unmount(merged, detach=True)
            try:
                os.rmdir(merged)
            except OSError:
                pass
