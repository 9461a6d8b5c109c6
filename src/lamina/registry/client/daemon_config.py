"""``/etc/lamina/daemon.json``: the registry settings of docker's ``daemon.json``.

Keys read (docker's names and meanings)::

    insecure-registries       ["10.0.0.0/8", "myreg:5000"]  plain HTTP or unverified TLS allowed
    registry-mirrors          ["http://127.0.0.1:5000"]      docker.io pulls try these first
    max-concurrent-downloads  3                              layers downloaded at once per pull
    max-concurrent-uploads    5                              layers uploaded at once per push

The file is ``$LAMINA_DAEMON_CONFIG`` when set (tests and users who keep it elsewhere), else
``/etc/lamina/daemon.json``; a missing file means docker's defaults. As in docker, loopback
(127.0.0.0/8, ::1, ``localhost``) is always insecure.
"""

from __future__ import annotations

import ipaddress
import json
import os
import socket
from dataclasses import dataclass, field

from ...errors import InvalidArgument

__all__ = ["DaemonConfig", "DEFAULT_PATH", "load_daemon_config"]

DEFAULT_PATH = "/etc/lamina/daemon.json"


@dataclass(frozen=True)
class DaemonConfig:
    insecure_registries: tuple[str, ...] = ()
    registry_mirrors: tuple[str, ...] = ()
    max_concurrent_downloads: int = 3
    max_concurrent_uploads: int = 5
    #: host:port entries and networks of ``insecure_registries``, split once
    _hosts: frozenset[str] = field(default=frozenset(), repr=False, compare=False)
    _networks: tuple = field(default=(), repr=False, compare=False)

    @classmethod
    def from_doc(cls, doc: dict) -> DaemonConfig:
        insecure = _strings(doc, "insecure-registries")
        mirrors = tuple(m.rstrip("/") for m in _strings(doc, "registry-mirrors"))
        for mirror in mirrors:
            if not mirror.startswith(("http://", "https://")):
                raise InvalidArgument(f"invalid mirror: unsupported scheme in {mirror!r} (use http:// or https://)")
        hosts, networks = set(), []
        for entry in insecure:
            entry = entry.removeprefix("http://").removeprefix("https://").rstrip("/")
            try:
                networks.append(ipaddress.ip_network(entry, strict=False) if "/" in entry else None)
            except ValueError:
                raise InvalidArgument(f"invalid insecure registry {entry!r}") from None
            if "/" not in entry:
                hosts.add(entry)
        return cls(
            insecure_registries=insecure,
            registry_mirrors=mirrors,
            max_concurrent_downloads=_positive(doc, "max-concurrent-downloads", 3),
            max_concurrent_uploads=_positive(doc, "max-concurrent-uploads", 5),
            _hosts=frozenset(hosts),
            _networks=tuple(n for n in networks if n is not None),
        )

    def is_insecure(self, host: str) -> bool:
        """True if ``host`` (``name[:port]``) may be spoken to over plain HTTP or unverified TLS:
        loopback, a listed ``host:port`` or host, or an address inside a listed network."""
        name = _hostname(host)
        if host in self._hosts or name in self._hosts or name == "localhost":
            return True
        addresses = _addresses(name)
        if any(a.is_loopback for a in addresses):
            return True
        return any(a in net for a in addresses for net in self._networks)


def _hostname(host: str) -> str:
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _addresses(name: str) -> list:
    try:
        return [ipaddress.ip_address(name)]
    except ValueError:
        pass
    if "." not in name and name != "localhost":
        return []
    try:  # a name: what it resolves to (docker resolves too); no answer means not insecure
        infos = socket.getaddrinfo(name, None, proto=socket.IPPROTO_TCP)
    except OSError:
        return []
    out = []
    for info in infos:
        try:
            out.append(ipaddress.ip_address(info[4][0].split("%")[0]))
        except ValueError:
            continue
    return out


def _strings(doc: dict, key: str) -> tuple[str, ...]:
    value = doc.get(key) or []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise InvalidArgument(f"daemon.json: {key} must be a list of strings")
    return tuple(value)


def _positive(doc: dict, key: str, default: int) -> int:
    value = doc.get(key, default)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise InvalidArgument(f"daemon.json: {key} must be a positive integer")
    return value


def config_file() -> str:
    return os.environ.get("LAMINA_DAEMON_CONFIG") or DEFAULT_PATH


def load_daemon_config(path: str | None = None) -> DaemonConfig:
    path = path or config_file()
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except FileNotFoundError:
        return DaemonConfig()
    except ValueError as exc:
        raise InvalidArgument(f"{path} is not valid JSON: {exc}") from None
    if not isinstance(doc, dict):
        raise InvalidArgument(f"{path} must hold a JSON object")
    return DaemonConfig.from_doc(doc)
