"""Network sandboxes for tests and benchmarks: a process in a network namespace of its own.

Until a test needs a whole container, ``unshare -n`` around a command (busybox httpd, sleep)
is a container as far as networking goes: ``engine.networks.attach`` wires its namespace
(``/proc/<pid>/ns/net``) exactly as it wires a container's.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass


def busybox() -> str | None:
    return shutil.which("busybox")


@dataclass
class Sandbox:
    proc: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def netns(self) -> str:
        return f"/proc/{self.proc.pid}/ns/net"

    def run(self, *argv: str, timeout: float = 20) -> subprocess.CompletedProcess:
        """A command in the sandbox's network namespace (the host's files otherwise)."""
        return subprocess.run(["nsenter", "-t", str(self.pid), "-n", *argv], capture_output=True, text=True, timeout=timeout)

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()


def start(*argv: str) -> Sandbox:
    """Run ``argv`` as the only process of a new network namespace."""
    proc = subprocess.Popen(["unshare", "-n", "--", *argv], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    own = os.stat("/proc/self/ns/net").st_ino
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:  # until unshare has exec'd into the new namespace
        try:
            if os.stat(f"/proc/{proc.pid}/ns/net").st_ino != own and os.readlink(f"/proc/{proc.pid}/exe") != shutil.which("unshare"):
                return Sandbox(proc)
        except OSError:
            pass
        time.sleep(0.005)
    proc.kill()
    raise RuntimeError("unshare did not start")


def httpd(docroot: str, port: int = 80) -> Sandbox:
    """busybox httpd serving ``docroot`` on ``port`` in a fresh namespace."""
    return start(busybox() or "busybox", "httpd", "-f", "-p", str(port), "-h", docroot)
