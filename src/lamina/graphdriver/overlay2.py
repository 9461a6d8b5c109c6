"""overlay2: Docker's layout of overlayfs layers.

``<home>/<cache-id>/diff`` holds the layer's own files (whiteouts as 0:0 character devices and
``trusted.overlay.opaque`` directories), ``link`` a short random name, ``lower`` the chain of
``l/<short>`` names below it (nearest first), ``work`` overlay's scratch dir. ``<home>/l/<short>``
symlinks point at the diff dirs, so a mount of a 100-layer stack still fits overlay's option
size limit when mounted from ``<home>`` with relative lowerdirs.
"""

from __future__ import annotations

import os

from ..errors import NotFound
from ..mount import Mount, is_mountpoint, unmount
from ..store.paths import check_layer_dir_id

_BASE32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
LINK_DIR = "l"


def _short_id() -> str:
    """26 random base32 letters, as docker's ``l/`` link names: each byte of the kernel's
    randomness picks one of 32 letters (256 is a multiple of 32, so uniformly; ``secrets``
    would cost ~5 ms of imports on ``run``'s path)."""
    return "".join(_BASE32[b & 31] for b in os.urandom(26))


class Overlay2Driver:
    name = "overlay2"
    whiteouts = "overlay"

    def __init__(self, home: str) -> None:
        self.home = home
        os.makedirs(os.path.join(home, LINK_DIR), exist_ok=True)

    def _dir(self, cache_id: str) -> str:
        return os.path.join(self.home, check_layer_dir_id(cache_id))

    def create(self, cache_id: str, parent: str | None) -> str:
        layer = self._dir(cache_id)
        os.mkdir(layer, 0o710)
        os.mkdir(os.path.join(layer, "diff"), 0o755)
        short = _short_id()
        # "link" before the symlink: a process killed in between leaves a layer directory
        # that names its link, so remove() (and system check --repair) can find it
        with open(os.path.join(layer, "link"), "w") as f:
            f.write(short)
        os.symlink(os.path.join("..", cache_id, "diff"), os.path.join(self.home, LINK_DIR, short))
        if parent is not None:
            lower = self._lower_chain(parent)
            with open(os.path.join(layer, "lower"), "w") as f:
                f.write(":".join(lower))
            os.mkdir(os.path.join(layer, "work"), 0o700)
        return os.path.join(layer, "diff")

    def _lower_chain(self, parent: str) -> list[str]:
        parent_dir = self._dir(parent)
        try:
            with open(os.path.join(parent_dir, "link")) as f:
                chain = [f"{LINK_DIR}/{f.read().strip()}"]
        except FileNotFoundError:
            raise NotFound(f"layer directory {parent} is missing") from None
        try:
            with open(os.path.join(parent_dir, "lower")) as f:
                chain.extend(p for p in f.read().strip().split(":") if p)
        except FileNotFoundError:
            pass
        return chain

    def remove(self, cache_id: str) -> None:
        layer = self._dir(cache_id)
        merged = os.path.join(layer, "merged")
        if os.path.isdir(merged) and is_mountpoint(merged):
            # a mount left by a killed process: never delete through it
            unmount(merged, detach=True)
        try:
            with open(os.path.join(layer, "link")) as f:
                short = f.read().strip()
            if short and "/" not in short:
                os.unlink(os.path.join(self.home, LINK_DIR, short))
        except FileNotFoundError:
            pass
        import shutil

        shutil.rmtree(layer, ignore_errors=True)

    def exists(self, cache_id: str) -> bool:
        return os.path.isdir(os.path.join(self._dir(cache_id), "diff"))

    def diff_dir(self, cache_id: str) -> str:
        return os.path.join(self._dir(cache_id), "diff")

    def parent_dir(self, cache_id: str) -> str | None:
        return None

    def list_ids(self) -> list[str]:
        try:
            return [n for n in os.listdir(self.home) if len(n) == 64 or (len(n) == 69 and n.endswith("-init"))]
        except FileNotFoundError:
            return []

    def lower_dirs(self, cache_id: str) -> list[str]:
        try:
            with open(os.path.join(self._dir(cache_id), "lower")) as f:
                return [os.path.join(self.home, p) for p in f.read().strip().split(":") if p]
        except FileNotFoundError:
            return []

    def mount_spec(self, cache_id: str) -> Mount | None:
        layer = self._dir(cache_id)
        try:
            with open(os.path.join(layer, "lower")) as f:
                lower = f.read().strip()
        except FileNotFoundError:
            return None  # a base layer: its diff dir is the whole tree
        return Mount(
            "overlay",
            "overlay",
            (f"lowerdir={lower}", f"upperdir={cache_id}/diff", f"workdir={cache_id}/work"),
        )

    def metadata(self, cache_id: str) -> dict[str, str]:
        layer = self._dir(cache_id)
        lowers = [os.path.realpath(p) for p in self.lower_dirs(cache_id)]
        data = {
            "MergedDir": os.path.join(layer, "merged"),
            "UpperDir": os.path.join(layer, "diff"),
            "WorkDir": os.path.join(layer, "work"),
        }
        if lowers:
            data["LowerDir"] = ":".join(lowers)
        return data

    def resolve_link(self, short: str) -> str | None:
        try:
            return os.readlink(os.path.join(self.home, LINK_DIR, short))
        except OSError:
            return None
