"""Which OCI runtime runs containers: ``--runtime``, else ``/etc/lamina/daemon.json``'s
``default-runtime``, else the first of runc and crun that works on this host.

daemon.json takes docker's keys: ``{"default-runtime": "runc", "runtimes": {"myrun": {"path":
"/usr/local/bin/myrun", "runtimeArgs": ["--debug"]}}}``. ``runc`` and ``crun`` are known by name.

Why not always crun (faster to start): crun 1.8 (Debian 12) refuses a host whose cgroups are
"hybrid" (v1 controllers with the v2 hierarchy mounted at /sys/fs/cgroup/unified), which is
what this class of machine has; runc 1.1 runs there. The choice and its reason show in
``lamina info``.
"""

from __future__ import annotations

import os

from .. import jsonc
from ..errors import InvalidArgument

DAEMON_JSON = "/etc/lamina/daemon.json"


class Runtime:
    """A runtime: its name, binary, extra arguments, and why it was chosen. (A plain class:
    ``info`` imports this on the lean path, where ``dataclasses`` costs more than the command.)"""

    __slots__ = ("name", "path", "args", "reason")

    def __init__(self, name: str, path: str, args: tuple[str, ...] = (), reason: str = "") -> None:
        self.name, self.path, self.args, self.reason = name, path, tuple(args), reason

    def __repr__(self) -> str:
        return f"Runtime({self.name!r}, {self.path!r})"


def which(name: str) -> str | None:
    """``shutil.which`` without shutil (it loads fnmatch, bz2 and lzma)."""
    for directory in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(directory or ".", name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


def daemon_config(path: str | None = None) -> dict:
    path = path or os.environ.get("LAMINA_DAEMON_JSON", DAEMON_JSON)
    try:
        with open(path, "rb") as f:
            doc = jsonc.loads(f.read())
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:
        raise InvalidArgument(f"unable to configure the runtime from {path}: {exc}") from None
    return doc if isinstance(doc, dict) else {}


def cgroup_layout() -> str:
    """``v2`` (unified), ``hybrid`` (v1 controllers plus /sys/fs/cgroup/unified) or ``v1``."""
    if os.path.exists("/sys/fs/cgroup/cgroup.controllers"):
        return "v2"
    if os.path.exists("/sys/fs/cgroup/unified/cgroup.controllers"):
        return "hybrid"
    return "v1"


def _crun_refuses(path: str) -> str | None:
    """Why crun cannot run containers here, or None."""
    if cgroup_layout() == "hybrid":
        return "crun refuses this host's hybrid cgroup v1/v2 layout (/sys/fs/cgroup/unified)"
    return None


def known_runtimes(config: dict) -> dict[str, Runtime]:
    out: dict[str, Runtime] = {}
    for name in ("runc", "crun"):
        path = which(name)
        if path:
            out[name] = Runtime(name, path)
    for name, entry in (config.get("runtimes") or {}).items():
        if isinstance(entry, dict) and entry.get("path"):
            path = entry["path"] if os.path.isabs(entry["path"]) else (which(entry["path"]) or entry["path"])
            out[name] = Runtime(name, path, tuple(entry.get("runtimeArgs") or ()))
    return out


def choose_runtime(requested: str | None = None, config: dict | None = None) -> Runtime:
    """The runtime to use, with why it was chosen."""
    config = daemon_config() if config is None else config
    runtimes = known_runtimes(config)
    if requested:
        if requested not in runtimes:
            raise InvalidArgument(f"unknown or invalid runtime name: {requested}")
        chosen = runtimes[requested]
        return Runtime(chosen.name, chosen.path, chosen.args, "requested with --runtime")
    default = config.get("default-runtime")
    if default:
        if default not in runtimes:
            raise InvalidArgument(f"default-runtime {default!r} in {DAEMON_JSON} is not a known runtime")
        chosen = runtimes[default]
        return Runtime(chosen.name, chosen.path, chosen.args, f"default-runtime in {DAEMON_JSON}")
    refusals = []
    for name in ("runc", "crun"):
        if name not in runtimes:
            continue
        why_not = _crun_refuses(runtimes[name].path) if name == "crun" else None
        if why_not:
            refusals.append(why_not)
            continue
        reason = "runc: docker's default runtime, works on this host"
        if name == "crun":
            reason = "runc is not installed; crun works on this host"
        elif "crun" in runtimes:
            why = _crun_refuses(runtimes["crun"].path)
            if why:
                reason = f"runc, because {why}"
        return Runtime(name, runtimes[name].path, (), reason)
    if refusals:
        raise InvalidArgument("no OCI runtime can run containers here: " + "; ".join(refusals))
    raise InvalidArgument("no OCI runtime found: install runc (apt-get install runc)")
