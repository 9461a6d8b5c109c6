"""Stored registry credentials in docker's ``config.json`` shape (``auths``, ``credsStore``,
``credHelpers``).

The file is ``$LAMINA_CONFIG/config.json`` (default ``~/.config/lamina/config.json``), written
atomically with mode 0600, so docker's tools could read it and a crash never truncates it.

Lookup order for a registry, as docker's: the registry's ``credHelpers`` entry, else
``credsStore``, else the inline ``auths`` entry; a registry lamina's file says nothing about is
looked up the same way in docker's own ``$DOCKER_CONFIG/config.json`` (``~/.docker``). A helper
is the ``docker-credential-<name>`` program speaking docker's protocol (``get``/``store``/
``erase``, the server URL or a JSON record on stdin). Modules that only some paths need
(base64, subprocess) are imported where used: ``logout`` runs on the lean CLI path.
"""

from __future__ import annotations

import os

from ... import jsonc
from ...errors import InvalidArgument
from ...store import atomic

__all__ = ["config_path", "load_auth", "save_auth", "remove_auth", "lookup", "HUB_KEY"]

#: the key docker files Docker Hub's credentials under
HUB_KEY = "https://index.docker.io/v1/"


def config_path() -> str:
    base = os.environ.get("LAMINA_CONFIG") or os.path.join(os.path.expanduser("~"), ".config", "lamina")
    return os.path.join(base, "config.json")


def docker_config_path() -> str:
    base = os.environ.get("DOCKER_CONFIG") or os.path.join(os.path.expanduser("~"), ".docker")
    return os.path.join(base, "config.json")


def _load(path: str | None = None) -> dict:
    path = path or config_path()
    try:
        with open(path, "rb") as f:
            doc = jsonc.loads(f.read())
    except FileNotFoundError:
        return {}
    except ValueError:
        raise InvalidArgument(f"{path} is not valid JSON; fix or remove it") from None
    return doc if isinstance(doc, dict) else {}


def _save(doc: dict) -> None:
    path = config_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    atomic.write_file(path, jsonc.dumps_indented(doc, "\t").encode(), mode=0o600)


def config_key(server: str) -> str:
    """The key a registry's credentials are filed under (Docker Hub's is its v1 URL)."""
    host = server.split("://", 1)[-1].rstrip("/")
    if host in ("docker.io", "index.docker.io", "registry-1.docker.io"):
        return HUB_KEY
    return host


def _helper_for(doc: dict, key: str) -> str | None:
    helpers = doc.get("credHelpers") or {}
    if isinstance(helpers, dict) and isinstance(helpers.get(key), str):
        return helpers[key]
    store = doc.get("credsStore")
    return store if isinstance(store, str) and store else None


def _run_helper(name: str, action: str, data: str) -> str | None:
    """Run ``docker-credential-<name> <action>``; None when it has no credentials."""
    import shutil
    import subprocess

    program = shutil.which(f"docker-credential-{name}")
    if program is None:
        raise InvalidArgument(f"docker-credential-{name} not found in PATH (set by credsStore/credHelpers)")
    proc = subprocess.run([program, action], input=data.encode(), capture_output=True, timeout=60)
    if proc.returncode != 0:
        message = (proc.stdout or proc.stderr).decode(errors="replace").strip()
        if action == "get" and "credentials not found" in message.lower():
            return None
        raise InvalidArgument(f"docker-credential-{name} {action}: {message or f'exit status {proc.returncode}'}")
    return proc.stdout.decode()


def _from_doc(doc: dict, key: str) -> tuple[str, str] | None | bool:
    """Credentials from one config document; False when it says nothing about ``key``."""
    helper = _helper_for(doc, key)
    if helper is not None:
        out = _run_helper(helper, "get", key)
        if out is None:
            return None
        try:
            record = jsonc.loads(out)
            return str(record["Username"]), str(record["Secret"])
        except (ValueError, KeyError, TypeError):
            raise InvalidArgument(f"docker-credential-{helper} get: malformed answer") from None
    entry = (doc.get("auths") or {}).get(key)
    if not isinstance(entry, dict):
        return False
    if entry.get("identitytoken"):
        return "<token>", str(entry["identitytoken"])
    if "auth" not in entry:
        return None
    import base64

    try:
        user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        raise InvalidArgument(f"the stored credentials for {key} are malformed; log in again") from None
    return user, password


def lookup(server: str) -> tuple[str, str] | None:
    """(username, password) for a registry host (``host:port``, ``docker.io``), or None."""
    key = config_key(server)
    for path in (config_path(), docker_config_path()):
        found = _from_doc(_load(path), key)
        if found is not False:
            return found  # type: ignore[return-value]
    return None


def load_auth(server: str) -> tuple[str, str] | None:
    found = _from_doc(_load(), config_key(server))
    return None if found is False else found  # type: ignore[return-value]


def save_auth(server: str, user: str, password: str) -> None:
    """Store credentials: through the registry's helper if the config names one (the file
    then records only ``{}`` for it, as docker does), else inline in ``auths``."""
    doc = _load()
    key = config_key(server)
    helper = _helper_for(doc, key)
    if helper is not None:
        import json

        _run_helper(helper, "store", json.dumps({"ServerURL": key, "Username": user, "Secret": password}))
        doc.setdefault("auths", {})[key] = {}
    else:
        import base64

        doc.setdefault("auths", {})[key] = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    _save(doc)


def remove_auth(server: str) -> bool:
    doc = _load()
    key = config_key(server)
    helper = _helper_for(doc, key)
    if helper is not None:
        _run_helper(helper, "erase", key)
    if key not in (doc.get("auths") or {}):
        return helper is not None
    del doc["auths"][key]
    _save(doc)
    return True
