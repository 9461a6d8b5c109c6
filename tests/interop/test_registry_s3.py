"""lamina's registry on S3 (moto's server) with several instances, and Distribution on the same
bucket: real clients (skopeo, docker, podman), a chunked push spread over two instances, kill -9
of one instance in the middle of a push."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import tempfile
import urllib.request

import pytest

from lamina.testing.distclient import OCI_MANIFEST, Client, sha
from lamina.testing.registries import RegistryProcess, cncf_binary

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


def test_kill_9_of_one_instance_mid_push_resumes_on_the_other(pair):
    a, b = pair
    client = Client(a.host)
    data = os.urandom(12 << 20)
    location = client.start_upload("resume/img")
    piece = 4 << 20
    location = client.patch(location, 0, data[:piece])
    location = client.patch(location, piece, data[piece : 2 * piece])  # acknowledged: 8 MiB
    os.killpg(a.proc.pid, signal.SIGKILL)
    a.proc.wait()
    a.proc = None
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
