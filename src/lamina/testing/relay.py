"""A bandwidth-throttling TCP relay on loopback: a slow network between real clients and a server.

Real clients (skopeo, docker) on loopback push a layer in milliseconds, so what a slow link does
to a push — its layers finished seconds or minutes before its manifest — never shows in a test.
The relay listens on ``127.0.0.1`` (a free port), forwards each connection to the next of its
upstreams in turn (a load balancer without stickiness when there are several) and paces every
connection, in each direction, to ``rate`` bytes per second. Docker treats ``127.0.0.1`` as an
insecure registry, so the relay's address works as a registry host for docker as it is.

It runs an asyncio loop in a thread of its own, holds at most ``max_connections`` connections
(more are closed at once) and at most one ``chunk`` of data per direction in flight, and on
``stop`` closes every connection and joins its thread: nothing is left behind.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field


@dataclass
class RelayStats:
    connections: int = 0
    refused: int = 0
    bytes_up: int = 0
    bytes_down: int = 0


@dataclass
class ThrottlingRelay:
    """``upstreams`` are ``host:port`` strings; ``rate`` is bytes/s per connection and direction
    (0: unthrottled)."""

    upstreams: Sequence[str]
    rate: int = 0
    max_connections: int = 128
    chunk: int = 16 << 10
    port: int = 0
    stats: RelayStats = field(default_factory=RelayStats)
    _loop: asyncio.AbstractEventLoop | None = None
    _thread: threading.Thread | None = None
    _server: asyncio.base_events.Server | None = None
    _tasks: set = field(default_factory=set)
    _turn: int = 0

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self) -> ThrottlingRelay:
        if not self.upstreams:
            raise ValueError("a relay needs at least one upstream")
        self._loop = asyncio.new_event_loop()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), name=f"relay-{id(self):x}", daemon=True)
        self._thread.start()
        ready.wait(10)
        if self._server is None:
            self.stop()
            raise RuntimeError("the relay did not start listening")
        return self

    def _run(self, ready: threading.Event) -> None:
        loop = self._loop
        asyncio.set_event_loop(loop)
        try:
            self._server = loop.run_until_complete(asyncio.start_server(self._accept, "127.0.0.1", self.port))
            self.port = self._server.sockets[0].getsockname()[1]
        finally:
            ready.set()
        loop.run_forever()
        loop.close()

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        if loop.is_running():
            asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(30)
            loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        self._loop = self._thread = self._server = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def __enter__(self) -> ThrottlingRelay:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # connections ---------------------------------------------------------------------
    def _next_upstream(self) -> tuple[str, int]:
        host, _, port = self.upstreams[self._turn % len(self.upstreams)].rpartition(":")
        self._turn += 1
        return host, int(port)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if len(self._tasks) >= self.max_connections:
            self.stats.refused += 1
            writer.close()
            return
        task = asyncio.current_task()
        self._tasks.add(task)
        self.stats.connections += 1
        try:
            await self._relay(reader, writer)
        finally:
            self._tasks.discard(task)

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        upstream_w = None
        pumps: list[asyncio.Task] = []
        try:
            upstream_r, upstream_w = await asyncio.open_connection(*self._next_upstream())
            pumps = [
                asyncio.ensure_future(self._pump(client_r, upstream_w, "bytes_up")),
                asyncio.ensure_future(self._pump(upstream_r, client_w, "bytes_down")),
            ]
            await asyncio.gather(*pumps)
        except OSError:
            pass  # either side went away: close both, as a network would
        finally:
            for pump in pumps:
                pump.cancel()
            await asyncio.gather(*pumps, return_exceptions=True)
            for w in (client_w, upstream_w):
                if w is not None:
                    w.close()
                    with contextlib.suppress(Exception):
                        await w.wait_closed()

    async def _pump(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, counter: str) -> None:
        """Copy until EOF, at most ``rate`` bytes/s: a send may not start before the bytes sent
        so far had time to go out at that rate, so no idle spell turns into a burst."""
        loop = asyncio.get_running_loop()
        next_send = loop.time()
        while data := await reader.read(self.chunk):
            if self.rate:
                now = loop.time()
                if next_send > now:
                    await asyncio.sleep(next_send - now)
                next_send = max(next_send, now) + len(data) / self.rate
            writer.write(data)
            await writer.drain()
            setattr(self.stats, counter, getattr(self.stats, counter) + len(data))
        if writer.can_write_eof():
            writer.write_eof()  # a half-close goes through: the other direction carries on
