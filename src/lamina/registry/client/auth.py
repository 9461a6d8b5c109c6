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


def _is_loopback(host: str) -> bool:
    name = host.rsplit(":", 1)[0] if not host.startswith("[") else host.split("]")[0] + "]"
    return name in ("localhost", "[::1]") or name.startswith("127.")


def _candidates(server: str, insecure: bool) -> list[tuple[str, bool | ssl.SSLContext]]:
    """(base URL, verify) pairs in the order docker tries them.

    A registry is secure by default: HTTPS only, verified against the system roots plus
    ``certs.d/<host:port>/ca.crt``. Loopback registries and ``--insecure`` are insecure, as
    docker marks 127.0.0.0/8: HTTPS without verification first, then plain HTTP. An explicit
    ``https://`` is always verified (unless ``--insecure``); an explicit ``http://`` is used as is.
    """
    scheme, sep, host = server.partition("://")
    if not sep:
        scheme, host = "", server
    host = host.rstrip("/")
    ca = _ca_file(host)
    verify: bool | ssl.SSLContext = ssl.create_default_context(cafile=ca) if ca else True
    if scheme == "http":
        return [(f"http://{host}", False)]
    if scheme == "https":
        return [(f"https://{host}", False if insecure else verify)]
    if insecure or _is_loopback(host):
        return [(f"https://{host}", False), (f"http://{host}", False)]
    return [(f"https://{host}", verify)]


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
