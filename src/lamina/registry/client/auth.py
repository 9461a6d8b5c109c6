"""Answering a registry's ``WWW-Authenticate`` challenge: Basic, or a bearer token from a realm.

``login`` does what ``docker login`` does: ``GET /v2/``; on 401 follow the challenge with the
credentials; succeed when the registry then answers 200.
"""

from __future__ import annotations

import os
import re
import ssl

import httpx

from ...errors import InvalidArgument, Unauthorized

__all__ = ["parse_challenge", "login", "Unauthorized"]

_PARAM = re.compile(r'(\w+)="([^"]*)"')


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_PARAM.findall(rest))


#: where per-registry CA certificates live, as docker's ``/etc/docker/certs.d/<host:port>/ca.crt``
CERTS_DIRS = ("/etc/lamina/certs.d", "/etc/docker/certs.d")


def _ca_file(server: str) -> str | None:
    dirs = [os.environ["LAMINA_CERTS_D"]] if os.environ.get("LAMINA_CERTS_D") else list(CERTS_DIRS)
    for base in dirs:
        path = os.path.join(base, server, "ca.crt")
        if os.path.isfile(path):
            return path
    return None


def _candidates(server: str, insecure: bool) -> list[tuple[str, bool | ssl.SSLContext]]:
    """(base URL, verify) pairs in the order docker tries them: HTTPS first, verified against
    the system roots plus ``certs.d/<server>/ca.crt``; plain HTTP (and unverified HTTPS) only for
    loopback registries and ``--insecure``."""
    if server.startswith(("http://", "https://")):
        return [(server.rstrip("/"), not insecure)]
    ca = _ca_file(server)
    verify: bool | ssl.SSLContext = ssl.create_default_context(cafile=ca) if ca else True
    local = server.startswith(("localhost", "127.", "[::1]"))
    if insecure:
        return [(f"https://{server}", False), (f"http://{server}", False)]
    if local:
        return [(f"https://{server}", verify), (f"http://{server}", False)]
    return [(f"https://{server}", verify)]


def login(server: str, user: str, password: str, *, insecure: bool = False, timeout: float = 30) -> None:
    failure = ""
    for base, verify in _candidates(server, insecure):
        try:
            return _login(base, verify, user, password, timeout, server)
        except httpx.TransportError as exc:  # refused, TLS spoken to plain HTTP, bad cert: next
            failure = f"Get {base}/v2/: {exc}"
        except httpx.HTTPError as exc:
            raise InvalidArgument(f"Error response from daemon: Get {base}/v2/: {exc}") from None
        except ValueError:
            raise InvalidArgument(f"Error response from daemon: {server}: the token server's answer is not JSON") from None
    raise InvalidArgument(f"Error response from daemon: {failure}")


def _login(base: str, verify, user: str, password: str, timeout: float, server: str) -> None:
    with httpx.Client(timeout=timeout, verify=verify) as client:
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
