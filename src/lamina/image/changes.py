"""``--change`` instructions (``import -c``, ``commit -c``): Dockerfile lines applied to a config.

Accepts the instructions docker accepts there: CMD, ENTRYPOINT, ENV, EXPOSE, LABEL, ONBUILD,
USER, VOLUME, WORKDIR, STOPSIGNAL. Each value is parsed as the Dockerfile parser would: JSON
exec form or shell form for CMD/ENTRYPOINT, ``k=v`` pairs (quotes allowed) or ``k v`` for
ENV/LABEL.
"""

from __future__ import annotations

import json
import posixpath
import shlex
from typing import Any

from ..errors import InvalidArgument

ALLOWED = ("CMD", "ENTRYPOINT", "ENV", "EXPOSE", "LABEL", "ONBUILD", "USER", "VOLUME", "WORKDIR", "STOPSIGNAL")


def _exec_or_shell(value: str) -> list[str]:
    stripped = value.strip()
    if stripped.startswith("["):
        try:
            parsed = json.loads(stripped)
        except ValueError:
            parsed = None
        if isinstance(parsed, list) and all(isinstance(x, str) for x in parsed):
            return parsed
    return ["/bin/sh", "-c", stripped]


def _pairs(value: str, what: str) -> list[tuple[str, str]]:
    try:
        words = shlex.split(value, posix=True)
    except ValueError as exc:
        raise InvalidArgument(f"{what}: {exc}") from None
    if not words:
        raise InvalidArgument(f"{what} requires at least one argument")
    if "=" not in words[0]:
        # legacy form: ENV key value with spaces
        key, _, rest = value.strip().partition(" ")
        if not rest.strip():
            raise InvalidArgument(f"{what} must have two arguments")
        return [(key, rest.strip())]
    out = []
    for word in words:
        key, sep, val = word.partition("=")
        if not sep or not key:
            raise InvalidArgument(f"{what} names can not be blank: {word!r}")
        out.append((key, val))
    return out


def apply_changes(config: dict[str, Any], changes: list[str]) -> dict[str, Any]:
    """Return ``config`` (a container Config dict) with the instructions applied."""
    out = dict(config)
    for line in changes:
        line = line.strip()
        if not line:
            continue
        keyword, _, value = line.partition(" ")
        keyword = keyword.upper()
        if "=" in keyword and keyword.split("=")[0] in ALLOWED:
            keyword, _, value = line.partition("=")  # docker accepts CMD=… too
            keyword = keyword.upper()
        if keyword not in ALLOWED:
            raise InvalidArgument(f"{keyword} is not a valid change command")
        _apply_one(out, keyword, value.strip())
    return out


def _apply_one(out: dict[str, Any], keyword: str, value: str) -> None:
    if keyword == "CMD":
        out["Cmd"] = _exec_or_shell(value)
    elif keyword == "ENTRYPOINT":
        out["Entrypoint"] = _exec_or_shell(value)
        out["Cmd"] = None
    elif keyword == "ENV":
        env = list(out.get("Env") or [])
        for key, val in _pairs(value, "ENV"):
            env = [e for e in env if e.split("=", 1)[0] != key] + [f"{key}={val}"]
        out["Env"] = env
    elif keyword == "LABEL":
        labels = dict(out.get("Labels") or {})
        labels.update(_pairs(value, "LABEL"))
        out["Labels"] = labels
    elif keyword == "EXPOSE":
        ports = dict(out.get("ExposedPorts") or {})
        for port in value.split():
            number, _, proto = port.partition("/")
            if not number.split("-")[0].isdigit():
                raise InvalidArgument(f"invalid containerPort: {number}")
            ports[f"{number}/{proto or 'tcp'}"] = {}
        out["ExposedPorts"] = ports
    elif keyword == "USER":
        out["User"] = value
    elif keyword == "WORKDIR":
        base = out.get("WorkingDir") or "/"
        out["WorkingDir"] = posixpath.normpath(posixpath.join(base, value))
    elif keyword == "VOLUME":
        vols = dict(out.get("Volumes") or {})
        paths = _exec_or_shell(value) if value.startswith("[") else value.split()
        if paths[:2] == ["/bin/sh", "-c"]:
            paths = value.split()
        for path in paths:
            vols[path] = {}
        out["Volumes"] = vols
    elif keyword == "STOPSIGNAL":
        out["StopSignal"] = value
    elif keyword == "ONBUILD":
        out["OnBuild"] = list(out.get("OnBuild") or []) + [value]
