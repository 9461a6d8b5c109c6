"""OCI and Docker image documents as read-only values (pure: no I/O).

Every document keeps the exact bytes it was parsed from (``raw``), because identities are
hashes of bytes: re-serialising a parsed manifest would change its digest.

Names load on first use: image configs, canonical JSON and ChainIDs (``oci.config``) are on
every command's path; manifests and indexes (``oci.model``) only on those that move images.
"""

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

_WHERE = {
    "mediatypes": None,
    "Descriptor": ".model",
    "Platform": ".model",
    "Manifest": ".model",
    "Index": ".model",
    "parse_manifest_or_index": ".model",
    "ImageConfig": ".config",
    "canonical_json": ".config",
    "chain_ids": ".config",
}


def __getattr__(name: str):
    if name not in _WHERE:
        raise AttributeError(f"module 'lamina.oci' has no attribute {name!r}")
    # __import__, not importlib.import_module: importlib's package loads ``warnings``
    if _WHERE[name] is None:
        return __import__(f"{__name__}.{name}", fromlist=("__name__",))
    value = getattr(__import__(f"{__name__}{_WHERE[name]}", fromlist=("__name__",)), name)
    globals()[name] = value
    return value
