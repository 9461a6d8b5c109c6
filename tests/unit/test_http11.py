"""``registry.client.http11``: the bodies, connection reuse and failures ``login`` meets,
against a loopback server that answers canned HTTP/1.x responses."""

from __future__ import annotations

import socket
import threading

import pytest

from lamina.registry.client.http11 import Connection, ProtocolError, split_url


class CannedServer:
    """Answers each request on a connection with the next canned response; records requests
    and how many connections were opened."""

    def __init__(self, responses: list[bytes]) -> None:
        self.responses = list(responses)
        self.requests: list[bytes] = []
        self.connections = 0
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.responses:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            self.connections += 1
            with conn:
                data = b""
                while self.responses:
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    if b"\r\n\r\n" not in data:
                        break
                    request, _, data = data.partition(b"\r\n\r\n")
                    self.requests.append(request)
                    response = self.responses.pop(0)
                    conn.sendall(response)
                    if b"Connection: close" in response or response.startswith(b"HTTP/1.0"):
                        break

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def serve():
    servers = []

    def start(*responses: bytes) -> CannedServer:
        server = CannedServer(list(responses))
        servers.append(server)
        return server

    yield start
    for server in servers:
        server.close()


def test_bodies_and_keep_alive(serve):
    server = serve(
        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nDocker-Distribution-Api-Version: registry/2.0\r\n\r\nhello",
        b"HTTP/1.1 401 Unauthorized\r\nWww-Authenticate: Basic realm=\"x\"\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\nTrailer: t\r\n\r\n",
        b"HTTP/1.1 204 No Content\r\n\r\n",
        b"HTTP/1.0 200 OK\r\n\r\nuntil close",
    )
    conn = Connection("http", f"127.0.0.1:{server.port}", 5)
    status, headers, body = conn.get("/v2/", {"User-Agent": "lamina"})
    assert (status, body, headers.get("docker-distribution-api-version")) == (200, b"hello", "registry/2.0")
    status, headers, body = conn.get("/v2/", {"Authorization": "Basic eDp5"})
    assert (status, body, headers.get("WWW-Authenticate")) == (401, b"abcdefg", 'Basic realm="x"')
    assert conn.get("/v2/?a=1", {})[::2] == (204, b"")
    assert conn.get("/v2/", {})[::2] == (200, b"until close")
    conn.close()
    assert server.connections == 1  # one connection kept alive for all four
    assert server.requests[0].split(b"\r\n")[:2] == [b"GET /v2/ HTTP/1.1", f"Host: 127.0.0.1:{server.port}".encode()]
    assert b"Authorization: Basic eDp5" in server.requests[1].split(b"\r\n")
    assert server.requests[2].startswith(b"GET /v2/?a=1 HTTP/1.1")


def test_a_closed_connection_is_opened_again(serve):
    server = serve(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 1\r\n\r\na",
                   b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nb")
    conn = Connection("http", f"127.0.0.1:{server.port}", 5)
    assert conn.get("/", {})[2] == b"a"
    assert conn.get("/", {})[2] == b"b"
    conn.close()
    assert server.connections == 2


@pytest.mark.parametrize("answer", [b"", b"SSH-2.0-OpenSSH\r\n", b"HTTP/1.1 200 OK\r\nContent-Length: 99\r\n\r\nshort "])
def test_what_is_not_http_is_a_protocol_error(serve, answer):
    server = serve(answer + b"Connection: close")  # (the marker makes the server hang up)
    conn = Connection("http", f"127.0.0.1:{server.port}", 5)
    with pytest.raises(ProtocolError):
        conn.get("/", {})
    conn.close()


def test_refused_is_an_os_error():
    listener = socket.create_server(("127.0.0.1", 0))
    port = listener.getsockname()[1]
    listener.close()
    with pytest.raises(ConnectionRefusedError):
        Connection("http", f"127.0.0.1:{port}", 5).get("/", {})


def test_split_url():
    assert split_url("https://auth.example.com/token?service=x&scope=a:b") == ("https", "auth.example.com", "/token?service=x&scope=a:b")
    assert split_url("http://[::1]:5000") == ("http", "[::1]:5000", "/")
    assert split_url("HTTP://host?x=1") == ("http", "host", "/?x=1")
    with pytest.raises(ProtocolError):
        split_url("ftp://host/")
