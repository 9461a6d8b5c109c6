"""The few HTTP/1.1 GETs of ``login``, spoken over a socket (``ssl`` for HTTPS).

``login`` is three small requests at most; ``http.client`` parses response headers with the
``email`` package, whose import alone (~20 ms on this class of machine) is about docker's whole
``docker login``, and ``login`` is one of the commands that must start fast (``lamina.cli.fast``).
This client does what those requests need and no more: one connection per origin, kept alive
while the server allows it; ``Content-Length``, chunked or read-to-close bodies; headers
looked up case-insensitively. Pulls and pushes use httpx (``registry.client``).

Failures are ``OSError`` (refused, reset, TLS, timeout) or ``ProtocolError`` (an answer that
is not HTTP/1.x), both of which ``login`` takes as "try the next endpoint".
"""

from __future__ import annotations

import socket

__all__ = ["Connection", "Headers", "ProtocolError", "split_url"]

_MAX_LINE = 65536
_MAX_HEADERS = 100


class ProtocolError(Exception):
    """The server's answer is not HTTP/1.x (or it closed the connection without one)."""


class Headers:
    """Response headers: ``get`` by any spelling of the name (the last value wins)."""

    __slots__ = ("_values",)

    def __init__(self) -> None:
        self._values: dict[str, str] = {}

    def add(self, name: str, value: str) -> None:
        self._values[name.lower()] = value

    def get(self, name: str, default: str | None = None) -> str | None:
        return self._values.get(name.lower(), default)


def split_url(url: str) -> tuple[str, str, str]:
    """(scheme, netloc, target) of an absolute ``http(s)://`` URL; target is path and query."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.lower() not in ("http", "https"):
        raise ProtocolError(f"unsupported URL {url!r}")
    netloc, slash, path = rest.partition("/")
    netloc, _, _ = netloc.partition("#")
    target = (slash + path).partition("#")[0]
    if "?" in netloc:  # ``https://host?x=1``
        netloc, _, query = netloc.partition("?")
        target = "/?" + query
    return scheme.lower(), netloc, target or "/"


def _host_port(netloc: str, scheme: str) -> tuple[str, int]:
    default = 443 if scheme == "https" else 80
    if netloc.startswith("["):
        host, _, rest = netloc[1:].partition("]")
        port = rest[1:] if rest.startswith(":") else ""
    else:
        host, _, port = netloc.rpartition(":") if ":" in netloc else (netloc, "", "")
    if port and not port.isdigit():
        raise ProtocolError(f"nonnumeric port: '{port}'")
    return host, int(port) if port else default


def _sni_name(host: str) -> str | bytes:
    """The name ``getaddrinfo`` resolves and ``wrap_socket`` sends and checks: an ASCII name as
    bytes, which both take as is, where a ``str`` goes through the ``idna`` codec (its import,
    with ``stringprep`` and ``unicodedata``, ~5 ms) and comes out the same for ASCII labels of
    1 to 63 characters."""
    if host.isascii() and all(0 < len(label) < 64 for label in host.split(".")):
        return host.encode("ascii")
    return host


class Connection:
    """One origin's connection, opened on the first request and again when the server closed it."""

    def __init__(self, scheme: str, netloc: str, timeout: float, context=None) -> None:
        self.scheme = scheme
        self.netloc = netloc
        self.timeout = timeout
        self.context = context  # an ssl.SSLContext for https
        self._sock = None
        self._file = None

    def _open(self) -> None:
        host, port = _host_port(self.netloc, self.scheme)
        sock = socket.create_connection((_sni_name(host), port), self.timeout)  # (getaddrinfo: idna too)
        try:
            if self.scheme == "https":
                sock = self.context.wrap_socket(sock, server_hostname=_sni_name(host))
        except BaseException:
            sock.close()
            raise
        self._sock = sock
        self._file = sock.makefile("rb")

    def get(self, target: str, headers: dict[str, str]) -> tuple[int, Headers, bytes]:
        """GET ``target`` (path and query); (status, headers, body)."""
        if self._sock is None:
            self._open()
        lines = [f"GET {target} HTTP/1.1", f"Host: {self.netloc}", "Accept-Encoding: identity"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self._sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        status, keep, response_headers = self._read_head()
        body = self._read_body(status, response_headers)
        if not keep:
            self.close()
        return status, response_headers, body

    def _line(self) -> bytes:
        line = self._file.readline(_MAX_LINE + 1)
        if len(line) > _MAX_LINE:
            raise ProtocolError("got more than 65536 bytes when reading a header line")
        return line

    def _read_head(self) -> tuple[int, bool, Headers]:
        first = self._line()
        if not first:
            raise ProtocolError("Remote end closed connection without response")
        version, _, rest = first.decode("latin-1").rstrip("\r\n").partition(" ")
        code = rest[:3]
        if version not in ("HTTP/1.1", "HTTP/1.0") or len(code) != 3 or not code.isdigit():
            raise ProtocolError(f"bad status line: {first!r}")
        headers = Headers()
        for _ in range(_MAX_HEADERS + 1):
            line = self._line()
            if line in (b"\r\n", b"\n", b""):
                break
            name, colon, value = line.decode("latin-1").partition(":")
            if colon:
                headers.add(name.strip(), value.strip())
        else:
            raise ProtocolError("got more than 100 headers")
        connection = (headers.get("Connection") or "").lower()
        keep = connection != "close" and (version == "HTTP/1.1" or connection == "keep-alive")
        return int(code), keep, headers

    def _read_body(self, status: int, headers: Headers) -> bytes:
        if status < 200 or status in (204, 304):
            return b""
        if (headers.get("Transfer-Encoding") or "").lower() == "chunked":
            return self._read_chunked()
        length = headers.get("Content-Length")
        if length is not None:
            if not length.isdigit():
                raise ProtocolError(f"bad Content-Length: {length!r}")
            return self._read_exactly(int(length))
        body = self._file.read()  # until the server closes
        self.close()
        return body

    def _read_exactly(self, count: int) -> bytes:
        data = self._file.read(count)
        if len(data) != count:
            raise ProtocolError(f"incomplete read: {len(data)} of {count} bytes")
        return data

    def _read_chunked(self) -> bytes:
        parts = []
        while True:
            size_text = self._line().split(b";", 1)[0].strip()
            try:
                size = int(size_text, 16)
            except ValueError:
                raise ProtocolError(f"bad chunk size: {size_text!r}") from None
            if size == 0:
                while self._line() not in (b"\r\n", b"\n", b""):
                    pass  # trailers
                return b"".join(parts)
            parts.append(self._read_exactly(size))
            self._line()  # the CRLF after the chunk

    def close(self) -> None:
        for closable in (self._file, self._sock):
            if closable is not None:
                try:
                    closable.close()
                except OSError:
                    pass
        self._sock = self._file = None
