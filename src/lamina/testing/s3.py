"""An S3 server on loopback for tests and benchmarks: moto's standalone server.

moto (PyPI ``moto[server]``) answers the S3 REST API over real HTTP, so the registry's S3
driver, Distribution's s3 driver and presigned-URL redirects followed by docker or skopeo all
talk to it as they would to a bucket. Started on a free port, stopped and waited for on exit.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from .registries import free_port

ACCESS_KEY = "lamina-test"
SECRET_KEY = "lamina-test-secret"
REGION = "us-east-1"


@dataclass
class MotoServer:
    log_dir: str
    port: int = 0
    proc: subprocess.Popen | None = None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> MotoServer:
        os.makedirs(self.log_dir, exist_ok=True)
        self.port = self.port or free_port()
        log = open(os.path.join(self.log_dir, "moto.log"), "wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("moto server exited; see moto.log")
            try:
                urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1)
                return self
            except urllib.error.HTTPError:
                return self
            except OSError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto server did not start")

    def client(self):
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
            region_name=REGION,
        )

    def create_bucket(self, name: str) -> str:
        self.client().create_bucket(Bucket=name)
        return name

    def storage_section(self, bucket: str, **extra) -> dict:
        """``storage.s3`` for lamina and Distribution alike, pointed at this server."""
        return {
            "accesskey": ACCESS_KEY,
            "secretkey": SECRET_KEY,
            "region": REGION,
            "regionendpoint": self.endpoint,
            "bucket": bucket,
            "secure": False,
            "v4auth": True,
            **extra,
        }

    def stop(self) -> None:
        if self.proc is None:
            return
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()
