"""lamina's registry on S3 (moto's server) with several instances, and Distribution on the same
bucket: real clients (skopeo, docker, podman), a chunked push spread over two instances, kill -9
of one instance in the middle of a push."""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time
import urllib.request

import pytest

from lamina.testing.distclient import OCI_MANIFEST, Client, sha
from lamina.testing.registries import RegistryProcess, cncf_binary
from lamina.testing.relay import ThrottlingRelay

pytestmark = pytest.mark.timeout(600)

_count = iter(range(10_000))


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (install.sh installs it)")


def run(*argv: str, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: {proc.stderr.decode(errors='replace')}")
    return proc


def skopeo(*args: str) -> subprocess.CompletedProcess:
    return run("skopeo", *args)


@pytest.fixture
def bucket(moto):
    return moto.create_bucket(f"registry-{next(_count)}")


def _s3(moto, bucket, **extra) -> dict:
    return {"storage": {"s3": moto.storage_section(bucket, rootdirectory="/registry", chunksize=5 << 20), **extra}}


@pytest.fixture
def pair(tmp_path, moto, bucket):
    """Two lamina instances over one bucket."""
    a = RegistryProcess(str(tmp_path / "a"), config=_s3(moto, bucket)).start()
    b = RegistryProcess(str(tmp_path / "b"), config=_s3(moto, bucket)).start()
    try:
        yield a, b
    finally:
        a.stop()
        b.stop()


@pytest.fixture
def image_archive(lamina, busybox_tar, tmp_path):
    lamina.run("import", "-c", 'CMD ["echo", "hi from s3"]', busybox_tar, "interop/busybox:s3")
    path = tmp_path / "image.tar"
    lamina.run("save", "-o", str(path), "interop/busybox:s3")
    return str(path)


def test_chunked_push_spread_over_two_instances(pair):
    a, b = pair
    client = Client([a.host, b.host])  # every request to the other instance
    layer = os.urandom(13 << 20)  # three 5 MiB parts and a tail, in 3 MiB PATCHes
    config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
    assert client.push_blob("spread/img", layer, chunks=5) == sha(layer)
    client.push_blob("spread/img", config)
    status, raw = client.put_manifest("spread/img", "v1", config, [layer])
    assert status == 201, raw
    for host in (a.host, b.host):
        status, headers, body = client.request("GET", "/v2/spread/img/manifests/v1", headers={"Accept": OCI_MANIFEST}, host=host)
        assert status == 200 and body == raw
        status, headers, _ = client.request("GET", f"/v2/spread/img/blobs/{sha(layer)}", host=host)
        assert status == 307 and "X-Amz-Signature" in headers["Location"]
        with urllib.request.urlopen(headers["Location"], timeout=30) as resp:
            assert sha(resp.read()) == sha(layer)
        status, _, body = client.request("GET", "/v2/spread/img/tags/list", host=host)
        assert json.loads(body)["tags"] == ["v1"]


def _kill_9(reg: RegistryProcess) -> None:
    os.killpg(reg.proc.pid, signal.SIGKILL)
    reg.proc.wait()
    reg.proc = None


def test_kill_9_of_one_instance_mid_push_resumes_on_the_other(pair):
    a, b = pair
    client = Client(a.host)
    data = os.urandom(12 << 20)
    location = client.start_upload("resume/img")
    piece = 4 << 20
    location = client.patch(location, 0, data[:piece])
    location = client.patch(location, piece, data[piece : 2 * piece])  # acknowledged: 8 MiB
    _kill_9(a)
    # the client's load balancer sends it to the survivor, which knows the upload from the bucket
    status, headers, _ = client.request("GET", location, host=b.host)
    assert status == 204 and headers["Range"] == f"0-{2 * piece - 1}"
    status, headers, body = client.request(
        "PATCH", location, data[2 * piece :], {"Content-Range": f"{2 * piece}-{len(data) - 1}"}, host=b.host
    )
    assert status == 202, body
    status, _, body = client.request("PUT", f"{location}?digest={sha(data)}", b"", host=b.host)
    assert status == 201, body
    status, headers, _ = client.request("HEAD", f"/v2/resume/img/blobs/{sha(data)}", host=b.host)
    assert status == 200 and headers["Content-Length"] == str(len(data))


def test_kill_9_of_one_instance_during_a_patch_resumes_on_the_other(pair):
    """The kill lands while a PATCH is still streaming (a throttled relay keeps it in flight),
    after a 5 MiB part of it reached the bucket: what was acknowledged survives, the survivor
    reports a consistent prefix, the client resumes from it, and the blob is whole."""
    a, b = pair
    client = Client(a.host)
    data = os.urandom(12 << 20)
    acknowledged = 3 << 20
    location = client.patch(client.start_upload("midpatch/img"), 0, data[:acknowledged])
    outcome: list[object] = []
    with ThrottlingRelay([a.host], rate=2 << 20) as relay:

        def in_flight() -> None:
            headers = {"Content-Type": "application/octet-stream", "Content-Range": f"{acknowledged}-{len(data) - 1}"}
            try:
                outcome.append(client.request("PATCH", location, data[acknowledged:], headers, host=relay.host)[0])
            except (OSError, http.client.HTTPException) as exc:
                outcome.append(exc)

        patch = threading.Thread(target=in_flight)
        patch.start()
        deadline = time.monotonic() + 60
        while relay.stats.bytes_up < acknowledged + (3 << 20) and time.monotonic() < deadline:
            time.sleep(0.05)  # 6 MiB in the upload: one 5 MiB part written, the rest in memory
        _kill_9(a)
        patch.join(30)
    assert len(outcome) == 1 and not isinstance(outcome[0], int), outcome  # never acknowledged
    status, headers, _ = client.request("GET", location, host=b.host)
    assert status == 204
    kept = int(headers["Range"].split("-")[1]) + 1
    assert acknowledged <= kept < len(data), kept
    status, _, body = client.request("PATCH", location, data[kept:], {"Content-Range": f"{kept}-{len(data) - 1}"}, host=b.host)
    assert status == 202, body
    status, _, body = client.request("PUT", f"{location}?digest={sha(data)}", b"", host=b.host)
    assert status == 201, body
    status, headers, _ = client.request("GET", f"/v2/midpatch/img/blobs/{sha(data)}", host=b.host)
    assert status == 307
    with urllib.request.urlopen(headers["Location"], timeout=30) as resp:
        assert sha(resp.read()) == sha(data)


def _drop(port: int, request: bytes, read_first: bool, reset: bool) -> None:
    """Send ``request``, maybe read a little of the answer, and go away mid-transfer: a reset
    (SO_LINGER 0) or a plain close."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as conn:
        conn.sendall(request)
        if read_first:
            conn.recv(65536)
        time.sleep(0.3)
        if reset:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    time.sleep(0.3)


@pytest.mark.parametrize("storage", ["filesystem", "s3"])
def test_a_client_dropping_mid_transfer_logs_one_line(tmp_path, moto, storage):
    """Cut uploads and cut (proxied) blob downloads: one log line each, never a traceback, and
    the upload keeps what arrived."""
    config = {"log": {"level": "info", "accesslog": {"disabled": True}}}
    if storage == "s3":
        config.update(_s3(moto, moto.create_bucket(f"drop-{next(_count)}"), redirect={"disable": True}))
    with RegistryProcess(str(tmp_path / "reg"), config=config) as reg:
        client = Client(reg.host)
        blob = client.push_blob("drop/x", os.urandom(8 << 20))
        locations = []
        for reset in (True, False):
            locations.append(client.start_upload("drop/x"))
            head = f"PATCH {locations[-1]} HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n\r\n".encode()
            _drop(reg.port, head + b"x" * 200_000, read_first=False, reset=reset)
            _drop(reg.port, f"GET /v2/drop/x/blobs/{blob} HTTP/1.1\r\nHost: x\r\n\r\n".encode(), read_first=True, reset=reset)
        for location in locations:
            status, headers, _ = client.request("GET", location)
            assert status == 204 and headers["Range"] == "0-199999"
        log = reg.log_tail(100_000)
    assert "Traceback" not in log, log
    lines = [line for line in log.splitlines() if line and not line.startswith("lamina registry listening")]
    assert all(line.startswith("client closed the connection during ") for line in lines), lines
    assert sum(" PATCH /v2/drop/x/blobs/uploads/" in line for line in lines) == 2
    # a file the kernel sends (filesystem) may go quietly; a proxied S3 stream says so once
    gets = sum(f" GET /v2/drop/x/blobs/{blob}" in line for line in lines)
    assert gets == 2 if storage == "s3" else gets <= 2, lines


def test_blob_ranges_with_and_without_redirect(tmp_path, moto, bucket):
    data = os.urandom(3 << 20)
    proxied = RegistryProcess(str(tmp_path / "p"), config=_s3(moto, bucket, redirect={"disable": True}))
    redirecting = RegistryProcess(str(tmp_path / "r"), config=_s3(moto, bucket))
    with proxied, redirecting:
        client = Client(proxied.host)
        d = client.push_blob("ranges/x", data)
        status, headers, body = client.request("GET", f"/v2/ranges/x/blobs/{d}")
        assert status == 200 and body == data
        status, headers, body = client.request("GET", f"/v2/ranges/x/blobs/{d}", headers={"Range": "bytes=100-199"})
        assert status == 206 and body == data[100:200] and headers["Content-Range"] == f"bytes 100-199/{len(data)}"
        status, headers, body = client.request("GET", f"/v2/ranges/x/blobs/{d}", headers={"Range": "bytes=-10"})
        assert status == 206 and body == data[-10:]
        status, headers, _ = client.request("GET", f"/v2/ranges/x/blobs/{d}", headers={"Range": f"bytes={len(data)}-"})
        assert status == 416
        status, headers, _ = client.request("GET", f"/v2/ranges/x/blobs/{d}", host=redirecting.host)
        assert status == 307
        request = urllib.request.Request(headers["Location"], headers={"Range": "bytes=100-199"})
        with urllib.request.urlopen(request, timeout=30) as resp:
            assert resp.status == 206 and resp.read() == data[100:200]


def test_skopeo_and_podman_against_two_instances(pair, image_archive, tmp_path):
    _need("skopeo")
    a, b = pair
    skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{image_archive}", f"docker://{a.host}/team/busybox:v1")
    layout = tmp_path / "pulled"
    skopeo("copy", "--src-tls-verify=false", f"docker://{b.host}/team/busybox:v1", f"oci:{layout}:v1")
    index = json.loads((layout / "index.json").read_text())
    assert index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"] == "v1"
    if shutil.which("podman") is None:
        return
    storage = tmp_path / "podman"
    runroot = tempfile.mkdtemp(prefix="pr-", dir="/tmp")
    base = ["podman", "--root", str(storage / "root"), "--runroot", runroot, "--storage-driver", "vfs"]
    try:
        proc = run(*base, "pull", "--tls-verify=false", f"{b.host}/team/busybox:v1", check=False)
        if proc.returncode != 0 and b"newuidmap" in proc.stderr:
            pytest.skip(f"podman cannot run here: {proc.stderr.decode()[:200]}")
        assert proc.returncode == 0, proc.stderr.decode()
        run(*base, "tag", f"{b.host}/team/busybox:v1", f"{a.host}/team/podman:v1")
        run(*base, "push", "--tls-verify=false", f"{a.host}/team/podman:v1")
        skopeo("inspect", "--tls-verify=false", f"docker://{b.host}/team/podman:v1")
    finally:
        run(*base, "rmi", "-a", "-f", check=False)
        shutil.rmtree(runroot, ignore_errors=True)


def test_docker_push_to_one_instance_pull_from_the_other(pair, image_archive, dockerd):
    a, b = pair
    dockerd.docker("load", "-i", image_archive)
    image_id = dockerd.docker("image", "inspect", "-f", "{{.Id}}", "interop/busybox:s3").stdout.decode().strip()
    dockerd.docker("tag", "interop/busybox:s3", f"{a.host}/docker/busybox:v1")
    dockerd.docker("push", f"{a.host}/docker/busybox:v1")
    dockerd.docker("rmi", f"{a.host}/docker/busybox:v1", "interop/busybox:s3")
    ref = f"{b.host}/docker/busybox:v1"
    dockerd.docker("pull", ref)  # blobs through the presigned redirect to the bucket
    assert dockerd.docker("image", "inspect", "-f", "{{.Id}}", ref).stdout.decode().strip() == image_id
    dockerd.docker("rmi", ref)


@pytest.mark.skipif(cncf_binary() is None, reason="docker-registry (the CNCF registry) is not installed")
def test_distribution_and_lamina_share_a_bucket_both_ways(tmp_path, moto, bucket, image_archive):
    _need("skopeo")
    lamina_reg = RegistryProcess(str(tmp_path / "l"), config=_s3(moto, bucket))
    cncf_reg = RegistryProcess(str(tmp_path / "c"), kind="cncf", config=_s3(moto, bucket))
    with lamina_reg, cncf_reg:
        skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{image_archive}", f"docker://{lamina_reg.host}/from/lamina:v1")
        skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{image_archive}", f"docker://{cncf_reg.host}/from/cncf:v1")
        for host in (lamina_reg.host, cncf_reg.host):
            for repo in ("from/lamina", "from/cncf"):
                layout = tmp_path / f"copy-{host.split(':')[1]}-{repo.replace('/', '-')}"
                skopeo("copy", "--src-tls-verify=false", f"docker://{host}/{repo}:v1", f"oci:{layout}:x")
                tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{host}/{repo}").stdout)
                assert tags["Tags"] == ["v1"]
        for host in (lamina_reg.host, cncf_reg.host):
            catalog = json.loads(urllib.request.urlopen(f"http://{host}/v2/_catalog", timeout=10).read())
            assert catalog["repositories"] == ["from/cncf", "from/lamina"]
