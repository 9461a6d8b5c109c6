"""MountPoints of config.v2.json from ``-v``, ``--mount`` and ``--tmpfs``, and their OCI mounts.

Binds are resolved here. Named and anonymous volumes resolve to a host directory through one
seam, ``volume_source``: it calls ``lamina.volume`` (the volumes package) when that package is
installed, and until then refuses them with one line.
"""

from __future__ import annotations

import os

from ..errors import InvalidArgument, Unsupported
from .options import ContainerSpec, parse_volume

TYPE_CHECKING = False  # annotations only: ``run`` loads this module, and typing costs ~3 ms there
if TYPE_CHECKING:
    from typing import Any

    from ..store.store import Store


def volume_source(store: Store, name: str, target: str, image: str) -> tuple[str, str]:
    """(volume name, host directory) for a named (``name``) or anonymous (``""``) volume at
    ``target``: the one place containers ask the volumes package for a path."""
    try:
        from .. import volume as volumes  # type: ignore[attr-defined]
    except ImportError:
        volumes = None
    resolve = getattr(volumes, "resolve_for_container", None) if volumes else None
    if resolve is None:
        raise Unsupported(f"volumes are not available in this build: use a bind mount (-v /host/dir:{target})")
    return resolve(store, name, target, image)


def _bind_point(source: str, target: str, read_only: bool, mode: str, spec_doc: dict[str, Any] | None,
                propagation: str = "rprivate") -> dict[str, Any]:
    return {
        "Source": source,
        "Destination": target,
        "RW": not read_only,
        "Name": "",
        "Driver": "",
        "Type": "bind",
        "Relabel": "",
        "Propagation": propagation,
        "Spec": spec_doc or {},
        "SkipMountpointCreation": False,
        **({"Mode": mode} if mode else {}),
    }


def mount_points(store: Store, spec: ContainerSpec, image_volumes: Any = None) -> dict[str, Any]:
    """MountPoints for the flags, then an anonymous volume for each of the image's VOLUME paths
    (``image_volumes``, its config's Volumes) that no flag covers, as docker makes them."""
    points: dict[str, Any] = {}

    def add(target: str, point: dict[str, Any]) -> None:
        target = os.path.normpath(target)
        if target in points:
            raise InvalidArgument(f"Duplicate mount point: {target}")
        points[target] = point

    for text in spec.volumes:
        m = parse_volume(text)
        if m["Type"] == "bind":
            source = os.path.normpath(m["Source"])
            # -v creates a missing host directory, as docker does
            os.makedirs(source, exist_ok=True)
            add(m["Target"], _bind_point(source, m["Target"], m["ReadOnly"], m["Mode"], None))
        else:
            name, path = volume_source(store, m["Source"], m["Target"], spec.image)
            add(m["Target"], {
                "Source": path, "Destination": m["Target"], "RW": not m["ReadOnly"], "Name": name,
                "Driver": "local", "Type": "volume", "Relabel": "", "Propagation": "",
                "Spec": {}, "SkipMountpointCreation": False, "Mode": m["Mode"] or "z",
            })
    for m in spec.mounts:
        if m["Type"] == "bind":
            source = os.path.normpath(m["Source"])
            if not os.path.exists(source):
                raise InvalidArgument(f'invalid mount config for type "bind": bind source path does not exist: {source}')
            propagation = (m.get("BindOptions") or {}).get("Propagation") or "rprivate"
            add(m["Target"], _bind_point(source, m["Target"], m.get("ReadOnly", False), "", dict(m), propagation))
        elif m["Type"] == "volume":
            name, path = volume_source(store, m.get("Source", ""), m["Target"], spec.image)
            add(m["Target"], {
                "Source": path, "Destination": m["Target"], "RW": not m.get("ReadOnly"), "Name": name,
                "Driver": "local", "Type": "volume", "Relabel": "", "Propagation": "",
                "Spec": dict(m), "SkipMountpointCreation": False,
            })
        # tmpfs mounts live in HostConfig.Mounts / Tmpfs only, as docker keeps them
    for target in sorted(image_volumes or ()):
        if os.path.normpath(target) in points:
            continue
        name, path = volume_source(store, "", target, spec.image)
        add(target, {
            "Source": path, "Destination": target, "RW": True, "Name": name,
            "Driver": "local", "Type": "volume", "Relabel": "", "Propagation": "",
            "Spec": {}, "SkipMountpointCreation": False,
        })
    return points


def oci_mounts(points: dict[str, Any], host_config: dict[str, Any]) -> list[dict[str, Any]]:
    """The runtime spec's mounts for a container's binds, volumes and tmpfs."""
    out = []
    for target in sorted(points, key=lambda t: t.count("/")):
        p = points[target]
        options = ["rbind", p.get("Propagation") or "rprivate"]
        if not p.get("RW", True):
            options.append("ro")
        out.append({"destination": target, "type": "bind", "source": p["Source"], "options": options})
    tmpfs = dict(host_config.get("Tmpfs") or {})
    for m in host_config.get("Mounts") or []:
        if m.get("Type") == "tmpfs":
            opts = []
            t = m.get("TmpfsOptions") or {}
            if t.get("SizeBytes"):
                opts.append(f"size={t['SizeBytes']}")
            if t.get("Mode"):
                opts.append(f"mode={t['Mode']:o}")
            if m.get("ReadOnly"):
                opts.append("ro")
            tmpfs[m["Target"]] = ",".join(opts)
    for target, opts in sorted(tmpfs.items()):
        options = ["nosuid", "nodev", "noexec"] + [o for o in opts.split(",") if o]
        out.append({"destination": target, "type": "tmpfs", "source": "tmpfs", "options": options})
    return out
