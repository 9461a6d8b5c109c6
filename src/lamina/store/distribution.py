"""Which registry blobs a layer has been, in docker's own files (its ``distribution/`` dir).

docker keeps, per DiffID, the compressed blob digests it pulled the layer as or pushed it as,
and where (``v2metadata-by-diffid``), and the reverse (``diffid-by-digest``). Pull records a
layer's blob here; push reads it to HEAD or mount a blob instead of compressing and uploading
the layer again, and writes the digest it compressed to. The files are docker's shape, so a
dockerd on this data root reads them too::

    image/<driver>/distribution/diffid-by-digest/sha256/<blob hex>   "sha256:<diffid>"
    image/<driver>/distribution/v2metadata-by-diffid/sha256/<diffid hex>
        [{"Digest": "sha256:…", "SourceRepository": "docker.io/library/busybox", "HMAC": "",
          "MediaType": "…", "Size": N}]

``MediaType`` and ``Size`` are lamina's additions (docker ignores fields it does not know):
push needs them to describe a blob it does not hold. Writes happen under the store lock.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass

from ..digest import Digest
from ..errors import InvalidArgument
from .atomic import write_file
from .paths import DataRoot

__all__ = ["BlobRecord", "DistributionMap"]

#: docker keeps at most this many records per layer (its v2 metadata service does the same)
MAX_RECORDS = 50


@dataclass(frozen=True)
class BlobRecord:
    digest: Digest
    source_repository: str  # the full repository name: host/path
    media_type: str = ""
    size: int | None = None

    def to_json(self) -> dict:
        out: dict = {"Digest": str(self.digest), "SourceRepository": self.source_repository, "HMAC": ""}
        if self.media_type:
            out["MediaType"] = self.media_type
        if self.size is not None:
            out["Size"] = self.size
        return out

    @property
    def registry(self) -> str:
        return self.source_repository.split("/", 1)[0]

    @property
    def path(self) -> str:
        return self.source_repository.split("/", 1)[-1]


class DistributionMap:
    def __init__(self, paths: DataRoot) -> None:
        self.base = paths.distribution()

    def _by_diffid(self, diff_id: Digest) -> str:
        return os.path.join(self.base, "v2metadata-by-diffid", diff_id.algorithm, diff_id.hex)

    def _diffid_by_digest(self, digest: Digest) -> str:
        return os.path.join(self.base, "diffid-by-digest", digest.algorithm, digest.hex)

    def records(self, diff_id: Digest) -> list[BlobRecord]:
        try:
            with open(self._by_diffid(diff_id), "rb") as f:
                doc = json.load(f)
        except (OSError, ValueError):
            return []
        out = []
        for entry in doc if isinstance(doc, list) else []:
            try:
                size = entry.get("Size")
                out.append(
                    BlobRecord(
                        Digest.parse(entry["Digest"]),
                        str(entry["SourceRepository"]),
                        str(entry.get("MediaType") or ""),
                        size if isinstance(size, int) and size >= 0 else None,
                    )
                )
            except (KeyError, TypeError, AttributeError, InvalidArgument):
                continue  # one unreadable record is skipped, never fatal
        return out

    def diff_id_of(self, digest: Digest) -> Digest | None:
        try:
            with open(self._diffid_by_digest(digest)) as f:
                return Digest.parse(f.read().strip())
        except (OSError, InvalidArgument):
            return None

    def add(self, diff_id: Digest, record: BlobRecord) -> None:
        """Remember that ``diff_id`` is the blob ``record.digest`` in its repository (newest
        last, duplicates replaced). Caller holds the store lock."""
        kept = [r for r in self.records(diff_id) if (r.digest, r.source_repository) != (record.digest, record.source_repository)]
        kept.append(record)
        kept = kept[-MAX_RECORDS:]
        for path, data in (
            (self._diffid_by_digest(record.digest), str(diff_id).encode()),
            (self._by_diffid(diff_id), json.dumps([r.to_json() for r in kept]).encode()),
        ):
            os.makedirs(os.path.dirname(path), exist_ok=True)
            write_file(path, data)
