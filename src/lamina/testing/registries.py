"""Registries as subprocesses for interop tests and benchmarks: lamina's and the CNCF one.

Each listens on a free loopback port with its own storage root and is stopped (and waited
for) on exit, so no test leaves a server behind.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field

import yaml


def free_port(address: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((address, 0))
        return s.getsockname()[1]


def cncf_binary() -> str | None:
    return shutil.which("docker-registry") or shutil.which("registry")


@dataclass
class RegistryProcess:
    """``kind`` is "lamina" or "cncf"; ``config`` is extra YAML merged into the default;
    ``address`` is where it listens (loopback unless a test needs a registry docker would not
    call insecure by itself)."""

    root: str
    kind: str = "lamina"
    config: dict = field(default_factory=dict)
    port: int = 0
    proc: subprocess.Popen | None = None
    address: str = "127.0.0.1"

    @property
    def host(self) -> str:
        return f"{self.address}:{self.port}"

    @property
    def tls(self) -> bool:
        return bool(self.config.get("http", {}).get("tls"))

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://{self.host}"

    @property
    def config_path(self) -> str:
        """The YAML the server runs with (written by ``start``): ``registry gc`` takes it too."""
        return os.path.join(self.root, f"{self.kind}-config.yml")

    def _config_file(self) -> str:
        doc = {
            "version": 0.1,
            "http": {"addr": self.host},
            "storage": {"filesystem": {"rootdirectory": os.path.join(self.root, "data")}, "delete": {"enabled": True}},
            "log": {"level": "error", "accesslog": {"disabled": True}},
        }
        for key, value in self.config.items():
            if isinstance(value, dict) and isinstance(doc.get(key), dict):
                doc[key] = {**doc[key], **value}
            else:
                doc[key] = value
        if "s3" in doc["storage"]:
            doc["storage"].pop("filesystem", None)  # one driver: the test asked for S3
        with open(self.config_path, "w") as f:
            yaml.safe_dump(doc, f)
        return self.config_path

    def start(self, timeout: float = 30.0) -> RegistryProcess:
        os.makedirs(self.root, exist_ok=True)
        self.port = self.port or free_port(self.address)
        config = self._config_file()
        if self.kind == "lamina":
            argv = [sys.executable, "-m", "lamina", "registry", "serve", config]
        else:
            binary = cncf_binary()
            if binary is None:
                raise RuntimeError("the CNCF registry is not installed (apt-get install docker-registry)")
            argv = [binary, "serve", config]
        log = open(os.path.join(self.root, f"{self.kind}.log"), "wb")
        env = dict(os.environ)
        if self.kind == "cncf":
            # Distribution's AWS SDK panics on AWS_CA_BUNDLE with its own transport; the tests'
            # S3 server is plain HTTP on loopback, so the bundle is never needed
            env.pop("AWS_CA_BUNDLE", None)
        self.proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} registry exited: {self.log_tail()}")
            try:
                urllib.request.urlopen(f"{self.url}/v2/", timeout=1, context=_unverified() if self.tls else None)
                return self
            except urllib.error.HTTPError:
                return self  # 401 with auth on: it is up
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"{self.kind} registry did not start: {self.log_tail()}")

    def log_tail(self, n: int = 3000) -> str:
        try:
            with open(os.path.join(self.root, f"{self.kind}.log"), "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is not None:
            from .process import terminate

            terminate(self.proc, timeout=15)
            self.proc = None

    def __enter__(self) -> RegistryProcess:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def _unverified():
    """Readiness probes only ask "is it listening"; the tests verify certificates themselves."""
    import ssl

    return ssl._create_unverified_context()
