"""The registry's configuration: Distribution's YAML shape, with its environment overrides.

::

    version: 0.1
    http: {addr: ":5000", tls: {certificate: cert.pem, key: key.pem}}
    storage:
      filesystem: {rootdirectory: /var/lib/registry}   # or s3: {bucket: …, regionendpoint: …}
      delete: {enabled: true}
      redirect: {disable: false}
      cache: {blobdescriptor: inmemory}
      maintenance: {readonly: {enabled: false}}
    auth: {htpasswd: {realm: lamina, path: htpasswd}}
    notifications: {endpoints: [{name: hook, url: "http://127.0.0.1:9000/events"}]}
    log: {accesslog: {disabled: false}}

Any key can be set from the environment the way Distribution allows:
``REGISTRY_HTTP_ADDR=127.0.0.1:5000``, ``REGISTRY_STORAGE_DELETE_ENABLED=true`` — ``REGISTRY_``
then the path of keys in upper case joined by ``_``; ``REGISTRY_STORAGE=s3`` switches the
driver (the file's driver section is dropped, ``REGISTRY_STORAGE_S3_*`` fill the new one).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

from ...errors import InvalidArgument

__all__ = ["RegistryConfig", "load_config"]

DEFAULT_ROOT = "/var/lib/registry"
DEFAULT_ADDR = ":5000"


@dataclass(frozen=True)
class RegistryConfig:
    addr: str = DEFAULT_ADDR
    root: str = DEFAULT_ROOT
    delete_enabled: bool = False
    read_only: bool = False
    tls_certificate: str | None = None
    tls_key: str | None = None
    auth: Mapping[str, Any] = field(default_factory=dict)
    notifications: Mapping[str, Any] = field(default_factory=dict)
    access_log: bool = True
    config_dir: str = "."
    #: the storage driver's name and its section (filesystem: root above; s3: S3Params)
    storage_driver: str = "filesystem"
    storage_params: Mapping[str, Any] = field(default_factory=dict)
    #: blob GETs go to the storage's presigned URL when it has one (storage.redirect.disable)
    redirect: bool = True
    #: storage.cache.blobdescriptor ("" none, "inmemory", "redis") and the redis section
    blobdescriptor_cache: str = ""
    redis: Mapping[str, Any] = field(default_factory=dict)
    #: http.debug.addr: /debug/health and /metrics
    debug_addr: str | None = None
    #: storage.maintenance.gc: collect in the server every interval (0: never), with this grace
    gc_interval: float = 0.0
    gc_grace: float = 24 * 3600.0
    gc_delete_untagged: bool = False

    @property
    def host_port(self) -> tuple[str, int]:
        host, _, port = self.addr.rpartition(":")
        try:
            return (host.strip("[]") or "0.0.0.0", int(port))
        except ValueError:
            raise InvalidArgument(f"invalid http.addr {self.addr!r}: want HOST:PORT or :PORT") from None


#: the keys of ``storage`` that are settings, not a driver's section
_STORAGE_SETTINGS = ("delete", "maintenance", "cache", "redirect")
DRIVERS = ("filesystem", "s3")


def _env_overrides(doc: dict, env: Mapping[str, str]) -> None:
    """Apply REGISTRY_A_B_C=value onto doc[a][b][c], matching existing keys case-insensitively."""
    driver = env.get("REGISTRY_STORAGE")
    if driver:
        storage = doc.get("storage") if isinstance(doc.get("storage"), dict) else {}
        kept = {k: v for k, v in storage.items() if k in _STORAGE_SETTINGS}
        kept[driver] = storage.get(driver) if isinstance(storage.get(driver), dict) else {}
        doc["storage"] = kept
    for key, value in sorted(env.items()):
        if not key.startswith("REGISTRY_") or key in ("REGISTRY_CONFIGURATION_PATH", "REGISTRY_STORAGE"):
            continue
        parts = key[len("REGISTRY_") :].lower().split("_")
        _set_path(doc, parts, yaml.safe_load(value) if value else value)


def _set_path(doc: dict, parts: list[str], value: Any) -> None:
    # keys may themselves hold underscores (rootdirectory has none, but be general): prefer the
    # longest existing key that matches a run of parts
    node = doc
    i = 0
    while i < len(parts) - 1:
        for j in range(len(parts) - 1, i, -1):
            candidate = "_".join(parts[i:j])
            if isinstance(node.get(candidate), dict):
                node, i = node[candidate], j
                break
        else:
            node = node.setdefault(parts[i], {})
            if not isinstance(node, dict):
                return
            i += 1
    node["_".join(parts[i:])] = value


def _get(doc: Mapping, *keys: str, default: Any = None) -> Any:
    node: Any = doc
    for key in keys:
        if not isinstance(node, Mapping) or key not in node:
            return default
        node = node[key]
    return node


def _bool(value: Any, what: str) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidArgument(f"invalid registry configuration: {what} must be true or false")


def _gc_settings(section: Mapping[str, Any]) -> dict[str, Any]:
    from .notify import parse_duration

    if not _bool(section.get("enabled", False), "storage.maintenance.gc.enabled"):
        return {}
    return {
        "gc_interval": parse_duration(section.get("interval"), 3600.0),
        "gc_grace": parse_duration(section.get("grace"), 24 * 3600.0),
        "gc_delete_untagged": _bool(section.get("deleteuntagged", False), "storage.maintenance.gc.deleteuntagged"),
    }


def load_config(path: str | None = None, env: Mapping[str, str] | None = None, **overrides: Any) -> RegistryConfig:
    """Read the YAML file (optional), apply environment overrides, then explicit ones."""
    env = os.environ if env is None else env
    doc: dict = {}
    config_dir = os.getcwd()
    path = path or env.get("REGISTRY_CONFIGURATION_PATH")
    if path:
        try:
            with open(path) as f:
                loaded = yaml.safe_load(f)
        except OSError as exc:
            raise InvalidArgument(f"cannot read registry configuration {path}: {exc.strerror}") from None
        except yaml.YAMLError as exc:
            raise InvalidArgument(f"invalid registry configuration {path}: {str(exc).splitlines()[0]}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise InvalidArgument(f"invalid registry configuration {path}: expected a mapping at the top")
        doc = loaded or {}
        config_dir = os.path.dirname(os.path.abspath(path))
    _env_overrides(doc, env)
    storage = _get(doc, "storage", default={}) or {}
    drivers = [k for k in storage if k not in _STORAGE_SETTINGS]
    if len(drivers) > 1:
        raise InvalidArgument(f"invalid registry configuration: storage must name one driver, not {', '.join(sorted(drivers))}")
    driver = drivers[0] if drivers else "filesystem"
    if driver not in DRIVERS:
        raise InvalidArgument(f"invalid registry configuration: storage driver {driver!r} is not supported (use {' or '.join(DRIVERS)})")
    params = _get(storage, driver, default={}) or {}
    if not isinstance(params, dict):
        raise InvalidArgument(f"invalid registry configuration: storage.{driver} must be a mapping")
    root = _get(storage, "filesystem", "rootdirectory", default=DEFAULT_ROOT)
    cache = str(_get(storage, "cache", "blobdescriptor", default="") or "")
    if cache not in ("", "inmemory", "redis"):
        raise InvalidArgument(f"invalid registry configuration: storage.cache.blobdescriptor {cache!r} (use inmemory or redis)")
    config = RegistryConfig(
        addr=str(_get(doc, "http", "addr", default=DEFAULT_ADDR)),
        root=os.path.join(config_dir, root) if not os.path.isabs(str(root)) else str(root),
        delete_enabled=_bool(_get(storage, "delete", "enabled", default=False), "storage.delete.enabled"),
        read_only=_bool(_get(storage, "maintenance", "readonly", "enabled", default=False), "storage.maintenance.readonly.enabled"),
        tls_certificate=_get(doc, "http", "tls", "certificate"),
        tls_key=_get(doc, "http", "tls", "key"),
        auth=_get(doc, "auth", default={}) or {},
        notifications=_get(doc, "notifications", default={}) or {},
        access_log=not _bool(_get(doc, "log", "accesslog", "disabled", default=False), "log.accesslog.disabled"),
        config_dir=config_dir,
        storage_driver=driver,
        storage_params=params,
        redirect=not _bool(_get(storage, "redirect", "disable", default=False), "storage.redirect.disable"),
        blobdescriptor_cache=cache,
        redis=_get(doc, "redis", default={}) or {},
        debug_addr=_get(doc, "http", "debug", "addr"),
        **_gc_settings(_get(storage, "maintenance", "gc", default={}) or {}),
    )
    values = {k: v for k, v in overrides.items() if v is not None}
    if values:
        from dataclasses import replace

        config = replace(config, **values)
    config.host_port  # noqa: B018 - validates addr early, with a clear message
    if bool(config.tls_certificate) != bool(config.tls_key):
        raise InvalidArgument("invalid registry configuration: http.tls needs both certificate and key")
    return config
