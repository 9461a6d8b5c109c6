"""Answering a registry's ``WWW-Authenticate`` challenge: Basic, or a bearer token from a realm.

``login`` does what ``docker login`` does: ``GET /v2/``; on 401 follow the challenge with the
credentials; succeed when the registry then answers 200. It speaks HTTP through
``registry.client.http11``: a login is three small requests, and ``lamina login`` is one of the
commands that must start fast (httpx alone takes ~100 ms to import here, ``http.client`` with
its ``email`` parser ~20 ms; ``lamina.cli.fast``).
"""

from __future__ import annotations

import os

from ...errors import InvalidArgument, Unauthorized
from .http11 import Connection, ProtocolError, split_url

TYPE_CHECKING = False
if TYPE_CHECKING:
    import ssl

__all__ = ["parse_challenge", "login", "Unauthorized"]

_PARAM = r'(\w+)="([^"]*)"'


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    import re  # here: a registry that answers 200 at once (no auth) needs no challenge read

    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(re.findall(_PARAM, rest))


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


def _listed_insecure(host: str) -> bool:
    """daemon.json's ``insecure-registries`` (read only off loopback: a loopback login is
    decided without it, and the lean path keeps its imports small)."""
    from .daemon_config import load_daemon_config

    return load_daemon_config().is_insecure(host)


def _candidates(server: str, insecure: bool) -> list[tuple[str, bool | ssl.SSLContext]]:
    """(base URL, verify) pairs in the order docker tries them.

    A registry is secure by default: HTTPS only, verified against the system roots plus
    ``certs.d/<host:port>/ca.crt``. Loopback registries, those daemon.json lists in
    ``insecure-registries`` (as pull and push read it) and ``--insecure`` are insecure: HTTPS
    without verification first, then plain HTTP. An explicit ``https://`` is always verified
    (unless ``--insecure``); an explicit ``http://`` is used as is.
    """
    scheme, sep, host = server.partition("://")
    if not sep:
        scheme, host = "", server
    host = host.rstrip("/")
    ca = _ca_file(host)
    verify: bool | str = ca or True  # a CA file to verify against, the system's roots, or not
    if scheme == "http":
        return [(f"http://{host}", False)]
    if scheme == "https":
        return [(f"https://{host}", False if insecure else verify)]
    if insecure or _is_loopback(host) or _listed_insecure(host):
        return [(f"https://{host}", False), (f"http://{host}", False)]
    return [(f"https://{host}", verify)]


def login(server: str, user: str, password: str, *, insecure: bool = False, timeout: float = 30) -> None:
    failure = ""
    for base, verify in _candidates(server, insecure):
        try:
            return _login(base, verify, user, password, timeout, server)
        except (OSError, ProtocolError) as exc:  # refused, TLS spoken to plain HTTP, bad cert: next
            failure = f"Get {base}/v2/: {_reason(exc)}"
        except ValueError:
            raise InvalidArgument(f"Error response from daemon: {server}: the token server's answer is not JSON") from None
    raise InvalidArgument(f"Error response from daemon: {failure}")


def _reason(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return str(exc) or type(exc).__name__


def _ssl_context(verify: bool | str) -> ssl.SSLContext:
    import ssl

    if verify is False:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=verify if isinstance(verify, str) else None)


class _Client:
    """GETs with one connection per origin (``http11.Connection``), as httpx.Client would pool them."""

    def __init__(self, verify: bool | str, timeout: float) -> None:
        self.verify = verify
        self.timeout = timeout
        self.connections: dict[tuple[str, str], Connection] = {}

    def get(self, url: str, headers: dict[str, str] | None = None) -> tuple[int, object, bytes]:
        scheme, netloc, target = split_url(url)
        key = (scheme, netloc)
        conn = self.connections.get(key)
        if conn is None:
            context = _ssl_context(self.verify) if scheme == "https" else None
            conn = Connection(scheme, netloc, self.timeout, context)
            self.connections[key] = conn
        return conn.get(target, {"User-Agent": "lamina", **(headers or {})})

    def close(self) -> None:
        for conn in self.connections.values():
            conn.close()


def _basic(user: str, password: str) -> dict[str, str]:
    import base64

    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


def _login(base: str, verify, user: str, password: str, timeout: float, server: str) -> None:
    client = _Client(verify, timeout)
    try:
        status, headers, _ = client.get(f"{base}/v2/")
        if status == 200:
            return
        if status != 401:
            raise InvalidArgument(f"Error response from daemon: Get {base}/v2/: unexpected status {status}")
        scheme, params = parse_challenge(headers.get("WWW-Authenticate", ""))
        if scheme == "basic":
            second, _, _ = client.get(f"{base}/v2/", _basic(user, password))
        elif scheme == "bearer":
            from urllib.parse import urlencode

            query = {k: v for k, v in (("service", params.get("service")), ("scope", params.get("scope"))) if v}
            realm = params.get("realm", "")
            url = realm + (("&" if "?" in realm else "?") + urlencode(query) if query else "")
            token_status, _, body = client.get(url, _basic(user, password))
            if token_status != 200:
                raise Unauthorized(f"Error response from daemon: Get {base}/v2/: unauthorized: incorrect username or password")
            import json

            doc = json.loads(body)
            token = doc.get("token") or doc.get("access_token")
            second, _, _ = client.get(f"{base}/v2/", {"Authorization": f"Bearer {token}"})
        else:
            raise InvalidArgument(f"unsupported auth scheme {scheme!r} from {server}")
        if second != 200:
            raise Unauthorized(f"Error response from daemon: Get {base}/v2/: unauthorized: incorrect username or password")
    finally:
        client.close()
