"""Distribution's storage layout (registry/storage/paths.go), so directories are shared.

::

    /docker/registry/v2/blobs/<alg>/<hex[:2]>/<hex>/data
    /docker/registry/v2/repositories/<name>/_layers/<alg>/<hex>/link
    /docker/registry/v2/repositories/<name>/_manifests/revisions/<alg>/<hex>/link
    /docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/current/link
    /docker/registry/v2/repositories/<name>/_manifests/tags/<tag>/index/<alg>/<hex>/link
    /docker/registry/v2/repositories/<name>/_uploads/<uuid>/{data,startedat,hashstates/<alg>/<offset>}

lamina adds one directory Distribution ignores, an index for the referrers API:
``repositories/<name>/_referrers/<subject-alg>/<subject-hex>/<alg>/<hex>/link``.
Every digest and name reaching these functions has been validated; the ``assert``-free
checks below are a second line against path injection.
"""

from __future__ import annotations

from ...digest import Digest

ROOT = "/docker/registry/v2"


def _check(part: str) -> str:
    if not part or part in (".", "..") or "\0" in part or part.startswith("/"):
        raise ValueError(f"invalid path component {part!r}")
    return part


def blobs_root() -> str:
    return f"{ROOT}/blobs"


def blob_dir(d: Digest) -> str:
    return f"{ROOT}/blobs/{d.algorithm}/{d.hex[:2]}/{d.hex}"


def blob_data(d: Digest) -> str:
    return f"{blob_dir(d)}/data"


def blob_sweep_mark(d: Digest) -> str:
    """lamina's marker of a collection about to sweep the blob, on storage with no shared lock
    (an object store): servers that find it wait for the sweep's verdict before relying on
    the blob. Distribution reads only ``data`` in a blob's directory."""
    return f"{blob_dir(d)}/sweeping"


def blob_last_used(d: Digest) -> str:
    """lamina's marker of a push's use of a blob on storage that cannot renew an mtime cheaply."""
    return f"{blob_dir(d)}/lastused"


def repositories_root() -> str:
    return f"{ROOT}/repositories"


def repo(name: str) -> str:
    for part in name.split("/"):
        _check(part)
    return f"{ROOT}/repositories/{name}"


def layer_link(name: str, d: Digest) -> str:
    return f"{repo(name)}/_layers/{d.algorithm}/{d.hex}/link"


def layers_root(name: str) -> str:
    return f"{repo(name)}/_layers"


def revision_link(name: str, d: Digest) -> str:
    return f"{repo(name)}/_manifests/revisions/{d.algorithm}/{d.hex}/link"


def revisions_root(name: str) -> str:
    return f"{repo(name)}/_manifests/revisions"


def tags_root(name: str) -> str:
    return f"{repo(name)}/_manifests/tags"


def tag_dir(name: str, tag: str) -> str:
    return f"{tags_root(name)}/{_check(tag)}"


def tag_current(name: str, tag: str) -> str:
    return f"{tag_dir(name, tag)}/current/link"


def tag_index(name: str, tag: str, d: Digest) -> str:
    return f"{tag_dir(name, tag)}/index/{d.algorithm}/{d.hex}/link"


def uploads_root(name: str) -> str:
    return f"{repo(name)}/_uploads"


def upload_dir(name: str, uuid: str) -> str:
    return f"{uploads_root(name)}/{_check(uuid)}"


def upload_data(name: str, uuid: str) -> str:
    return f"{upload_dir(name, uuid)}/data"


def upload_started(name: str, uuid: str) -> str:
    return f"{upload_dir(name, uuid)}/startedat"


def referrers_dir(name: str, subject: Digest) -> str:
    return f"{repo(name)}/_referrers/{subject.algorithm}/{subject.hex}"


def referrer_link(name: str, subject: Digest, d: Digest) -> str:
    return f"{referrers_dir(name, subject)}/{d.algorithm}/{d.hex}/link"
