"""An S3 server on loopback for tests and benchmarks: moto's standalone server.

moto (PyPI ``moto[server]``) answers the S3 REST API over real HTTP, so the registry's S3
driver, Distribution's s3 driver and presigned-URL redirects followed by docker or skopeo all
talk to it as they would to a bucket. Started on a free port, stopped and waited for on exit.
"""

from __future__ import annotations

import sys
import urllib.error
import urllib.request
from dataclasses import dataclass
from typing import ClassVar

from .process import LoopbackServer

ACCESS_KEY = "lamina-test"
SECRET_KEY = "lamina-test-secret"
REGION = "us-east-1"


@dataclass
class MotoServer(LoopbackServer):
    name: ClassVar[str] = "moto"

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def argv(self) -> list[str]:
        return [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)]

    def answers(self) -> bool:
        try:
            urllib.request.urlopen(f"{self.endpoint}/moto-api/", timeout=1)
        except urllib.error.HTTPError:
            pass  # an HTTP answer of any status: it serves
        return True

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
