"""Stored registry credentials in docker's ``config.json`` shape (``auths``).

The file is ``$LAMINA_CONFIG/config.json`` (default ``~/.config/lamina/config.json``), written
atomically with mode 0600, so docker's tools could read it and a crash never truncates it.
"""

from __future__ import annotations

import json
import os

from ...errors import InvalidArgument
from ...store import atomic

__all__ = ["config_path", "load_auth", "save_auth", "remove_auth"]


def config_path() -> str:
    base = os.environ.get("LAMINA_CONFIG") or os.path.join(os.path.expanduser("~"), ".config", "lamina")
    return os.path.join(base, "config.json")


def _load() -> dict:
    try:
        with open(config_path()) as f:
            doc = json.load(f)
    except FileNotFoundError:
        return {}
    except ValueError:
        raise InvalidArgument(f"{config_path()} is not valid JSON; fix or remove it") from None
    return doc if isinstance(doc, dict) else {}


def _save(doc: dict) -> None:
    path = config_path()
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    atomic.write_file(path, json.dumps(doc, indent="\t").encode(), mode=0o600)


def load_auth(server: str) -> tuple[str, str] | None:
    entry = (_load().get("auths") or {}).get(server)
    if not entry or "auth" not in entry:
        return None
    import base64

    user, _, password = base64.b64decode(entry["auth"]).decode().partition(":")
    return user, password


def save_auth(server: str, user: str, password: str) -> None:
    import base64

    doc = _load()
    doc.setdefault("auths", {})[server] = {"auth": base64.b64encode(f"{user}:{password}".encode()).decode()}
    _save(doc)


def remove_auth(server: str) -> bool:
    doc = _load()
    if server not in (doc.get("auths") or {}):
        return False
    del doc["auths"][server]
    _save(doc)
    return True
