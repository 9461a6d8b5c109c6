"""vfs: every layer is a full copy of the tree below it plus its own changes.

Slow and large, but needs nothing from the kernel: the fallback for hosts or filesystems
where overlayfs cannot be mounted (rootless without fuse, overlay-on-overlay). Copies use
``cp -a`` with reflinks where the filesystem offers them, which keeps owners, modes, devices,
hard links and xattrs exactly.
"""

from __future__ import annotations

import os

from ..errors import RuntimeFailure
from ..mount import Mount
from ..store.paths import check_layer_dir_id


class VfsDriver:
    name = "vfs"
    whiteouts = "delete"

    def __init__(self, home: str) -> None:
        self.home = home
        self._dirs = os.path.join(home, "dir")
        os.makedirs(self._dirs, exist_ok=True)

    def _dir(self, cache_id: str) -> str:
        return os.path.join(self._dirs, check_layer_dir_id(cache_id))

    def create(self, cache_id: str, parent: str | None) -> str:
        target = self._dir(cache_id)
        if parent is None:
            os.mkdir(target, 0o755)
        else:
            import subprocess  # only when a layer is copied: keep command start-up lean

            proc = subprocess.run(
                ["cp", "-a", "--reflink=auto", self._dir(parent), target],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                import shutil

                shutil.rmtree(target, ignore_errors=True)
                raise RuntimeFailure(f"vfs: copying layer failed: {proc.stderr.strip()}")
            with open(os.path.join(self.home, f".parent-{cache_id}"), "w") as f:
                f.write(parent)
        return target

    def remove(self, cache_id: str) -> None:
        import shutil

        shutil.rmtree(self._dir(cache_id), ignore_errors=True)
        try:
            os.unlink(os.path.join(self.home, f".parent-{cache_id}"))
        except FileNotFoundError:
            pass

    def exists(self, cache_id: str) -> bool:
        return os.path.isdir(self._dir(cache_id))

    def diff_dir(self, cache_id: str) -> str:
        return self._dir(cache_id)

    def parent_dir(self, cache_id: str) -> str | None:
        try:
            with open(os.path.join(self.home, f".parent-{cache_id}")) as f:
                return self._dir(f.read().strip())
        except FileNotFoundError:
            return None

    def list_ids(self) -> list[str]:
        try:
            return [n for n in os.listdir(self._dirs) if len(n) == 64 or (len(n) == 69 and n.endswith("-init"))]
        except FileNotFoundError:
            return []

    def mount_spec(self, cache_id: str) -> Mount | None:
        return Mount("bind", self._dir(cache_id), ("rbind",))

    def metadata(self, cache_id: str) -> dict[str, str]:
        return {"Dir": self._dir(cache_id)}
