"""``lamina info``: what this engine runs on and with, as docker info's fields."""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
from typing import Any

from .. import __version__
from ..store.store import Store


def _backing_fs(path: str) -> str:
    try:
        out = subprocess.run(["stat", "-f", "-c", "%T", path], capture_output=True, text=True, timeout=5)
        return {"ext2/ext3": "extfs"}.get(out.stdout.strip(), out.stdout.strip() or "unknown")
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _mem_total() -> int:
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
    return platform.system()


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
    runtimes = {name: {"path": path} for name in ("runc", "crun") if (path := shutil.which(name))}
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
        "KernelVersion": platform.release(),
        "OperatingSystem": _os_name(),
        "OSType": "linux",
        "Architecture": platform.machine(),
        "NCPU": os.cpu_count() or 1,
        "MemTotal": _mem_total(),
        "CgroupVersion": _cgroup_version(),
        "Runtimes": runtimes,
        "DefaultRuntime": "crun" if "crun" in runtimes else ("runc" if runtimes else ""),
        "Name": platform.node(),
    }
