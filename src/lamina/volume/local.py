"""Volumes in docker's ``local`` driver layout, so a dockerd started on the data root lists them.

::

    volumes/<name>/_data          the volume's files (what containers mount)
    volumes/<name>/opts.json      docker's own file for driver options (type, device, o), when given
    volumes/<name>/lamina.json    lamina's side file: labels, and whether the volume is anonymous

docker keeps labels in ``volumes/metadata.db``, a bolt database lamina cannot write; its local
driver finds volumes by scanning the directory, so a dockerd on a lamina root lists lamina's
volumes (without their labels), and lamina lists dockerd's (a dockerd's anonymous volume, with no
side file, is recognised by its 64-hex name).

A volume appears whole: it is assembled under ``tmp/`` and renamed into ``volumes/``; removal
renames it out first. Creating a name that exists returns the existing volume, as docker does.
"""

from __future__ import annotations

import os
import stat

from .. import jsonc
from ..errors import Conflict, InvalidArgument, NotFound, Unsupported
from ..store import atomic
from ..value import Value

# ``volume ls`` runs on the lean path (cli/lean/volumes.py): what only create, remove and the
# image copy need (json's writer, secrets, shutil, re) is imported where they use it
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only (typing costs start-up time: lamina.value says why)
    from typing import Any

    from ..store.store import Store

DATA = "_data"
OPTS = "opts.json"
SIDE = "lamina.json"
#: docker (23+) marks anonymous volumes with this label; lamina does too
ANONYMOUS_LABEL = "com.docker.volume.anonymous"
_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")
_REST = _FIRST | frozenset("_.-")
_HEX = frozenset("0123456789abcdef")


def _is_name(name: str) -> bool:
    """docker's local volume names: ``[a-zA-Z0-9][a-zA-Z0-9_.-]+``."""
    return len(name) > 1 and name[0] in _FIRST and _REST.issuperset(name)


def _is_hex64(name: str) -> bool:
    return len(name) == 64 and _HEX.issuperset(name)
_LOCAL_OPTIONS = ("type", "device", "o", "size")


def check_name(name: str) -> str:
    if not _is_name(name):
        raise InvalidArgument(
            f'create {name}: "{name}" includes invalid characters for a local volume name, only '
            '"[a-zA-Z0-9][a-zA-Z0-9_.-]" are allowed. If you intended to pass a host directory, use absolute path'
        )
    return name


class VolumeRecord(Value):
    """One volume as stored (``used_by``: IDs of the containers that mount it)."""

    __slots__ = ("name", "mountpoint", "created_at", "labels", "options", "anonymous", "driver", "scope", "used_by")

    def __init__(self, name: str, mountpoint: str, created_at: str, labels: dict[str, str] | None = None,
                 options: dict[str, str] | None = None, anonymous: bool = False, driver: str = "local",
                 scope: str = "local", used_by: tuple[str, ...] = ()) -> None:
        self._init(name=name, mountpoint=mountpoint, created_at=created_at, labels=labels, options=options,
                   anonymous=anonymous, driver=driver, scope=scope, used_by=used_by)

    def inspect(self) -> dict[str, Any]:
        """``volume inspect``: docker's field set and order."""
        return {
            "CreatedAt": self.created_at,
            "Driver": self.driver,
            "Labels": dict(sorted(self.labels.items())) if self.labels is not None else None,
            "Mountpoint": self.mountpoint,
            "Name": self.name,
            "Options": dict(sorted(self.options.items())) if self.options is not None else None,
            "Scope": self.scope,
        }


def _rfc3339(ts: float) -> str:
    from datetime import datetime

    text = datetime.fromtimestamp(int(ts)).astimezone().isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


class LocalVolumes:
    """The volumes of one data root."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.base = store.paths.volumes()

    def path(self, name: str) -> str:
        return os.path.join(self.base, check_name(name))

    def exists(self, name: str) -> bool:
        return _is_name(name) and os.path.isdir(os.path.join(self.base, name, DATA))

    def names(self) -> list[str]:
        try:
            entries = os.listdir(self.base)
        except FileNotFoundError:
            return []
        return sorted(n for n in entries if _is_name(n) and os.path.isdir(os.path.join(self.base, n, DATA)))

    # create ---------------------------------------------------------------------------------
    def create(self, name: str | None = None, labels: dict[str, str] | None = None,
               options: dict[str, str] | None = None, driver: str = "local") -> tuple[VolumeRecord, bool]:
        """Create (or return the existing) volume; the bool says whether it is new."""
        import json
        import secrets
        import shutil

        if driver != "local":
            raise NotFound(f'create {name or ""}: error looking up volume plugin {driver}: plugin "{driver}" not found')
        anonymous = not name
        name = check_name(name) if name else secrets.token_hex(32)
        for key in options or {}:
            if key not in _LOCAL_OPTIONS:
                raise InvalidArgument(f"create {name}: invalid option key: {key!r}")
        labels = dict(labels or {})
        if anonymous:
            labels.setdefault(ANONYMOUS_LABEL, "")
        target = os.path.join(self.base, name)
        if os.path.isdir(os.path.join(target, DATA)):
            return self.get(name), False
        staging = os.path.join(self.store.paths.tmp(), f"volume-{name}-{secrets.token_hex(4)}")
        os.makedirs(os.path.join(staging, DATA), mode=0o755)
        os.chmod(staging, 0o701)  # docker's mode: others may traverse to _data, not list names
        try:
            if options:
                opts = {"MountType": options.get("type", ""), "MountOpts": options.get("o", ""),
                        "MountDevice": options.get("device", ""), "Quota": {"Size": 0}}
                atomic.write_text(os.path.join(staging, OPTS), json.dumps(opts, separators=(",", ":")))
            side = {"Labels": labels or None, "Options": dict(options) if options else None, "Anonymous": anonymous}
            atomic.write_text(os.path.join(staging, SIDE), json.dumps(side, separators=(",", ":")))
            os.makedirs(self.base, exist_ok=True)
            try:
                os.rename(staging, target)
            except OSError:
                if os.path.isdir(os.path.join(target, DATA)):  # another process made it first
                    return self.get(name), False
                raise
            atomic.fsync_dir(self.base)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return self.get(name), True

    # read -----------------------------------------------------------------------------------
    def get(self, name: str) -> VolumeRecord:
        return self._record(name, self.users())

    def _record(self, name: str, users: dict[str, list[str]]) -> VolumeRecord:
        if not self.exists(name):
            raise NotFound(f"get {name}: no such volume")
        directory = os.path.join(self.base, name)
        side = _read_json(os.path.join(directory, SIDE))
        options = side.get("Options") if side else _options_from_opts(_read_json(os.path.join(directory, OPTS)))
        labels = side.get("Labels") if side else None
        anonymous = bool(side.get("Anonymous")) if side else _is_hex64(name)
        data = os.path.join(directory, DATA)
        return VolumeRecord(
            name=name,
            mountpoint=data,
            created_at=_rfc3339(os.stat(data).st_ctime),
            labels=labels or None,
            options=options or None,
            anonymous=anonymous,
            used_by=tuple(users.get(name, ())),
        )

    def list(self) -> list[VolumeRecord]:
        users = self.users()
        out = []
        for name in self.names():
            try:
                out.append(self._record(name, users))  # the containers read once for all volumes
            except NotFound:
                continue  # removed meanwhile
        return out

    def users(self) -> dict[str, list[str]]:
        """Volume name → IDs of containers whose MountPoints name it (running or not)."""
        out: dict[str, list[str]] = {}
        containers = self.store.paths.containers()
        try:
            ids = os.listdir(containers)
        except FileNotFoundError:
            return out
        for cid in sorted(ids):
            doc = _read_json(os.path.join(containers, cid, "config.v2.json"))
            for point in (doc or {}).get("MountPoints", {}).values() if doc else ():
                if isinstance(point, dict) and point.get("Type") == "volume" and point.get("Name"):
                    out.setdefault(point["Name"], []).append(cid)
        return out

    # remove ---------------------------------------------------------------------------------
    def remove(self, name: str, force: bool = False) -> None:
        """Refused while a container uses it (``force`` only forgives a missing volume)."""
        with self.store.lock():
            if not self.exists(name):
                if force:
                    return
                raise NotFound(f"get {name}: no such volume")
            users = self.users().get(name)
            if users:
                raise Conflict(f"remove {name}: volume is in use - [{', '.join(users)}]")
            import secrets

            doomed = os.path.join(self.store.paths.tmp(), f"removing-volume-{name}-{secrets.token_hex(4)}")
            os.rename(os.path.join(self.base, name), doomed)
        _remove_tree(doomed)

    def size(self, name: str) -> int:
        from ..store.store import tree_size

        return tree_size(os.path.join(self.base, name, DATA))


def _remove_tree(path: str) -> None:
    from ..mount import mounts_under, unmount

    for point in mounts_under(path):
        unmount(point, detach=True)
    import shutil

    shutil.rmtree(path, ignore_errors=True)


def _read_json(path: str) -> dict[str, Any] | None:
    try:
        with open(path, "rb") as f:
            doc = jsonc.loads(f.read())
    except (OSError, ValueError):
        return None
    return doc if isinstance(doc, dict) else None


def _options_from_opts(opts: dict[str, Any] | None) -> dict[str, str] | None:
    """docker's opts.json (a dockerd-made volume) back into the options the user gave."""
    if not opts:
        return None
    out = {}
    for key, field_name in (("type", "MountType"), ("device", "MountDevice"), ("o", "MountOpts")):
        if opts.get(field_name):
            out[key] = opts[field_name]
    return out or None


# filling a new volume from the image (seed 002: VOLUME /myvol copies the image's files in) ------
def fill_from_image(store: Store, image: str, target: str, data_dir: str) -> bool:
    """Copy what ``image`` holds at ``target`` into the empty ``data_dir`` (files, modes, owners,
    times, and the directory's own owner and mode), as docker does on a new volume's first use.
    Returns whether anything was there to copy."""
    from ..container.changes import OverlayView

    if any(os.scandir(data_dir)):
        return False  # docker copies only into an empty volume
    image_id = _image_id(store, image)
    if image_id is None:
        return False
    records = store.layer_chain(list(store.images.get(image_id).diff_ids))
    layers = [store.driver.diff_dir(r.cache_id) for r in reversed(records)]
    if store.driver.name != "overlay2":
        layers = layers[:1]  # vfs: the top layer is the whole tree
    view = OverlayView(layers)
    rel = os.path.normpath(target).strip("/")
    found = view.lookup(rel) if rel else None
    if found is None or not stat.S_ISDIR(found[1].st_mode):
        return False
    _copy_view(view, rel, data_dir)
    st = found[1]
    os.chown(data_dir, st.st_uid, st.st_gid)
    os.chmod(data_dir, stat.S_IMODE(st.st_mode))
    return True


def _image_id(store: Store, image: str):
    from ..image.service import ImageService

    try:
        return ImageService(store).resolve(image)
    except (NotFound, InvalidArgument):
        return None


def _copy_view(view, rel: str, dest: str) -> None:
    import shutil

    for name, (path, st) in view.children(rel).items():
        target = os.path.join(dest, name)
        if stat.S_ISDIR(st.st_mode):
            os.mkdir(target, 0o700)
            _copy_view(view, f"{rel}/{name}", target)
        elif stat.S_ISLNK(st.st_mode):
            os.symlink(os.readlink(path), target)
        elif stat.S_ISREG(st.st_mode):
            shutil.copyfile(path, target, follow_symlinks=False)
        elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode) or stat.S_ISFIFO(st.st_mode):
            os.mknod(target, st.st_mode, st.st_rdev)
        else:
            continue
        os.chown(target, st.st_uid, st.st_gid, follow_symlinks=False)
        if not stat.S_ISLNK(st.st_mode):
            os.chmod(target, stat.S_IMODE(st.st_mode))
        os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns), follow_symlinks=False)


def resolve_for_container(store: Store, name: str, target: str, image: str) -> tuple[str, str]:
    """(volume name, host directory) for a container's volume at ``target``: the named volume
    ``name`` (created if missing) or, for ``""``, a new anonymous one; a volume created here is
    filled from ``image``'s content at ``target`` (docker copies on first use of an empty one).

    This is the seam ``container.mounts.volume_source`` calls.
    """
    volumes = LocalVolumes(store)
    record, _new = volumes.create(name or None)
    if record.options:
        raise Unsupported(f"volume {record.name} has driver options (type/device/o); mounting those is not supported yet")
    if image:
        fill_from_image(store, image, target, record.mountpoint)
    return record.name, record.mountpoint


def remove_anonymous(store: Store, mount_points: dict[str, Any]) -> list[str]:
    """``rm -v``: remove the anonymous volumes in a removed container's MountPoints (named ones
    stay, as with docker), skipping any that another container still uses. Call it after the
    container's directory is gone. Returns the names removed."""
    volumes = LocalVolumes(store)
    removed = []
    for point in mount_points.values():
        name = point.get("Name") if isinstance(point, dict) and point.get("Type") == "volume" else None
        if not name or not volumes.exists(name) or not volumes.get(name).anonymous:
            continue
        try:
            volumes.remove(name)
        except Conflict:
            continue
        removed.append(name)
    return removed


def remove_anonymous_for_container(store: Store, container: Any) -> list[str]:
    """The seam ``runtime.lifecycle.remove`` calls for ``rm -v`` (``container`` has
    ``mount_points``, config.v2.json's MountPoints)."""
    return remove_anonymous(store, getattr(container, "mount_points", None) or {})
