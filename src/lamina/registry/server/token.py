"""A token issuer for the Docker token protocol, served beside the registry when configured.

``GET /auth/token?service=…&scope=…[&scope=…]`` with HTTP basic credentials (or none, for
anonymous access the ACL grants) answers ``{"token","access_token","expires_in","issued_at"}``;
``POST /auth/token`` accepts the OAuth2 password grant that ``docker login`` uses. Tokens are
JWTs signed with ``issue.key`` and carry a ``kid`` in libtrust's key-ID format, so the CNCF
registry accepts them too when its ``rootcertbundle`` holds the matching certificate.

Configuration (under ``auth.token``)::

    issue:
      key: token.key            # PEM private key (RSA or EC P-256)
      htpasswd: htpasswd        # users (bcrypt)
      expiration: 300           # seconds
      acl:                      # first matching rule wins
        - {account: "admin", name: "*", actions: ["*"]}
        - {account: "*", name: "public/*", actions: ["pull"]}
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import os
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from ...errors import InvalidArgument
from .auth import Access, Htpasswd, acl_allows, basic_credentials, parse_scope


def libtrust_key_id(public_key) -> str:
    """Docker's libtrust KeyID: base32 of the first 240 bits of sha256(DER SPKI), 4-char groups."""
    from cryptography.hazmat.primitives import serialization

    der = public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    encoded = base64.b32encode(hashlib.sha256(der).digest()[:30]).decode()
    return ":".join(encoded[i : i + 4] for i in range(0, 48, 4))


@dataclass
class TokenIssuer:
    service: str
    issuer: str
    private_key: Any
    htpasswd: Htpasswd | None
    acl: list
    expiration: int = 300

    @classmethod
    def from_config(cls, token: Mapping[str, Any], issue: Mapping[str, Any], config_dir: str) -> TokenIssuer:
        from cryptography.hazmat.primitives import serialization

        def path(value: str) -> str:
            return value if os.path.isabs(value) else os.path.join(config_dir, value)

        if "key" not in issue:
            raise InvalidArgument("invalid registry configuration: auth.token.issue.key is required")
        try:
            with open(path(issue["key"]), "rb") as f:
                key = serialization.load_pem_private_key(f.read(), password=None)
        except (OSError, ValueError) as exc:
            raise InvalidArgument(f"cannot load token signing key {issue['key']}: {exc}") from None
        htpasswd = Htpasswd(path(issue["htpasswd"])) if issue.get("htpasswd") else None
        return cls(token["service"], token["issuer"], key, htpasswd, list(issue.get("acl") or []), int(issue.get("expiration", 300)))

    @property
    def algorithm(self) -> str:
        from cryptography.hazmat.primitives.asymmetric import ec

        return "ES256" if isinstance(self.private_key, ec.EllipticCurvePrivateKey) else "RS256"

    def issue(self, account: str | None, scopes: list[str]) -> dict[str, Any]:
        import jwt

        granted: dict[tuple[str, str], list[str]] = {}
        for scope in scopes:
            for access in parse_scope(scope):
                if acl_allows(self.acl, account, access):
                    granted.setdefault((access.type, access.name), [])
                    if access.action not in granted[(access.type, access.name)]:
                        granted[(access.type, access.name)].append(access.action)
        now = int(time.time())
        claims = {
            "iss": self.issuer,
            "sub": account or "",
            "aud": self.service,
            "exp": now + self.expiration,
            "nbf": now - 1,
            "iat": now,
            "jti": str(uuid.uuid4()),
            "access": [{"type": t, "name": n, "actions": a} for (t, n), a in granted.items()],
        }
        headers = {"kid": libtrust_key_id(self.private_key.public_key()), "typ": "JWT"}
        token = jwt.encode(claims, self.private_key, algorithm=self.algorithm, headers=headers)
        issued = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        return {"token": token, "access_token": token, "expires_in": self.expiration, "issued_at": issued}

    async def _account(self, user: str | None, password: str | None) -> str | None:
        if user is None:
            return None
        if self.htpasswd is None:
            raise web.HTTPUnauthorized()
        loop = asyncio.get_running_loop()
        if not await loop.run_in_executor(None, self.htpasswd.verify, user, password or ""):
            raise web.HTTPUnauthorized(
                text='{"errors":[{"code":"UNAUTHORIZED","message":"invalid username or password"}]}',
                content_type="application/json",
                headers={"WWW-Authenticate": 'Basic realm="lamina token"'},
            )
        return user

    async def handle_get(self, request: web.Request) -> web.Response:
        creds = basic_credentials(request.headers)
        account = await self._account(*(creds or (None, None)))
        # each scope may come as its own parameter (docker) or space-separated in one (OAuth2)
        scopes = [scope for value in request.query.getall("scope", []) for scope in value.split()]
        return web.json_response(self.issue(account, scopes))

    async def handle_post(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "password":
            return web.json_response({"error": "unsupported_grant_type"}, status=400)
        account = await self._account(str(form.get("username", "")), str(form.get("password", "")))
        scopes = str(form.get("scope", "")).split()
        body = self.issue(account, scopes)
        return web.json_response({**body, "refresh_token": ""})

    def routes(self) -> list:
        return [web.get("/auth/token", self.handle_get), web.post("/auth/token", self.handle_post)]


def scopes_for(accesses: list[Access]) -> list[str]:
    return [a.scope() for a in accesses]
