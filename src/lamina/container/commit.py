"""``container commit`` and ``container export``: a container's filesystem as an image or a tar.

Commit is docker's ``daemon.CreateImageFromContainer``: the new image's config is the
container's config with the ``-c`` changes applied (then docker's ``merge`` with the container's
config: User, ExposedPorts, Env, Labels, Cmd/Entrypoint, Healthcheck, WorkingDir, Volumes,
StopSignal), the container's config is kept as ``container_config``, its ID as ``container``, and
the layer is the container's upper directory (``image.commit``).
"""

from __future__ import annotations

import copy
import os
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, BinaryIO

from ..digest import Digest
from ..errors import NotFound
from ..image.changes import apply_changes
from . import filesystem

if TYPE_CHECKING:
    from ..image.service import ImageService


def commit_config(changes: Sequence[str], container_config: Mapping[str, Any]) -> dict[str, Any]:
    """docker's ``merge(BuildFromConfig(container.Config, changes), container.Config)``: the
    container's config with the changes applied, what they emptied filled from it again."""
    base = copy.deepcopy(dict(container_config))
    user = apply_changes(copy.deepcopy(base), list(changes))
    if not user.get("User"):
        user["User"] = base.get("User") or ""
    if not user.get("ExposedPorts"):
        user["ExposedPorts"] = base.get("ExposedPorts")
    else:
        for port, value in (base.get("ExposedPorts") or {}).items():
            user["ExposedPorts"].setdefault(port, value)
    if not user.get("Env"):
        user["Env"] = base.get("Env")
    else:
        keys = {e.split("=", 1)[0] for e in user["Env"]}
        user["Env"] = list(user["Env"]) + [e for e in base.get("Env") or [] if e.split("=", 1)[0] not in keys]
    labels = dict(user.get("Labels") or {})
    for key, value in (base.get("Labels") or {}).items():
        labels.setdefault(key, value)
    user["Labels"] = labels
    if not user.get("Entrypoint"):
        if not user.get("Cmd"):
            user["Cmd"] = base.get("Cmd")
            if "ArgsEscaped" in base:
                user["ArgsEscaped"] = base["ArgsEscaped"]
        if user.get("Entrypoint") is None and "Entrypoint" not in user:
            user["Entrypoint"] = base.get("Entrypoint")
    if base.get("Healthcheck") and not user.get("Healthcheck"):
        user["Healthcheck"] = base["Healthcheck"]
    if not user.get("WorkingDir"):
        user["WorkingDir"] = base.get("WorkingDir") or ""
    if not user.get("Volumes"):
        user["Volumes"] = base.get("Volumes")
    else:
        user["Volumes"] = {**user["Volumes"], **(base.get("Volumes") or {})}
    if not user.get("StopSignal") and base.get("StopSignal"):
        user["StopSignal"] = base["StopSignal"]
    if user.get("ExposedPorts") is None:
        user.pop("ExposedPorts", None)  # omitempty in docker's struct
    return user


def commit_container(
    images: ImageService,
    ref: str,
    repository: str | None = None,
    *,
    message: str = "",
    author: str = "",
    changes: Sequence[str] = (),
    pause: bool = True,
    pauser: Callable[[str], Any] | None = None,
) -> Digest:
    """The container's changes as a new image (on top of the container's image); returns its ID.

    ``pauser(container_id)`` is a context-manager factory that freezes a running container for
    the duration (docker pauses by default, so the layer is a consistent snapshot); without one
    the running container's files are read as they are.
    """
    from ..image.commit import CommitSpec, UpperDirLayer, commit_image

    store = images.store
    container = filesystem.resolve(store.paths, ref)
    if container.image_id is None or not store.images.exists(container.image_id):
        raise NotFound(f"the image of container {container.id[:12]} is no longer stored")
    upper = filesystem.upper_dir(store.paths, container)
    spec = CommitSpec(
        config=commit_config(changes, container.config),
        container_config=container.config,
        container=container.id,
        author=author,
        comment=message,
        created_by=" ".join(container.config.get("Cmd") or []),
    )
    from contextlib import nullcontext

    frozen = pauser(container.id) if (pause and container.running and not container.paused and pauser) else nullcontext()
    with frozen:
        if store.driver.name == "overlay2":
            return commit_image(images, container.image_id, UpperDirLayer(upper), spec, reference=repository)
        # vfs keeps whole trees: the layer is what differs from the tree the container started from
        from ..archive.create import write_layer_from_dirs
        from ..archive.pipe import piped
        from ..image.commit import TarLayer

        init = os.path.join(store.paths.driver_home(), "dir", container.init_id)
        with piped(lambda out: write_layer_from_dirs(init, upper, out)) as stream:
            return commit_image(images, container.image_id, TarLayer(stream), spec, reference=repository)


def export_container(images: ImageService, ref: str, out: BinaryIO) -> None:
    """``export``: the container's whole filesystem as one tar (what ``import`` takes)."""
    from ..archive.create import write_tree

    store = images.store
    container = filesystem.resolve(store.paths, ref)
    with filesystem.mounted_rootfs(store, container) as root:
        write_tree(root, out)
