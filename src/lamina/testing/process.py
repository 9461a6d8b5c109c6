"""A server process the tests and benchmarks run themselves (redis-server, moto's S3): on a free
loopback port, its output in a log file, waited for until it answers, stopped and reaped on
exit, so no test leaves one behind."""

from __future__ import annotations

import abc
import os
import subprocess
import time
from dataclasses import dataclass
from typing import ClassVar

from .registries import free_port


def terminate(proc: subprocess.Popen, timeout: float = 10) -> None:
    """Stop ``proc`` and reap it: SIGTERM, then SIGKILL after ``timeout`` seconds."""
    proc.terminate()
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@dataclass
class LoopbackServer(abc.ABC):
    log_dir: str
    port: int = 0
    proc: subprocess.Popen | None = None

    #: the server's name in errors, and its log file's (``<name>.log`` in ``log_dir``)
    name: ClassVar[str] = "server"

    @abc.abstractmethod
    def argv(self) -> list[str]:
        """The server's command line (``self.port`` is chosen by then)."""

    @abc.abstractmethod
    def answers(self) -> bool:
        """Whether the server, started, serves requests yet (OSError: not yet)."""

    def start(self, timeout: float = 30.0):
        os.makedirs(self.log_dir, exist_ok=True)
        self.port = self.port or free_port()
        log = open(os.path.join(self.log_dir, f"{self.name}.log"), "wb")
        self.proc = subprocess.Popen(self.argv(), stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.name}.log")
            try:
                if self.answers():
                    return self
            except OSError:
                pass
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not start")

    def stop(self) -> None:
        if self.proc is not None:
            terminate(self.proc)
            self.proc = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
