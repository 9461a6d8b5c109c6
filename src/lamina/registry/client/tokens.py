"""Bearer tokens kept between commands: ``tokens.json`` beside the stored credentials.

A token server's answer is good for its ``expires_in`` seconds (60 when it does not say, as
the distribution spec has it), so a second ``pull`` or ``push`` in a new process within that
time reuses the token instead of asking the token server again. docker keeps tokens only in
its daemon's memory; lamina has no daemon, so the cache is a file.

An entry's key is the registry, the realm and service of its challenge, the sorted scopes, and
a hash of the credentials the token was issued for, so a token is never used for another
account (or an anonymous one for a login, or the other way round). The file holds secrets:
mode 0600 in the credentials' 0700 directory, replaced atomically; a damaged file counts as
empty. Two commands writing at once may each lose the other's newest token, which costs one
token fetch later, nothing else. Expired entries are dropped whenever the file is written,
and ``logout`` drops the registry's tokens with its credentials.
"""

from __future__ import annotations

import os
import time

from ... import jsonc
from ...store import atomic
from .credentials import config_key, config_path

__all__ = ["TokenCache", "token_key"]

FILE_NAME = "tokens.json"


def token_key(registry: str, realm: str, service: str, scopes: tuple[str, ...],
              credentials: tuple[str, str] | None) -> str:
    """The cache key of a token: where it is good, for what, and for whom."""
    who = "anonymous"
    if credentials is not None:
        user, password = credentials
        import hashlib  # only for a token kept or looked up: ``logout`` reads the file alone

        who = hashlib.sha256(f"{user}\0{password}".encode()).hexdigest()[:32]
    return "\n".join([registry, realm, service, " ".join(sorted(scopes)), who])


class TokenCache:
    """``{key: {"token": …, "expires": unix time}}`` in one JSON file."""

    def __init__(self, path: str) -> None:
        self.path = path

    @classmethod
    def beside_credentials(cls) -> TokenCache:
        """The cache in the directory of ``config.json`` (``$LAMINA_CONFIG``)."""
        return cls(os.path.join(os.path.dirname(config_path()), FILE_NAME))

    def get(self, key: str) -> tuple[str, float] | None:
        """(token, expiry as unix time) if a live one is cached."""
        entry = self._load().get(key)
        if not isinstance(entry, dict):
            return None
        token, expires = entry.get("token"), entry.get("expires")
        if not isinstance(token, str) or not isinstance(expires, int | float) or expires <= time.time():
            return None
        return token, float(expires)

    def put(self, key: str, token: str, expires: float) -> None:
        entries = self._live(self._load())
        entries[key] = {"token": token, "expires": expires}
        self._save(entries)

    def drop(self, key: str) -> None:
        """Forget a token the registry refused."""
        entries = self._load()
        if entries.pop(key, None) is not None:
            self._save(self._live(entries))

    def forget(self, server: str) -> None:
        """``logout``: drop every token held for ``server``'s registry, whoever it was for."""
        key = config_key(server)
        entries = self._load()
        kept = {k: v for k, v in entries.items() if config_key(k.split("\n", 1)[0]) != key}
        if len(kept) != len(entries):
            self._save(self._live(kept))

    def _load(self) -> dict:
        try:
            with open(self.path, "rb") as f:
                doc = jsonc.loads(f.read())
        except (OSError, ValueError):
            return {}
        return doc if isinstance(doc, dict) else {}

    @staticmethod
    def _live(entries: dict) -> dict:
        now = time.time()
        return {k: v for k, v in entries.items()
                if isinstance(v, dict) and isinstance(v.get("expires"), int | float) and v["expires"] > now}

    def _save(self, entries: dict) -> None:
        try:
            os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
            atomic.write_file(self.path, jsonc.dumps_indented(entries, "\t").encode(), mode=0o600, durable=False)
        except OSError:
            pass  # a cache that cannot be written costs a token fetch next time, not the command
