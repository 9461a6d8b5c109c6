"""Images for tests: multi-layer images made the ways real images are made (a ``docker save``
archive of hand-made layer tars, or a chain of committed images in a store, each step an image
whose parent is the step before, as docker's classic builder and ``commit`` leave them), and a
stored image's merged filesystem read through lamina.build.imagefs."""

from __future__ import annotations

import hashlib
import io
import json
import os
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass

from ..build.imagefs import ImageFS
from ..digest import Digest
from ..oci import canonical_json


@dataclass(frozen=True)
class StepSpec:
    """One history entry: ``layer`` is its tar (None for a metadata-only instruction)."""

    created_by: str
    layer: bytes | None = None
    #: (Dockerfile, line, instruction) as ``lamina build`` records it, if any
    build: tuple[str, int, str] | None = None


def _config(steps: Sequence[StepSpec]) -> dict:
    history, diff_ids = [], []
    for i, step in enumerate(steps):
        entry = {"created": f"2024-01-01T00:00:{i:02d}Z", "created_by": step.created_by}
        if step.layer is None:
            entry["empty_layer"] = True
        else:
            diff_ids.append("sha256:" + hashlib.sha256(step.layer).hexdigest())
        history.append(entry)
    return {
        "architecture": "amd64",
        "os": "linux",
        "created": history[-1]["created"] if history else "2024-01-01T00:00:00Z",
        "config": {"Cmd": ["sh"]},
        "history": history,
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    }


def docker_archive(steps: Sequence[StepSpec], tag: str) -> bytes:
    """A ``docker save`` tar (manifest.json, config, one ``<hex>/layer.tar`` per layer)."""
    config = canonical_json(_config(steps))
    config_name = hashlib.sha256(config).hexdigest() + ".json"
    members: list[tuple[str, bytes]] = [(config_name, config)]
    layer_paths = []
    for step in steps:
        if step.layer is None:
            continue
        path = f"{hashlib.sha256(step.layer).hexdigest()}/layer.tar"
        if path not in layer_paths:
            members.append((path, step.layer))
        layer_paths.append(path)
    manifest = [{"Config": config_name, "RepoTags": [tag], "Layers": layer_paths}]
    members.append(("manifest.json", json.dumps(manifest).encode()))
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for name, data in members:
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def commit_steps(engine, steps: Sequence[StepSpec], tag: str | None = None) -> list[Digest]:
    """Commit the steps as a chain of images (``image.commit``, the path ``commit`` and
    ``build`` take), one per step, each the parent of the next, and write the ``lamina-build``
    record of the steps that have one. Returns the image IDs."""
    from ..image.commit import CommitSpec, TarLayer, commit_image
    from ..image.explore.source import BUILD_RECORD

    ids: list[Digest] = []
    for count, step in enumerate(steps, 1):
        layer = TarLayer(io.BytesIO(step.layer)) if step.layer is not None else None
        spec = CommitSpec(config={"Cmd": ["sh"]}, created_by=step.created_by, created=f"2024-01-01T00:00:{count:02d}Z")
        last = count == len(steps)
        image_id = commit_image(engine.images, ids[-1] if ids else None, layer, spec, tag if last else None)
        if step.build is not None:
            dockerfile, line, instruction = step.build
            meta = engine.store.paths.imagedb_metadata(image_id)
            os.makedirs(meta, exist_ok=True)
            with open(os.path.join(meta, BUILD_RECORD), "w") as f:
                json.dump({"dockerfile": dockerfile, "line": line, "instruction": instruction}, f)
        ids.append(image_id)
    return ids


def image_fs(engine, image_id: Digest) -> ImageFS:
    """The image's files as its layers stack them (whiteouts and opaque directories honoured)."""
    config = engine.store.images.get(image_id)
    layers = engine.store.layer_chain(list(config.diff_ids))
    driver = engine.store.driver
    return ImageFS([driver.diff_dir(layer.cache_id) for layer in reversed(layers)], driver.whiteouts == "overlay")
