"""Compressed layer blobs kept as they arrived, so they can leave again with the same digests.

A layer is stored extracted (plus its tar-split), which rebuilds the *uncompressed* tar byte for
byte. A gzip or zstd blob made by another tool cannot be rebuilt from that: compressors differ.
So when ``load`` reads a compressed layer blob (an OCI layout's), the blob is kept here, and
``save`` in that compression sends it as it came: the layer keeps its blob digest. (The manifest
``save`` writes is lamina's own serialisation, so a manifest digest from another tool is not
preserved; that would need the manifest kept too.)

Layout, under ``image/<driver>/distribution/`` (docker's directory for registry metadata)::

    diffid-by-digest/sha256/<blob hex>      the DiffID the blob decompresses to (docker's file)
    blobs/sha256/<blob hex>                 the blob (lamina's)
    blob-by-diffid/sha256/<diff hex>/<kind> the blob digest kept for a DiffID in gzip|zstd (lamina's)

A blob lives exactly as long as a layer with its DiffID: ``forget_unused`` runs whenever layers
are deleted, and ``system check`` reports (and repairs) any left over. Callers hold the store lock
for writes; the blob file is renamed into place before the two index files, so a crash leaves at
most a blob without index, which check finds.
"""

from __future__ import annotations

import os

from ..digest import Digest
from ..errors import InvalidArgument
from ..value import Value
from .atomic import unlink_quietly, write_file
from .paths import DataRoot

__all__ = ["BlobStore", "KeptBlob", "KINDS"]

KINDS = ("gzip", "zstd")


class KeptBlob(Value):
    __slots__ = ("digest", "diff_id", "path", "size")
    digest: Digest
    diff_id: Digest
    path: str
    size: int

    def __init__(self, digest: Digest, diff_id: Digest, path: str, size: int) -> None:
        self._init(digest=digest, diff_id=diff_id, path=path, size=size)


class BlobStore:
    def __init__(self, paths: DataRoot) -> None:
        self.base = paths.distribution()

    def _blob(self, digest: Digest) -> str:
        return os.path.join(self.base, "blobs", digest.algorithm, digest.hex)

    def _diffid_by_digest(self, digest: Digest) -> str:
        return os.path.join(self.base, "diffid-by-digest", digest.algorithm, digest.hex)

    def _by_diffid(self, diff_id: Digest) -> str:
        return os.path.join(self.base, "blob-by-diffid", diff_id.algorithm, diff_id.hex)

    # writes (under the store lock) ------------------------------------------------------------
    def keep(self, tmp_path: str, digest: Digest, diff_id: Digest, kind: str) -> None:
        """Move the verified blob at ``tmp_path`` into the store for ``diff_id``."""
        if kind not in KINDS or digest.algorithm != "sha256":
            raise ValueError(f"kept blobs are sha256-named gzip or zstd, not {digest.algorithm} {kind!r}")
        replaced = self.find(diff_id, kind)
        target = self._blob(digest)
        os.makedirs(os.path.dirname(target), exist_ok=True)
        os.replace(tmp_path, target)
        for path, text in ((self._diffid_by_digest(digest), diff_id), (os.path.join(self._by_diffid(diff_id), kind), digest)):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_file(path, str(text).encode())
        if replaced is not None and replaced.digest != digest:  # one blob per DiffID and kind
            self.remove(replaced.digest)

    def remove(self, digest: Digest) -> None:
        diff_id = self.diff_id_of(digest)
        for path in (self._blob(digest), self._diffid_by_digest(digest)):
            unlink_quietly(path)
        if diff_id is not None:
            for kind in KINDS:
                index = os.path.join(self._by_diffid(diff_id), kind)
                if self._read_digest(index) == digest:
                    unlink_quietly(index)
            _rmdir(self._by_diffid(diff_id))

    def forget_unused(self, live_diff_ids: set[Digest]) -> None:
        """Remove blobs whose DiffID no layer has any more."""
        for blob in self.entries():
            if blob.diff_id not in live_diff_ids:
                self.remove(blob.digest)

    # reads -----------------------------------------------------------------------------------
    def find(self, diff_id: Digest, kind: str) -> KeptBlob | None:
        digest = self._read_digest(os.path.join(self._by_diffid(diff_id), kind))
        if digest is None:
            return None
        path = self._blob(digest)
        try:
            size = os.path.getsize(path)
        except OSError:
            return None
        return KeptBlob(digest, diff_id, path, size)

    def diff_id_of(self, digest: Digest) -> Digest | None:
        return self._read_digest(self._diffid_by_digest(digest))

    def entries(self) -> list[KeptBlob]:
        """Every kept blob with its DiffID; a blob whose ``diffid-by-digest`` entry is missing
        (a crash between the writes) is skipped here and reported by ``orphans``."""
        out = []
        for digest, path, size in self._blob_files():
            diff_id = self.diff_id_of(digest)
            if diff_id is not None:
                out.append(KeptBlob(digest, diff_id, path, size))
        return out

    def orphans(self, live_diff_ids: set[Digest]) -> list[str]:
        """Blob files no layer needs, or that lost their index (a crash between the writes)."""
        out = []
        for digest, path, _ in self._blob_files():
            diff_id = self.diff_id_of(digest)
            if diff_id is None or diff_id not in live_diff_ids:
                out.append(path)
        return out

    def any(self) -> bool:
        try:
            return bool(os.listdir(os.path.join(self.base, "blobs", "sha256")))
        except FileNotFoundError:
            return False

    def total_size(self) -> int:
        return sum(size for _, _, size in self._blob_files())

    def size_for(self, diff_id: Digest) -> int:
        return sum(blob.size for blob in (self.find(diff_id, k) for k in KINDS) if blob is not None)

    def _blob_files(self) -> list[tuple[Digest, str, int]]:
        root = os.path.join(self.base, "blobs", "sha256")
        try:
            names = sorted(os.listdir(root))
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            try:
                digest = Digest("sha256", name)
                path = os.path.join(root, name)
                out.append((digest, path, os.path.getsize(path)))
            except (InvalidArgument, OSError):
                continue
        return out

    @staticmethod
    def _read_digest(path: str) -> Digest | None:
        try:
            with open(path) as f:
                return Digest.parse(f.read().strip())
        except (OSError, ValueError, InvalidArgument):  # unreadable is as good as absent
            return None


def _rmdir(path: str) -> None:
    try:
        os.rmdir(path)
    except OSError:
        pass
