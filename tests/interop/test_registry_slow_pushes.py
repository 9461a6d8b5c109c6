"""Six slow pushes by real clients (skopeo, docker) while ``lamina registry gc`` runs every second.

The clients reach the registry through a throttling relay, so each push's small layer is done
seconds before its large one, and its manifest comes last — as over a real network. The
collector runs with a grace (1 s) far shorter than that, so only the "a push in progress
protects what it linked" rule keeps the pushes whole. On the filesystem driver with one
instance, and on S3 (moto) with two instances behind the relay (each connection to the next).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from lamina.testing.distclient import Client
from lamina.testing.images import StepSpec, docker_archive
from lamina.testing.registries import RegistryProcess
from lamina.testing.relay import ThrottlingRelay
from lamina.testing.tars import make_tar

pytestmark = pytest.mark.timeout(300)

PUSHES = 6
#: bytes/s per connection: the large layer takes ~5 s, the small one ~0.25 s
RATE = 1 << 20
SMALL, LARGE = 256 << 10, 5 << 20


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (install.sh installs it)")


class Image:
    """A two-layer image of random files as a ``docker save`` archive."""

    def __init__(self, directory: str, n: int) -> None:
        self.name = f"slow/p{n}"
        layers = [make_tar([(f"data{size}.bin", "file", os.urandom(size))]) for size in (SMALL, LARGE)]
        self.diff_ids = ["sha256:" + hashlib.sha256(layer).hexdigest() for layer in layers]
        archive = docker_archive([StepSpec(f"layer {i}", layer) for i, layer in enumerate(layers)], f"{self.name}:v1")
        self.path = os.path.join(directory, f"p{n}.tar")
        with open(self.path, "wb") as f:
            f.write(archive)


class GCEverySecond:
    """``lamina registry gc CONFIG --grace 1s`` started once a second, each run's output kept."""

    def __init__(self, config_path: str) -> None:
        self.argv = [sys.executable, "-m", "lamina", "registry", "gc", config_path, "--grace", "1s"]
        self.runs: list[subprocess.CompletedProcess] = []
        self.starts = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop)

    def _loop(self) -> None:
        while not self._stop.is_set():
            started = time.monotonic()
            self.starts += 1
            self.runs.append(subprocess.run(self.argv, capture_output=True, text=True, timeout=60))
            self._stop.wait(max(0.0, 1.0 - (time.monotonic() - started)))

    def swept(self) -> set[str]:
        return {line.rsplit(" ", 1)[1] for run in self.runs for line in run.stdout.splitlines() if line.startswith("blob eligible for deletion: ")}

    def __enter__(self) -> GCEverySecond:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def _pull_and_verify(host: str, image: Image, dest: str) -> None:
    """Pull with skopeo (which checks every blob's digest) and check each layer unpacks to the
    diff_id it was pushed with."""
    proc = subprocess.run(
        ["skopeo", "copy", "--src-tls-verify=false", f"docker://{host}/{image.name}:v1", f"oci:{dest}:v1"], capture_output=True, timeout=120
    )
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")

    def blob(desc: dict) -> bytes:
        with open(os.path.join(dest, "blobs", *desc["digest"].split(":")), "rb") as f:
            return f.read()

    with open(os.path.join(dest, "index.json")) as f:
        manifest = json.loads(blob(json.load(f)["manifests"][0]))
    config = json.loads(blob(manifest["config"]))
    assert config["rootfs"]["diff_ids"] == image.diff_ids
    for desc, diff_id in zip(manifest["layers"], image.diff_ids, strict=True):
        data = blob(desc)
        if desc["mediaType"].endswith("gzip"):
            data = gzip.decompress(data)
        assert "sha256:" + hashlib.sha256(data).hexdigest() == diff_id


def _push_six(registry_hosts: list[str], config_path: str, tmp_path, push) -> None:
    """Garbage first (it must go while the pushes run), then six throttled pushes with the
    collector running every second, then each image pulled back and checked."""
    images = [Image(str(tmp_path), n) for n in range(PUSHES)]
    client = Client(registry_hosts[0])
    garbage = client.push_blob("old/junk", os.urandom(4096))
    with ThrottlingRelay(registry_hosts, rate=RATE) as relay, GCEverySecond(config_path) as gc:
        started = time.monotonic()
        with ThreadPoolExecutor(PUSHES) as pool:
            results = list(pool.map(lambda image: push(relay.host, image), images))
        pushing = time.monotonic() - started
        runs_while_pushing = gc.starts
    failed = [(image.name, err) for image, err in zip(images, results, strict=True) if err]
    assert failed == [], failed
    # the clients were slow: every push outlasted the grace and its slack several times over
    assert pushing > 4, pushing
    assert relay.stats.bytes_up > PUSHES * (SMALL + LARGE)
    # the collector ran all along (a run takes a second or more on a loaded machine), and did
    # its work: the idle garbage went
    assert runs_while_pushing >= 2 and all(run.returncode == 0 for run in gc.runs), [r.stderr for r in gc.runs if r.returncode]
    assert garbage in gc.swept()
    for image in images:
        _pull_and_verify(registry_hosts[-1], image, str(tmp_path / f"pulled-{image.name.replace('/', '-')}"))


def _skopeo_push(host: str, image: Image) -> str:
    proc = subprocess.run(
        ["skopeo", "copy", "--dest-tls-verify=false", f"docker-archive:{image.path}", f"docker://{host}/{image.name}:v1"],
        capture_output=True,
        timeout=180,
    )
    return "" if proc.returncode == 0 else proc.stderr.decode(errors="replace")[-1500:]


def _docker_push(dockerd):
    def push(host: str, image: Image) -> str:
        ref = f"{host}/{image.name}:v1"
        dockerd.docker("load", "-i", image.path)
        dockerd.docker("tag", f"{image.name}:v1", ref)
        try:
            proc = dockerd.docker("push", ref, check=False, timeout=180)
            return "" if proc.returncode == 0 else proc.stderr.decode(errors="replace")[-1500:]
        finally:
            dockerd.docker("rmi", ref, f"{image.name}:v1", check=False)

    return push


_buckets = iter(range(1000))


@pytest.fixture(params=["filesystem", "s3"])
def registries(request, tmp_path):
    """One instance on the filesystem, or two over one S3 bucket."""
    if request.param == "filesystem":
        with RegistryProcess(str(tmp_path / "reg")) as reg:
            yield [reg.host], reg.config_path
        return
    moto = request.getfixturevalue("moto")
    bucket = moto.create_bucket(f"slow-{next(_buckets)}")
    config = {"storage": {"s3": moto.storage_section(bucket, rootdirectory="/registry")}}
    with RegistryProcess(str(tmp_path / "a"), config=config) as a, RegistryProcess(str(tmp_path / "b"), config=config) as b:
        yield [a.host, b.host], a.config_path


def test_six_slow_skopeo_pushes_beside_gc_every_second(registries, tmp_path):
    _need("skopeo")
    hosts, config_path = registries
    _push_six(hosts, config_path, tmp_path, _skopeo_push)


def test_six_slow_docker_pushes_beside_gc_every_second(registries, tmp_path, dockerd):
    _need("skopeo")
    hosts, config_path = registries
    _push_six(hosts, config_path, tmp_path, _docker_push(dockerd))
