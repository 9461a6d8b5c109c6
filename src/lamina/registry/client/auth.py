"""Answering a registry's ``WWW-Authenticate`` challenge: Basic, or a bearer token from a realm.

``login`` does what ``docker login`` does: ``GET /v2/``; on 401 follow the challenge with the
credentials; succeed when the registry then answers 200.
"""

from __future__ import annotations

import re

import httpx

from ...errors import InvalidArgument, Unauthorized

__all__ = ["parse_challenge", "login", "Unauthorized"]

_PARAM = re.compile(r'(\w+)="([^"]*)"')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_PARAM.findall(rest))


def _base_url(server: str, insecure: bool) -> str:
    if server.startswith(("http://", "https://")):
        return server.rstrip("/")
    local = server.startswith(("localhost", "127.")) or insecure
    return f"{'http' if local else 'https'}://{server}"


def login(server: str, user: str, password: str, *, insecure: bool = False, timeout: float = 30) -> None:
    base = _base_url(server, insecure)
    try:
        with httpx.Client(timeout=timeout, verify=not insecure) as client:
            first = client.get(f"{base}/v2/")
            if first.status_code == 200:
                return
            if first.status_code != 401:
                raise InvalidArgument(f"Error response from daemon: Get {base}/v2/: unexpected status {first.status_code}")
            scheme, params = parse_challenge(first.headers.get("WWW-Authenticate", ""))
            if scheme == "basic":
                second = client.get(f"{base}/v2/", auth=(user, password))
            elif scheme == "bearer":
                query = {k: v for k, v in (("service", params.get("service")), ("scope", params.get("scope"))) if v}
                token_resp = client.get(params.get("realm", ""), params=query, auth=(user, password))
                if token_resp.status_code != 200:
                    raise Unauthorized(f"Error response from daemon: Get {base}/v2/: unauthorized: incorrect username or password")
                body = token_resp.json()
                token = body.get("token") or body.get("access_token")
                second = client.get(f"{base}/v2/", headers={"Authorization": f"Bearer {token}"})
            else:
                raise InvalidArgument(f"unsupported auth scheme {scheme!r} from {server}")
            if second.status_code != 200:
                raise Unauthorized(f"Error response from daemon: Get {base}/v2/: unauthorized: incorrect username or password")
    except httpx.HTTPError as exc:
        raise InvalidArgument(f"Error response from daemon: Get {base}/v2/: {exc}") from None
