"""imagedb: image configs by image ID (= sha256 of the config bytes), and their metadata.

Image configs (``oci``, which loads ``json``) are imported where they are used: ``tag`` on the
lean CLI path touches an image's ``lastUpdated`` through this class.
"""

from __future__ import annotations

import os

from ..digest import Digest
from ..errors import InvalidArgument, NotFound
from . import atomic
from .paths import DataRoot

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only (typing costs start-up time: lamina.value says why)
    from collections.abc import Callable

    from ..oci import ImageConfig


class ImageDB:
    def __init__(self, paths: DataRoot, on_change: Callable[[], None] | None = None) -> None:
        self.paths = paths
        #: called before every write (the store drops its image catalog there)
        self.on_change = on_change or (lambda: None)

    def put(self, raw: bytes) -> Digest:
        """Store a config's exact bytes; its hash is the image ID. Idempotent."""
        from ..oci import ImageConfig

        ImageConfig.parse(raw)  # refuse a document that is not an image config
        image_id = Digest.of_bytes(raw)
        path = self.paths.image_config(image_id)
        if not os.path.exists(path):
            self.on_change()
            atomic.write_file(path, raw)
        return image_id

    def get(self, image_id: Digest) -> ImageConfig:
        try:
            with open(self.paths.image_config(image_id), "rb") as f:
                raw = f.read()
        except FileNotFoundError:
            raise NotFound(f"No such image: {image_id}") from None
        from ..oci import ImageConfig

        return ImageConfig.parse(raw)

    def exists(self, image_id: Digest) -> bool:
        return os.path.isfile(self.paths.image_config(image_id))

    def ids(self) -> list[Digest]:
        try:
            names = os.listdir(self.paths.imagedb_content())
        except FileNotFoundError:
            return []
        return [Digest("sha256", n) for n in names if Digest.is_valid(f"sha256:{n}")]

    def find_by_prefix(self, prefix: str) -> list[Digest]:
        """Image IDs starting with a short hex prefix (``a1b2c3``) or ``sha256:a1b2…``."""
        hexpart = prefix.removeprefix("sha256:")
        if not hexpart or any(c not in "0123456789abcdef" for c in hexpart) or len(hexpart) > 64:
            return []
        return [d for d in self.ids() if d.hex.startswith(hexpart)]

    def delete(self, image_id: Digest) -> None:
        self.on_change()
        try:
            os.unlink(self.paths.image_config(image_id))
        except FileNotFoundError:
            pass
        import shutil

        shutil.rmtree(self.paths.imagedb_metadata(image_id), ignore_errors=True)

    # metadata: parent (set by commit/build) and lastUpdated
    def set_parent(self, image_id: Digest, parent: Digest) -> None:
        meta = self.paths.imagedb_metadata(image_id)
        self.on_change()
        os.makedirs(meta, exist_ok=True)
        atomic.write_text(os.path.join(meta, "parent"), str(parent))

    def get_parent(self, image_id: Digest) -> Digest | None:
        try:
            text = atomic.read_text(os.path.join(self.paths.imagedb_metadata(image_id), "parent"))
        except FileNotFoundError:
            return None
        try:
            return Digest.parse(text)
        except InvalidArgument:
            return None

    def children(self, image_id: Digest) -> list[Digest]:
        return [i for i in self.ids() if self.get_parent(i) == image_id]

    def touch(self, image_id: Digest) -> str:
        """Stamp the image's ``lastUpdated`` (inspect's LastTagTime) with now; return the stamp."""
        meta = self.paths.imagedb_metadata(image_id)
        self.on_change()
        os.makedirs(meta, exist_ok=True)
        now = utc_stamp()
        atomic.write_text(os.path.join(meta, "lastUpdated"), now, durable=False)
        return now


def utc_stamp(ns: int | None = None) -> str:
    """Now (or ``ns`` since the epoch) as ``datetime.now(UTC).isoformat()`` writes it, with
    ``Z``: what dockerd's lastUpdated holds. Formatted with ``time`` (``datetime`` costs the
    lean ``tag`` 2 ms)."""
    import time

    seconds, rest = divmod(time.time_ns() if ns is None else ns, 1_000_000_000)
    micro = rest // 1000
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)) + (f".{micro:06d}" if micro else "") + "Z"
