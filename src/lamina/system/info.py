"""``lamina info``: what this engine runs on and with, as docker info's fields."""

from __future__ import annotations

import os

from .. import __version__

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only (typing costs start-up time: lamina.value says why)
    from typing import Any

    from ..store.store import Store

#: mountinfo's filesystem types where docker's statfs-based names differ (ext2/3/4 share a magic)
_FS_NAMES = {"ext2": "extfs", "ext3": "extfs", "ext4": "extfs", "overlay": "overlayfs"}


def _backing_fs(path: str) -> str:
    """The type of the filesystem holding ``path``, named as docker names it: the mount in
    /proc/self/mountinfo with the longest mount point above ``path`` (read, not a ``stat -f``
    child process: ``info`` is one of the commands that must start fast)."""
    target = os.path.realpath(path)
    best, fstype = -1, "unknown"
    try:
        with open("/proc/self/mountinfo", encoding="utf-8", errors="replace") as f:
            for line in f:
                fields = line.split()
                if "-" not in fields:
                    continue
                point = _unescape(fields[4])
                inside = target == point or target.startswith(point.rstrip("/") + "/")
                if inside and len(point) >= best:
                    best, fstype = len(point), fields[fields.index("-") + 1]
    except OSError:
        return "unknown"
    return _FS_NAMES.get(fstype, fstype)


def _unescape(field: str) -> str:
    """mountinfo writes space, tab, newline and backslash as octal escapes."""
    for code in ("\\040", "\\011", "\\012", "\\134"):
        field = field.replace(code, chr(int(code[1:], 8)))
    return field


def _which(name: str) -> str | None:
    """``shutil.which`` for a plain name (shutil loads the compression modules at import)."""
    for directory in os.get_exec_path():
        path = os.path.join(directory, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def mem_total() -> int:
    """The host's memory in bytes (0 when /proc/meminfo cannot be read)."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _os_name() -> str:
    try:
        with open("/etc/os-release") as f:
            for line in f:
                if line.startswith("PRETTY_NAME="):
                    return line.split("=", 1)[1].strip().strip('"')
    except OSError:
        pass
    return os.uname().sysname


def _cgroup_version() -> str:
    return "2" if os.path.exists("/sys/fs/cgroup/cgroup.controllers") else "1"


def info(store: Store) -> dict[str, Any]:
    uses = store.container_uses()
    running = len([u for u in uses if u.running])
    driver = store.driver_choice
    status = [["Backing Filesystem", _backing_fs(store.driver.home)]]
    if driver.name == "overlay2":
        status += [["Supports d_type", "true"], ["Native Overlay Diff", "true"], ["userxattr", "false"]]
    status.append(["Why", driver.reason])
    runtimes = {name: {"path": path} for name in ("runc", "crun") if (path := _which(name))}
    return {
        "ID": "",
        "Containers": len(uses),
        "ContainersRunning": running,
        "ContainersPaused": 0,
        "ContainersStopped": len(uses) - running,
        "Images": len(store.images.ids()),
        "Driver": driver.name,
        "DriverStatus": status,
        "DockerRootDir": store.root,
        "ServerVersion": f"lamina {__version__}",
        "KernelVersion": os.uname().release,
        "OperatingSystem": _os_name(),
        "OSType": "linux",
        "Architecture": os.uname().machine,
        "NCPU": os.cpu_count() or 1,
        "MemTotal": mem_total(),
        "CgroupVersion": _cgroup_version(),
        "Runtimes": runtimes,
        **_default_runtime(),
        "Name": os.uname().nodename,
    }


def _default_runtime() -> dict[str, str]:
    """The runtime containers get, and why (``runtime.select``: crun 1.8 refuses hybrid cgroups)."""
    from ..errors import LaminaError
    from ..runtime.select import choose_runtime

    try:
        chosen = choose_runtime()
    except LaminaError as exc:
        return {"DefaultRuntime": "", "DefaultRuntimeReason": str(exc)}
    return {"DefaultRuntime": chosen.name, "DefaultRuntimeReason": chosen.reason}
