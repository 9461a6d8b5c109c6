"""A redis-server on loopback for tests and benchmarks (Debian's ``redis-server``), in memory
only, on a free port; stopped and waited for on exit."""

from __future__ import annotations

import shutil
import socket
from dataclasses import dataclass
from typing import ClassVar

from .process import LoopbackServer


def redis_binary() -> str | None:
    return shutil.which("redis-server")


@dataclass
class RedisServer(LoopbackServer):
    name: ClassVar[str] = "redis"

    @property
    def addr(self) -> str:
        return f"127.0.0.1:{self.port}"

    def start(self, timeout: float = 15.0) -> RedisServer:
        if redis_binary() is None:
            raise RuntimeError("redis-server is not installed (install.sh installs it)")
        return super().start(timeout)

    def argv(self) -> list[str]:
        return [redis_binary(), "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", self.log_dir]

    def answers(self) -> bool:
        with socket.create_connection(("127.0.0.1", self.port), timeout=1) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
