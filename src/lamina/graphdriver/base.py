"""The driver interface and the choice between overlay2 and vfs."""

from __future__ import annotations

import os

from ..errors import InvalidArgument, RuntimeFailure
from ..mount import Mount, unmount
from ..value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only (typing costs start-up time: lamina.value says why)
    from .interface import GraphDriver


def __getattr__(name: str):
    if name == "GraphDriver":  # its old home; it lives in graphdriver.interface
        from .interface import GraphDriver

        return GraphDriver
    raise AttributeError(f"module 'lamina.graphdriver.base' has no attribute {name!r}")


class DriverChoice(Value):
    __slots__ = ("name", "reason")
    name: str
    reason: str

    def __init__(self, name: str, reason: str) -> None:
        self._init(name=name, reason=reason)


def _overlay_works(home: str) -> str | None:
    """Try a real overlay mount under ``home``; return None if it works, else why not."""
    import tempfile

    os.makedirs(home, exist_ok=True)
    probe = tempfile.mkdtemp(prefix=".probe-", dir=home)
    try:
        for sub in ("lower1", "lower2", "upper", "work", "merged"):
            os.mkdir(os.path.join(probe, sub))
        mount = Mount(
            "overlay",
            "overlay",
            (
                f"lowerdir={probe}/lower2:{probe}/lower1",
                f"upperdir={probe}/upper",
                f"workdir={probe}/work",
            ),
        )
        try:
            mount.mount(os.path.join(probe, "merged"))
        except RuntimeFailure as exc:
            return str(exc)
        unmount(os.path.join(probe, "merged"))
        return None
    finally:
        import shutil

        shutil.rmtree(probe, ignore_errors=True)


def select_driver(root: str, requested: str | None = None) -> DriverChoice:
    """Pick the driver: the one asked for (checked), else one the data root already uses,
    else overlay2 when a probe mount works, else vfs with the reason."""
    if requested:
        if requested not in ("overlay2", "vfs"):
            raise InvalidArgument(f"unknown storage driver {requested!r} (use overlay2 or vfs)")
        if requested == "overlay2":
            why = _overlay_works(os.path.join(root, "overlay2"))
            if why:
                raise RuntimeFailure(f"storage driver overlay2 is not usable here: {why}")
        return DriverChoice(requested, "requested with --storage-driver")
    for name in ("overlay2", "vfs"):
        if os.path.isdir(os.path.join(root, "image", name, "layerdb")):
            return DriverChoice(name, f"the data root already holds {name} layers")
    if os.geteuid() != 0:
        return DriverChoice("vfs", "overlay2 needs root to mount overlayfs")
    why = _overlay_works(os.path.join(root, "overlay2"))
    if why is None:
        return DriverChoice("overlay2", "kernel overlayfs mounts on this data root")
    return DriverChoice("vfs", f"overlayfs is not usable: {why}")


def make_driver(root: str, name: str) -> GraphDriver:
    if name == "overlay2":
        from .overlay2 import Overlay2Driver

        return Overlay2Driver(os.path.join(root, "overlay2"))
    if name == "vfs":
        from .vfs import VfsDriver

        return VfsDriver(os.path.join(root, "vfs"))
    raise InvalidArgument(f"unknown storage driver {name!r}")
