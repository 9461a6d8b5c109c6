"""The throttling relay the slow-client tests put between real clients and a registry."""

from __future__ import annotations

import socket
import socketserver
import threading
import time

import pytest

from lamina.testing.relay import ThrottlingRelay


class _Echo(socketserver.BaseRequestHandler):
    """Answers with the server's name, then echoes until the client half-closes."""

    def handle(self) -> None:
        self.request.sendall(self.server.name)
        while data := self.request.recv(65536):
            self.request.sendall(data)


@pytest.fixture
def echoes():
    servers = []
    for name in (b"A", b"B"):
        server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Echo)
        server.daemon_threads = True
        server.name = name
        threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
        servers.append(server)
    yield [f"127.0.0.1:{s.server_address[1]}" for s in servers]
    for server in servers:
        server.shutdown()
        server.server_close()


def _connect(relay: ThrottlingRelay) -> socket.socket:
    return socket.create_connection(("127.0.0.1", relay.port), timeout=10)


def _echo(conn: socket.socket, payload: bytes) -> tuple[bytes, bytes]:
    """(the upstream's name, what came back) after sending ``payload`` and half-closing."""
    name = conn.recv(1)
    sender = threading.Thread(target=lambda: (conn.sendall(payload), conn.shutdown(socket.SHUT_WR)))
    sender.start()
    back = bytearray()
    while data := conn.recv(65536):
        back += data
    sender.join()
    return name, bytes(back)


def test_each_connection_is_paced_to_the_rate(echoes):
    payload = bytes(range(256)) * 1024  # 256 KiB
    with ThrottlingRelay(echoes[:1], rate=512 << 10) as relay, _connect(relay) as conn:
        started = time.monotonic()
        name, back = _echo(conn, payload)
        elapsed = time.monotonic() - started
    assert name == b"A" and back == payload
    # half a second at 512 KiB/s, less the first chunk (sent at once)
    assert elapsed >= 0.4, elapsed
    assert relay.stats.bytes_up == len(payload) and relay.stats.bytes_down == len(payload) + 1


def test_unthrottled_and_connections_take_turns_over_upstreams(echoes):
    with ThrottlingRelay(echoes) as relay:
        names = []
        for _ in range(4):
            with _connect(relay) as conn:
                started = time.monotonic()
                name, back = _echo(conn, b"x" * (1 << 20))
                assert back == b"x" * (1 << 20) and time.monotonic() - started < 5
                names.append(name)
    assert names == [b"A", b"B", b"A", b"B"]


def test_connections_beyond_the_bound_are_closed(echoes):
    with ThrottlingRelay(echoes[:1], max_connections=1) as relay, _connect(relay) as held:
        assert held.recv(1) == b"A"
        with _connect(relay) as extra:
            assert extra.recv(1) == b""  # closed at once
        assert relay.stats.refused == 1


def test_stop_closes_open_connections_and_the_port(echoes):
    relay = ThrottlingRelay(echoes[:1], rate=1024).start()
    conn = _connect(relay)
    assert conn.recv(1) == b"A"
    port = relay.port
    relay.stop()
    assert conn.recv(1) == b""  # the relay hung up
    conn.close()
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    assert not any(t.name.startswith("relay-") for t in threading.enumerate())
