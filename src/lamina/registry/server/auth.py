"""Access control: htpasswd basic auth and bearer tokens, answered the way Distribution does.

* ``htpasswd`` (bcrypt entries only, as Distribution): any authenticated user may do anything;
  a missing or wrong password is ``401 UNAUTHORIZED`` with ``WWW-Authenticate: Basic realm=…``.
* ``token``: the Docker token protocol. Clients are sent to ``realm`` with ``service`` and the
  ``scope`` they need; they come back with a JWT whose ``access`` claim lists what they may do.
  The token's signature is checked against the certificates in ``rootcertbundle``, its issuer,
  audience (= service) and lifetime too. With an ``issue`` section the server also serves the
  token endpoint itself (``GET /auth/token``), signing with ``issue.key`` for the users of
  ``issue.htpasswd`` under an ACL.
"""

from __future__ import annotations

import asyncio
import base64
import fnmatch
import hashlib
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import bcrypt

from ...errors import InvalidArgument

__all__ = [
    "Access",
    "Grant",
    "AuthChallenge",
    "access_controller_from_config",
    "extra_routes",
    "Htpasswd",
    "parse_scope",
]


@dataclass(frozen=True)
class Access:
    type: str  # "repository" or "registry"
    name: str  # "library/busybox" or "catalog"
    action: str  # "pull" | "push" | "delete" | "*"

    def scope(self) -> str:
        return f"{self.type}:{self.name}:{self.action}"


@dataclass(frozen=True)
class Grant:
    account: str | None
    allowed: frozenset[tuple[str, str, str]] | None = None  # None: everything

    def allows(self, access: Access) -> bool:
        if self.allowed is None:
            return True
        return (access.type, access.name, access.action) in self.allowed or (access.type, access.name, "*") in self.allowed


class AuthChallenge(Exception):
    def __init__(self, code: str, message: str, headers: dict[str, str], detail: Any = None, status: int = 401) -> None:
        super().__init__(message)
        self.code, self.message, self.headers, self.detail, self.status = code, message, headers, detail, status


def parse_scope(text: str) -> list[Access]:
    """``repository:samalba/my-app:pull,push`` → Access values (names may hold ``:port``)."""
    kind, _, rest = text.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name:
        return []
    kind = kind.split("(", 1)[0]  # "repository(plugin)" — the class does not change access
    return [Access(kind, name, a) for a in actions.split(",") if a]


# htpasswd -------------------------------------------------------------------------------
class Htpasswd:
    """An Apache htpasswd file of bcrypt entries, re-read when it changes."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._mtime = -1.0
        self._users: dict[str, bytes] = {}
        self._ok: dict[tuple[str, str], float] = {}
        self._load()

    def _load(self) -> None:
        try:
            mtime = os.stat(self.path).st_mtime
        except OSError as exc:
            raise InvalidArgument(f"cannot read htpasswd file {self.path}: {exc.strerror}") from None
        if mtime == self._mtime:
            return
        users = {}
        with open(self.path) as f:
            for number, line in enumerate(f, 1):
                line = line.strip()
                if not line or line.startswith("#"):
                    continue
                user, sep, hashed = line.partition(":")
                if not sep or not hashed.startswith(("$2y$", "$2a$", "$2b$")):
                    raise InvalidArgument(f"htpasswd {self.path}:{number}: only bcrypt entries are supported (htpasswd -B)")
                users[user] = hashed.replace("$2y$", "$2b$", 1).encode()
        self._users, self._mtime, self._ok = users, mtime, {}

    def verify(self, user: str, password: str) -> bool:
        self._load()
        hashed = self._users.get(user)
        if hashed is None:
            return False
        key = (user, hashlib.sha256(password.encode()).hexdigest())
        if self._ok.get(key, 0) > time.monotonic():
            return True
        if bcrypt.checkpw(password.encode(), hashed):
            # bcrypt is deliberately slow; a verified pair is trusted for a minute
            self._ok[key] = time.monotonic() + 60
            return True
        return False


def basic_credentials(headers: Mapping[str, str]) -> tuple[str, str] | None:
    value = headers.get("Authorization", "")
    if not value.lower().startswith("basic "):
        return None
    try:
        user, _, password = base64.b64decode(value[6:].strip()).decode().partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return user, password


class HtpasswdController:
    def __init__(self, realm: str, path: str) -> None:
        self.realm = realm
        self.htpasswd = Htpasswd(path)

    def _challenge(self, message: str) -> AuthChallenge:
        return AuthChallenge("UNAUTHORIZED", message, {"WWW-Authenticate": f'Basic realm="{self.realm}"'})

    async def authorize(self, headers: Mapping[str, str], wanted: Sequence[Access]) -> Grant:
        creds = basic_credentials(headers)
        if creds is None:
            raise self._challenge("authentication required")
        ok = await asyncio.get_running_loop().run_in_executor(None, self.htpasswd.verify, *creds)
        if not ok:
            raise self._challenge("authentication required")
        return Grant(creds[0])


# tokens ---------------------------------------------------------------------------------
class TokenController:
    def __init__(self, realm: str, service: str, issuer: str, certificates: list[Any], leeway: int = 60) -> None:
        self.realm, self.service, self.issuer = realm, service, issuer
        self.keys = [c.public_key() for c in certificates]
        self.leeway = leeway

    def _challenge(self, wanted: Sequence[Access], error: str | None, message: str) -> AuthChallenge:
        scope = " ".join(_merge_scopes(wanted))
        value = f'Bearer realm="{self.realm}",service="{self.service}"'
        if scope:
            value += f',scope="{scope}"'
        if error:
            value += f',error="{error}"'
        detail = [{"Type": a.type, "Name": a.name, "Action": a.action} for a in wanted] or None
        return AuthChallenge("UNAUTHORIZED", message, {"WWW-Authenticate": value}, detail)

    async def authorize(self, headers: Mapping[str, str], wanted: Sequence[Access]) -> Grant:
        import jwt

        value = headers.get("Authorization", "")
        if not value.lower().startswith("bearer "):
            raise self._challenge(wanted, None, "authentication required")
        token = value[7:].strip()
        claims = None
        for key in self.keys:
            try:
                claims = jwt.decode(
                    token,
                    key,
                    algorithms=["RS256", "ES256", "RS384", "ES384", "RS512", "ES512"],
                    audience=self.service,
                    issuer=self.issuer,
                    leeway=self.leeway,
                    options={"require": ["exp", "iss", "aud"]},
                )
                break
            except jwt.InvalidSignatureError:
                continue
            except jwt.PyJWTError:
                raise self._challenge(wanted, "invalid_token", "invalid token") from None
        if claims is None:
            raise self._challenge(wanted, "invalid_token", "invalid token")
        allowed = set()
        for entry in claims.get("access") or []:
            if isinstance(entry, dict):
                for action in entry.get("actions") or []:
                    allowed.add((entry.get("type"), entry.get("name"), action))
        grant = Grant(claims.get("sub"), frozenset(allowed))
        missing = [a for a in wanted if not grant.allows(a)]
        if missing:
            raise self._challenge(wanted, "insufficient_scope", "authentication required")
        return grant


def _merge_scopes(wanted: Sequence[Access]) -> list[str]:
    merged: dict[tuple[str, str], list[str]] = {}
    for a in wanted:
        merged.setdefault((a.type, a.name), [])
        if a.action not in merged[(a.type, a.name)]:
            merged[(a.type, a.name)].append(a.action)
    return [f"{t}:{n}:{','.join(actions)}" for (t, n), actions in merged.items()]


def _load_certificates(path: str) -> list[Any]:
    from cryptography import x509

    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as exc:
        raise InvalidArgument(f"cannot read rootcertbundle {path}: {exc.strerror}") from None
    try:
        certs = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise InvalidArgument(f"rootcertbundle {path}: {exc}") from None
    return certs


def _path(config_dir: str, value: str) -> str:
    return value if os.path.isabs(value) else os.path.join(config_dir, value)


def access_controller_from_config(section: Mapping[str, Any] | None, *, config_dir: str):
    """The controller the ``auth:`` section asks for, or None when there is none."""
    if not section:
        return None
    if len(section) != 1:
        raise InvalidArgument("invalid registry configuration: auth takes exactly one of htpasswd, token")
    kind, options = next(iter(section.items()))
    options = options or {}
    if kind == "htpasswd":
        if "path" not in options:
            raise InvalidArgument("invalid registry configuration: auth.htpasswd.path is required")
        return HtpasswdController(str(options.get("realm", "basic-realm")), _path(config_dir, options["path"]))
    if kind == "token":
        for key in ("realm", "service", "issuer", "rootcertbundle"):
            if key not in options:
                raise InvalidArgument(f"invalid registry configuration: auth.token.{key} is required")
        certs = _load_certificates(_path(config_dir, options["rootcertbundle"]))
        return TokenController(options["realm"], options["service"], options["issuer"], certs)
    raise InvalidArgument(f"invalid registry configuration: unknown auth kind {kind!r} (use htpasswd or token)")


def extra_routes(section: Mapping[str, Any] | None, *, config_dir: str) -> list:
    """The token endpoint, when ``auth.token.issue`` asks the registry to issue its own tokens."""
    options = (section or {}).get("token") or {}
    issue = options.get("issue")
    if not issue:
        return []
    from .token import TokenIssuer

    issuer = TokenIssuer.from_config(options, issue, config_dir)
    return issuer.routes()


def acl_allows(acl: Sequence[Mapping[str, Any]], account: str | None, access: Access) -> bool:
    """First matching rule wins: {account: glob, name: glob, actions: [...]}."""
    for rule in acl:
        if fnmatch.fnmatchcase(account or "", str(rule.get("account", "*"))) and fnmatch.fnmatchcase(
            access.name, str(rule.get("name", "*"))
        ):
            actions = rule.get("actions") or []
            return "*" in actions or access.action in actions
    return False
