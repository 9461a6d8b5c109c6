"""Where everything lives under the data root. This module is the layout's documentation.

The layout mirrors Docker's overlay2 layout so that the seeds' walkthroughs work with
``/var/lib/docker`` replaced by the data root::

    <root>/
      image/<driver>/imagedb/content/sha256/<image-id>          image config JSON, exact bytes
      image/<driver>/imagedb/metadata/sha256/<image-id>/parent  parent image ID (commit/build)
      image/<driver>/imagedb/metadata/sha256/<image-id>/lastUpdated
      image/<driver>/imagedb/metadata/sha256/<image-id>/lamina-build   which Dockerfile line made an
                                                                 image lamina built: JSON {"dockerfile":
                                                                 path relative to the context, "line":
                                                                 1-based first line, "instruction":
                                                                 the text as written}; dockerd ignores it
      image/<driver>/imagedb/metadata/sha256/<image-id>/lamina-build-sums  COPY/ADD steps: JSON
                                                                 {"/dest/path": checksum} of what was
                                                                 copied (for build --explain-cache)
      image/<driver>/layerdb/sha256/<chain-id>/diff             DiffID (sha256 of the layer tar)
      image/<driver>/layerdb/sha256/<chain-id>/parent           ChainID of the layer below
      image/<driver>/layerdb/sha256/<chain-id>/size             bytes in the layer's diff dir
      image/<driver>/layerdb/sha256/<chain-id>/cache-id         graph driver directory name
      image/<driver>/layerdb/sha256/<chain-id>/tar-split.json.gz how to rebuild the exact tar
      image/<driver>/layerdb/sha256/<chain-id>/lamina-files     the layer's file index (a cache of
                                                                 the tar-split; store.fileindexes)
      image/<driver>/layerdb/tmp/                               layer metadata being written
      image/<driver>/layerdb/mounts/<container-id>/{init-id,mount-id,parent}
      image/<driver>/repositories.json                          tags and digests
      image/<driver>/catalog                                    lamina's read model of all the above
                                                                 for images/inspect (store.catalog);
                                                                 a cache, always safe to delete
      image/<driver>/catalog.previous                           the catalog before the last change
      image/<driver>/distribution/                              diffid <-> blob digests, docker's files
                                                                 (store.distribution) and kept blobs
                                                                 (store.blobs)
      <driver>/<cache-id>/{diff,link,lower,work,merged}         overlay2 layer directories
      <driver>/l/<short-id> -> ../<cache-id>/diff               keeps mount options short
      build/sums.json                                           content sums of build-context files by
                                                                 path, inode, size, mtime and ctime (a
                                                                 cache: rebuilds skip unchanged files)
      containers/<id>/...                                       container state
      volumes/<name>/_data
      network/networks/<network-id>.json                        a network (lamina.network.store: JSON
                                                                 instead of docker's local-kv.db)
      network/endpoints/<network-id>/<container-id>.json        a container's attachment to it
      network/ipam/<network-id>/<address>                       address leases (CNI host-local's form)
      network/ports/<proto>-<port>                              published host ports
      network/dns/{server.lock,control.sock,server.log}         the embedded DNS server
      ingest/sha256/<hex>                                       blobs being pulled, kept across a killed
                                                                 pull and resumed (store.ingest); lamina's
      tmp/                                                      scratch space; leases/ lives here

Every name that comes from outside (a digest, an ID) is validated before it reaches a path:
callers pass Digest values or hex IDs checked by ``check_hex_id``.
"""

from __future__ import annotations

import os

from ..digest import Digest
from ..errors import InvalidArgument
from ..value import Value

_HEX = frozenset("0123456789abcdef")


def is_hex_id(value: str) -> bool:
    """64 lowercase hex characters (checked without ``re``: the lean commands import this)."""
    return isinstance(value, str) and len(value) == 64 and _HEX.issuperset(value)


def check_hex_id(value: str) -> str:
    """Return ``value`` if it is 64 lowercase hex characters (a safe path component)."""
    if not is_hex_id(value):
        raise InvalidArgument(f"invalid ID: {value!r}")
    return value


def check_layer_dir_id(value: str) -> str:
    """Return ``value`` if it names a graph-driver directory: a hex cache ID, or a container's
    init layer (``<mount-id>-init``, as docker names it)."""
    if not is_hex_id(value[:-5] if isinstance(value, str) and value.endswith("-init") else value):
        raise InvalidArgument(f"invalid layer ID: {value!r}")
    return value


class DataRoot(Value):
    """Builds every path under one data root for one storage driver."""

    __slots__ = ("root", "driver")
    root: str
    driver: str

    def __init__(self, root: str, driver: str = "overlay2") -> None:
        self._init(root=root, driver=driver)

    @property
    def image_dir(self) -> str:
        return os.path.join(self.root, "image", self.driver)

    # imagedb
    def imagedb_content(self) -> str:
        return os.path.join(self.image_dir, "imagedb", "content", "sha256")

    def image_config(self, image_id: Digest) -> str:
        return os.path.join(self.imagedb_content(), _sha256_hex(image_id))

    def imagedb_metadata(self, image_id: Digest) -> str:
        return os.path.join(self.image_dir, "imagedb", "metadata", "sha256", _sha256_hex(image_id))

    # layerdb
    def layerdb(self) -> str:
        return os.path.join(self.image_dir, "layerdb", "sha256")

    def layer(self, chain_id: Digest) -> str:
        return os.path.join(self.layerdb(), _sha256_hex(chain_id))

    def layerdb_tmp(self) -> str:
        return os.path.join(self.image_dir, "layerdb", "tmp")

    def layerdb_mounts(self) -> str:
        return os.path.join(self.image_dir, "layerdb", "mounts")

    def repositories_json(self) -> str:
        return os.path.join(self.image_dir, "repositories.json")

    def distribution(self) -> str:
        return os.path.join(self.image_dir, "distribution")

    # graph driver
    def driver_home(self) -> str:
        return os.path.join(self.root, self.driver)

    def driver_dir(self, cache_id: str) -> str:
        return os.path.join(self.driver_home(), check_layer_dir_id(cache_id))

    # containers, volumes, scratch
    def containers(self) -> str:
        return os.path.join(self.root, "containers")

    def container(self, container_id: str) -> str:
        return os.path.join(self.containers(), check_hex_id(container_id))

    def container_mount(self, container_id: str) -> str:
        """``layerdb/mounts/<id>/{init-id,mount-id,parent}``: which driver dirs a container uses."""
        return os.path.join(self.layerdb_mounts(), check_hex_id(container_id))

    def volumes(self) -> str:
        return os.path.join(self.root, "volumes")

    def tmp(self) -> str:
        return os.path.join(self.root, "tmp")

    def ingest(self) -> str:
        return os.path.join(self.root, "ingest")

    def leases(self) -> str:
        return os.path.join(self.tmp(), "leases")

    def lock_file(self) -> str:
        return os.path.join(self.root, "lamina.lock")

    def skeleton(self) -> list[str]:
        """The directories every command may assume exist."""
        return [
            self.imagedb_content(),
            os.path.join(self.image_dir, "imagedb", "metadata", "sha256"),
            self.layerdb(),
            self.layerdb_tmp(),
            self.layerdb_mounts(),
            self.distribution(),
            self.driver_home(),
            self.containers(),
            self.volumes(),
            self.leases(),
        ]


def _sha256_hex(digest: Digest) -> str:
    if not isinstance(digest, Digest) or digest.algorithm != "sha256":
        raise InvalidArgument(f"expected a sha256 digest, got {digest!r}")
    return digest.hex
