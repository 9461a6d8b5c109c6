"""OCI and Docker image documents as read-only values (pure: no I/O).

Every document keeps the exact bytes it was parsed from (``raw``), because identities are
hashes of bytes: re-serialising a parsed manifest would change its digest.
"""

from . import mediatypes
from .model import (
    Descriptor,
    ImageConfig,
    Index,
    Manifest,
    Platform,
    canonical_json,
    chain_ids,
    parse_manifest_or_index,
)

__all__ = [
    "mediatypes",
    "Descriptor",
    "Platform",
    "Manifest",
    "Index",
    "ImageConfig",
    "canonical_json",
    "chain_ids",
    "parse_manifest_or_index",
]
