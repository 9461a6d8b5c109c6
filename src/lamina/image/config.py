"""Docker's image config shapes: the container Config struct with every field, as inspect shows."""

from __future__ import annotations

import os

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only: typing costs start-up time (lamina.cli.fast)
    from collections.abc import Mapping
    from typing import Any

#: ``container.Config`` with Go's zero values, in docker's field order.
DEFAULT_CONTAINER_CONFIG: dict[str, Any] = {
    "Hostname": "",
    "Domainname": "",
    "User": "",
    "AttachStdin": False,
    "AttachStdout": False,
    "AttachStderr": False,
    "ExposedPorts": None,
    "Tty": False,
    "OpenStdin": False,
    "StdinOnce": False,
    "Env": None,
    "Cmd": None,
    "Image": "",
    "Volumes": None,
    "WorkingDir": "",
    "Entrypoint": None,
    "OnBuild": None,
    "Labels": None,
}

_OMIT_WHEN_EMPTY = ("ExposedPorts", "StopSignal", "Healthcheck", "ArgsEscaped", "Shell", "StopTimeout")


def full_container_config(partial: Mapping[str, Any] | None) -> dict[str, Any]:
    """Fill a stored config onto docker's struct so inspect prints every field, in order."""
    out = _clone(DEFAULT_CONTAINER_CONFIG)
    for key, value in (partial or {}).items():
        out[key] = _clone(value)
    for key in _OMIT_WHEN_EMPTY:
        if key in out and out[key] in (None, "", {}, []) and key not in (partial or {}):
            del out[key]
    return out


def _clone(value):
    """A deep copy of JSON data (dicts, lists, scalars): ``copy.deepcopy`` without loading
    ``copy`` at start-up."""
    if isinstance(value, dict):
        return {k: _clone(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_clone(v) for v in value]
    return value


def go_arch() -> str:
    machine = os.uname().machine.lower()
    return {
        "x86_64": "amd64",
        "amd64": "amd64",
        "aarch64": "arm64",
        "arm64": "arm64",
        "armv7l": "arm",
        "i686": "386",
        "i386": "386",
        "ppc64le": "ppc64le",
        "s390x": "s390x",
        "riscv64": "riscv64",
    }.get(machine, machine)


def now_rfc3339() -> str:
    """UTC now as Go's RFC3339Nano prints it (trailing zeros of the fraction dropped)."""
    from datetime import UTC, datetime  # here: most commands that load this never ask the time

    now = datetime.now(UTC)
    frac = f"{now.microsecond:06d}000".rstrip("0")
    return now.strftime("%Y-%m-%dT%H:%M:%S") + (f".{frac}" if frac else "") + "Z"
