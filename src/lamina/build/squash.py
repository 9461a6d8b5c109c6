"""``build --squash``: the layers a build added, merged into one on top of its base image.

As docker's ``SquashImage``: the new image has the base's layers plus one layer holding the
net change of everything the build did (files deleted by a later step are absent; a file
deleted from the base is a whiteout), the full history with the build's entries marked
``empty_layer`` and one more entry for the merged layer, and the base as its imagedb parent.

Under overlay2 the merged change is assembled in a scratch directory in the overlay upper-dir
format (files hard-linked from the layer directories, whiteouts as 0:0 devices, opaque
directories marked) and committed like a container's upper directory; under vfs, where every
layer directory holds the whole tree, it is the difference of the base's tree and the final one.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
from typing import TYPE_CHECKING

from ..digest import Digest
from ..image import config as cfg

if TYPE_CHECKING:
    from .executor import Builder, _Stage

_OPAQUE = "trusted.overlay.opaque"


def _is_whiteout(st: os.stat_result) -> bool:
    return stat.S_ISCHR(st.st_mode) and st.st_rdev == 0


def _opaque(path: str) -> bool:
    try:
        return os.getxattr(path, _OPAQUE, follow_symlinks=False) == b"y"
    except OSError:
        return False


def _merge(layers: list[str], rel: str, out: str) -> None:
    """Write into ``out/rel`` the union of directory ``rel`` across ``layers`` (top first)."""
    seen: set[str] = set()
    for index, layer in enumerate(layers):
        directory = os.path.join(layer, rel) if rel else layer
        try:
            entries = sorted(os.scandir(directory), key=lambda e: e.name)
        except (FileNotFoundError, NotADirectoryError):
            continue
        for entry in entries:
            if entry.name in seen:
                continue
            seen.add(entry.name)
            child = os.path.join(rel, entry.name) if rel else entry.name
            st = entry.stat(follow_symlinks=False)
            target = os.path.join(out, child)
            if stat.S_ISDIR(st.st_mode):
                os.mkdir(target, stat.S_IMODE(st.st_mode))
                if _opaque(entry.path):
                    os.setxattr(target, _OPAQUE, b"y", follow_symlinks=False)
                    _merge([entry.path], "", target)
                else:
                    _merge(layers[index:], child, out)
                os.chown(target, st.st_uid, st.st_gid)
                os.chmod(target, stat.S_IMODE(st.st_mode))
                os.utime(target, ns=(st.st_atime_ns, st.st_mtime_ns))
            elif _is_whiteout(st):
                os.mknod(target, stat.S_IFCHR | 0o000, os.makedev(0, 0))
            else:
                os.link(entry.path, target, follow_symlinks=False)
        if os.path.isdir(directory) and _opaque(directory):
            break


def squash(builder: Builder, target: _Stage, image_id: Digest) -> Digest:
    from ..image.commit import CommitSpec, TarLayer, UpperDirLayer, commit_image

    store = builder.store
    base_id = target.base_id
    doc = store.images.get(image_id).doc
    base_doc = store.images.get(base_id).doc if base_id else {}
    base_layers = len(base_doc.get("rootfs", {}).get("diff_ids") or [])
    base_history = len(base_doc.get("history") or [])
    layers = store.layer_chain(list(store.images.get(image_id).diff_ids))
    new_layers = layers[base_layers:]
    driver = store.driver
    created = builder._created()
    spec = CommitSpec(
        config=doc.get("config"),
        container_config=doc.get("container_config"),
        author=doc.get("author", ""),
        comment=f"merge {image_id} to {base_id}" if base_id else f"merge {image_id}",
        created=created,
    )
    scratch = tempfile.mkdtemp(prefix="squash-", dir=store.paths.tmp())
    try:
        if not new_layers:
            new_id = commit_image(builder.images, base_id, None, spec)
        elif driver.whiteouts == "overlay":
            upper = os.path.join(scratch, "upper")
            os.mkdir(upper)
            _merge([driver.diff_dir(layer.cache_id) for layer in reversed(new_layers)], "", upper)
            new_id = commit_image(builder.images, base_id, UpperDirLayer(upper), spec)
        else:
            from ..archive.create import write_layer_from_dirs

            old = driver.diff_dir(layers[base_layers - 1].cache_id) if base_layers else os.path.join(scratch, "empty")
            os.makedirs(old, exist_ok=True)
            tar_path = os.path.join(scratch, "layer.tar")
            with open(tar_path, "wb") as out:
                write_layer_from_dirs(old, driver.diff_dir(layers[-1].cache_id), out)
            with open(tar_path, "rb") as stream:
                new_id = commit_image(builder.images, base_id, TarLayer(stream), spec)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return _rewrite_history(builder, new_id, doc, base_history, base_id)


def _rewrite_history(builder: Builder, squashed: Digest, built: dict, base_history: int, base_id: Digest | None) -> Digest:
    """docker's squashed history: the build's entries kept as empty layers, then the merge."""
    from ..oci import canonical_json

    store = builder.store
    doc = dict(store.images.get(squashed).doc)
    history = [dict(h) for h in built.get("history") or []]
    for entry in history[base_history:]:
        entry["empty_layer"] = True
    merge = (doc.get("history") or [])[-1]
    doc["history"] = [*history, merge]
    doc["created"] = merge.get("created") or cfg.now_rfc3339()
    image_id = store.register_image(canonical_json(doc), base_id)
    if image_id != squashed:
        store.images.delete(squashed)
    return image_id
