"""HTTP to one registry: which URL, which credentials, and when they may be sent.

A :class:`Session` talks to one registry endpoint (``https://host:port`` or, for an insecure
registry, plain HTTP after HTTPS fails) and handles, for every request:

* the auth challenge: a 401's ``WWW-Authenticate`` says Basic or Bearer; Basic sends the
  stored credentials, Bearer fetches a token for the request's scopes from the realm and
  caches it until it expires (per set of scopes, shared by the session's threads, and with a
  ``TokenCache`` on disk for the next command too);
* credentials stay with their registry: an ``Authorization`` header goes only to the
  endpoint's own origin, never along a redirect to another host (a blob store, a CDN), and
  the credentials go to a token realm only over HTTPS or on the insecure registry's own host;
* retries with backoff for idempotent requests on transport errors, 429 and 5xx.

Endpoint choice follows docker: a registry is secure (verified HTTPS, with
``/etc/lamina/certs.d/<host:port>/ca.crt`` or ``/etc/docker/certs.d/…``) unless it is loopback
or listed in daemon.json's ``insecure-registries``; then unverified HTTPS is tried first and
plain HTTP after it.
"""

from __future__ import annotations

import base64
import os
import re
import ssl
import threading
import time
from contextlib import closing
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

from ...errors import InvalidArgument, LaminaError, NotFound, RegistryUnavailable, Unauthorized
from .daemon_config import DaemonConfig
from .http import httpx
from .tokens import TokenCache, token_key

__all__ = ["Endpoint", "Session", "endpoints_for", "parse_challenge", "registry_host", "HUB_HOST"]

#: where Docker Hub's API lives (``docker.io`` names go there)
HUB_HOST = "registry-1.docker.io"
#: per-registry CA certificates, as docker's ``/etc/docker/certs.d/<host:port>/ca.crt``
CERTS_DIRS = ("/etc/lamina/certs.d", "/etc/docker/certs.d")
USER_AGENT = "lamina (docker-compatible registry client)"
_PARAM = re.compile(r'(\w+)="([^"]*)"')
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
ATTEMPTS = 4


def parse_challenge(header: str) -> tuple[str, dict[str, str]]:
    scheme, _, rest = header.strip().partition(" ")
    return scheme.lower(), dict(_PARAM.findall(rest))


def registry_host(domain: str) -> str:
    """The host to speak the API to for a reference's domain."""
    return HUB_HOST if domain in ("docker.io", "index.docker.io") else domain


@dataclass(frozen=True)
class Endpoint:
    base: str  # scheme://host[:port]
    host: str  # host[:port]: what credentials and certificates are filed under
    verify: bool | ssl.SSLContext
    insecure: bool


def _ca_file(host: str) -> str | None:
    dirs = [os.environ["LAMINA_CERTS_D"]] if os.environ.get("LAMINA_CERTS_D") else list(CERTS_DIRS)
    for base in dirs:
        path = os.path.join(base, host, "ca.crt")
        if os.path.isfile(path):
            return path
    return None


def _verify_for(host: str) -> bool | ssl.SSLContext:
    ca = _ca_file(host)
    return ssl.create_default_context(cafile=ca) if ca else True


def endpoints_for(server: str, config: DaemonConfig, insecure: bool = False) -> list[Endpoint]:
    """The endpoints to try for ``server`` (``host:port``, or with an explicit scheme), in order.

    An explicit ``https://`` is verified (unless ``insecure``); an explicit ``http://`` is used
    as is; a bare host is verified HTTPS, or for an insecure one unverified HTTPS then HTTP.
    """
    scheme, sep, host = server.partition("://")
    if not sep:
        scheme, host = "", server
    host = host.rstrip("/")
    is_insecure = insecure or config.is_insecure(host)
    if scheme == "http":
        return [Endpoint(f"http://{host}", host, False, True)]
    if scheme == "https":
        return [Endpoint(f"https://{host}", host, False if insecure else _verify_for(host), insecure)]
    if is_insecure:
        return [Endpoint(f"https://{host}", host, False, True), Endpoint(f"http://{host}", host, False, True)]
    return [Endpoint(f"https://{host}", host, _verify_for(host), False)]


@dataclass
class _Token:
    value: str
    expires: float  # time.monotonic()
    disk_key: str | None = None  # its key in the session's TokenCache


def _origin(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    return parts.scheme, f"{parts.hostname}:{port}"


def error_message(response: httpx.Response) -> str:
    """The registry's own words for a failure (the ``errors`` array), else the status."""
    try:
        doc = response.json()
        errors = doc.get("errors") if isinstance(doc, dict) else None
        if errors:
            first = errors[0]
            code = str(first.get("code", "")).lower().replace("_", " ")
            message = str(first.get("message", ""))
            return f"{code}: {message}" if code and message else code or message
    except (ValueError, AttributeError, httpx.ResponseNotRead):
        pass
    return f"{response.status_code} {response.reason_phrase}".strip()


class Session:
    """Requests to one registry, authenticated as its challenge asks. Thread-safe."""

    def __init__(
        self,
        server: str,
        config: DaemonConfig,
        credentials: tuple[str, str] | None = None,
        *,
        insecure: bool = False,
        timeout: float = 60.0,
        connect_timeout: float = 10.0,
        token_cache: TokenCache | None = None,
    ) -> None:
        self.server = server
        self.credentials = credentials
        self.token_cache = token_cache
        self._candidates = endpoints_for(server, config, insecure)
        self._timeout = httpx.Timeout(timeout, connect=connect_timeout)
        self._clients: dict[int, httpx.Client] = {}
        self._lock = threading.Lock()
        self._tokens: dict[tuple[str, ...], _Token] = {}
        self._challenge: tuple[str, dict[str, str]] | None = None
        self._endpoint: Endpoint | None = None
        #: how many tokens were fetched (tests check that caching works)
        self.token_fetches = 0

    # endpoint --------------------------------------------------------------------------------
    def _client(self, verify: bool | ssl.SSLContext) -> httpx.Client:
        key = id(verify) if not isinstance(verify, bool) else int(verify)
        with self._lock:
            client = self._clients.get(key)
            if client is None:
                limits = httpx.Limits(max_connections=32, max_keepalive_connections=16)
                client = httpx.Client(
                    verify=verify, timeout=self._timeout, follow_redirects=False, limits=limits,
                    headers={"User-Agent": USER_AGENT},
                )
                self._clients[key] = client
            return client

    @property
    def endpoint(self) -> Endpoint:
        """The endpoint that answered ``GET /v2/`` (tried in order, with retries)."""
        if self._endpoint is not None:
            return self._endpoint
        failure: Exception | None = None
        for n, candidate in enumerate(self._candidates):
            last = n == len(self._candidates) - 1  # HTTPS refused by a plain-HTTP registry: no retries
            try:
                response = self._send_retrying(self._client(candidate.verify), "GET", f"{candidate.base}/v2/", {}, retry=last)
            except httpx.TransportError as exc:
                failure = exc
                continue
            with closing(response):
                if response.status_code == 401:
                    self._challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
            self._endpoint = candidate
            return candidate
        raise RegistryUnavailable(
            f'Get "{self._candidates[-1].base}/v2/": {_describe(failure)}'
        )

    # sending ---------------------------------------------------------------------------------
    def _send_retrying(self, client: httpx.Client, method: str, url: str, headers: dict, *, content=None, stream=False, retry=True) -> httpx.Response:
        delay = 0.25
        attempts = ATTEMPTS if retry else 1
        for attempt in range(attempts):
            try:
                request = client.build_request(method, url, headers=headers, content=content)
                response = client.send(request, stream=stream)
            except httpx.TransportError as exc:
                if attempt == attempts - 1 or _hopeless(exc, attempt):
                    raise
            else:
                if response.status_code not in _RETRY_STATUSES or attempt == attempts - 1:
                    return response
                response.close()
            time.sleep(delay)
            delay = min(delay * 2, 4.0)
        raise AssertionError("unreachable")

    def request(
        self,
        method: str,
        path: str,
        scopes: tuple[str, ...] = (),
        *,
        headers: dict[str, str] | None = None,
        content=None,
        stream: bool = False,
        follow: bool = True,
    ) -> httpx.Response:
        """Send a request to ``path`` (``/v2/…``) or an absolute URL the registry gave
        (an upload location), authenticated for ``scopes``; redirects are followed without
        credentials when they leave the registry's origin. Idempotent requests are retried."""
        endpoint = self.endpoint
        url = urljoin(endpoint.base + "/", path)
        replayable = content is None or isinstance(content, bytes | str)
        retry = method in ("GET", "HEAD", "PUT", "DELETE") and replayable
        for auth_round in range(2):
            response = self._follow(method, url, scopes, headers or {}, content, stream, follow, retry)
            if response.status_code != 401 or auth_round == 1 or not replayable:
                return response
            challenge = parse_challenge(response.headers.get("WWW-Authenticate", ""))
            response.close()
            if not challenge[0]:
                return response
            with self._lock:
                had = self._challenge
                self._challenge = challenge
                refused = self._tokens.pop(tuple(sorted(scopes)), None)
            if refused is not None and refused.disk_key and self.token_cache is not None:
                self.token_cache.drop(refused.disk_key)
            if had == challenge and challenge[0] == "basic":
                return response  # the credentials were refused; asking again cannot help
        return response

    def _follow(self, method, url, scopes, headers, content, stream, follow, retry) -> httpx.Response:
        endpoint = self.endpoint
        client = self._client(endpoint.verify)
        own = _origin(endpoint.base)
        for _ in range(6):
            sent = dict(headers)
            if _origin(url) == own:
                auth = self._authorization(scopes)
                if auth:
                    sent["Authorization"] = auth
            response = self._send_retrying(client, method, url, sent, content=content, stream=stream, retry=retry)
            location = response.headers.get("Location")
            if not follow or response.status_code not in (301, 302, 303, 307, 308) or not location:
                return response
            response.close()
            url = urljoin(url, location)
            if _origin(url) != own:
                # elsewhere (a blob store): the registry's verification rules do not apply, and
                # no credentials go with it
                client = self._client(True if urlsplit(url).scheme == "https" else False)
            if response.status_code == 303:
                method, content = "GET", None
        raise InvalidArgument(f"{method} {url}: too many redirects")

    # auth ------------------------------------------------------------------------------------
    def _authorization(self, scopes: tuple[str, ...]) -> str | None:
        challenge = self._challenge
        if challenge is None:
            return None
        scheme, params = challenge
        if scheme == "basic":
            if not self.credentials:
                return None
            user, password = self.credentials
            return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        if scheme == "bearer":
            return "Bearer " + self._token(tuple(sorted(scopes)), params)
        return None

    def _token(self, scopes: tuple[str, ...], params: dict[str, str]) -> str:
        with self._lock:
            cached = self._tokens.get(scopes)
            if cached is not None and cached.expires > time.monotonic():
                return cached.value
        realm = params.get("realm", "")
        if not realm.startswith(("http://", "https://")):
            raise Unauthorized(f"{self.server}: the registry's token realm {realm!r} is not a URL")
        query: list[tuple[str, str]] = []
        if params.get("service"):
            query.append(("service", params["service"]))
        query += [("scope", s) for s in scopes]
        auth = None
        if self.credentials and self._may_send_credentials(realm):
            auth = self.credentials
        endpoint = self.endpoint
        disk_key = None
        if self.token_cache is not None:
            disk_key = token_key(endpoint.base, realm, params.get("service", ""), scopes, auth)
            kept = self.token_cache.get(disk_key)
            if kept is not None:
                value, expires = kept
                with self._lock:
                    self._tokens[scopes] = _Token(value, time.monotonic() + expires - time.time(), disk_key)
                return value
        same = _origin(realm) == _origin(endpoint.base) or urlsplit(realm).hostname == urlsplit(endpoint.base).hostname
        client = self._client(endpoint.verify if same else _verify_for(urlsplit(realm).netloc))
        try:
            response = client.get(realm, params=query, auth=auth)
        except httpx.TransportError as exc:
            raise RegistryUnavailable(f'Get "{realm}": {_describe(exc)}') from None
        if response.status_code in (401, 403):
            raise Unauthorized("unauthorized: incorrect username or password" if auth else "unauthorized: authentication required")
        if response.status_code != 200:
            raise Unauthorized(f"the token server {realm} answered {response.status_code}")
        try:
            body = response.json()
            value = body.get("token") or body.get("access_token")
            lifetime = int(body.get("expires_in") or 60)
        except (ValueError, AttributeError, TypeError):
            raise Unauthorized(f"the token server {realm} did not answer with a token") from None
        if not isinstance(value, str) or not value:
            raise Unauthorized(f"the token server {realm} did not answer with a token")
        # refresh a little early so a token never expires between check and use
        lifetime = max(lifetime - 5, 1)
        with self._lock:
            self.token_fetches += 1
            self._tokens[scopes] = _Token(value, time.monotonic() + lifetime, disk_key)
        if disk_key is not None:
            self.token_cache.put(disk_key, value, time.time() + lifetime)
        return value

    def _may_send_credentials(self, realm: str) -> bool:
        """Credentials go to a realm over HTTPS, or over HTTP only on an insecure registry's own
        host (a realm elsewhere over plain HTTP would expose them)."""
        parts = urlsplit(realm)
        if parts.scheme == "https":
            return True
        endpoint = self.endpoint
        return endpoint.insecure and parts.hostname == urlsplit(endpoint.base).hostname

    # errors ----------------------------------------------------------------------------------
    def fail(self, response: httpx.Response, what: str) -> LaminaError:
        """The error for an unexpected response to ``what``."""
        try:
            response.read()
        except httpx.HTTPError:
            pass
        message = error_message(response)
        status = response.status_code
        if status == 401 or status == 403:
            return Unauthorized(f"{what}: {message}")
        if status == 404:
            return NotFound(f"{what}: {message}")
        if status in _RETRY_STATUSES:
            return RegistryUnavailable(f"{what}: {message}")
        return InvalidArgument(f"{what}: {message}")

    def close(self) -> None:
        for client in self._clients.values():
            client.close()
        self._clients.clear()

    def __enter__(self) -> Session:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _hopeless(exc: httpx.TransportError, attempt: int) -> bool:
    """Failures that another attempt will not mend: a name that does not resolve, or a second
    connect timeout (an unreachable Docker Hub should fail in seconds, not minutes)."""
    text = str(exc)
    if isinstance(exc, httpx.ConnectError) and ("Name or service not known" in text or "No address associated" in text):
        return True
    return isinstance(exc, httpx.ConnectTimeout) and attempt >= 1


def _describe(exc: Exception | None) -> str:
    if exc is None:
        return "no endpoint answered"
    text = str(exc) or type(exc).__name__
    if isinstance(exc, httpx.ConnectError) and "Name or service not known" in text:
        return f"dial tcp: lookup: {text}"
    return text
