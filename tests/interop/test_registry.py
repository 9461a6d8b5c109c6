"""lamina's registry against real clients and the CNCF registry: skopeo, docker, podman."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import threading
import time

import pytest

from lamina.testing.registries import RegistryProcess, cncf_binary

pytestmark = pytest.mark.timeout(600)


def _need(tool: str) -> None:
    if shutil.which(tool) is None:
        pytest.skip(f"{tool} is not installed (install.sh installs it)")


def run(*argv: str, input: bytes | None = None, check: bool = True) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, input=input, timeout=300)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: {proc.stderr.decode(errors='replace')}")
    return proc


@pytest.fixture
def registry(tmp_path):
    with RegistryProcess(str(tmp_path / "lamina-registry")) as reg:
        yield reg


@pytest.fixture
def image_archive(lamina, busybox_tar, tmp_path):
    """A docker-archive of a two-layer busybox image, saved by lamina."""
    lamina.run("import", "-c", 'CMD ["echo", "hi from the registry"]', busybox_tar, "interop/busybox:v1")
    path = tmp_path / "image.tar"
    lamina.run("save", "-o", str(path), "interop/busybox:v1")
    return str(path)


def skopeo(*args: str) -> subprocess.CompletedProcess:
    return run("skopeo", *args)


def test_skopeo_copy_inspect_delete(registry, image_archive, tmp_path):
    _need("skopeo")
    dest = f"docker://{registry.host}/team/busybox:v1"
    skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{image_archive}", dest)
    info = json.loads(skopeo("inspect", "--tls-verify=false", dest).stdout)
    assert info["RepoTags"] == ["v1"]
    # pull it back into an OCI layout, then push that as OCI to another name
    layout = tmp_path / "pulled"
    skopeo("copy", "--src-tls-verify=false", dest, f"oci:{layout}:v1")
    skopeo("copy", "--dest-tls-verify=false", "--format", "oci", f"oci:{layout}:v1", f"docker://{registry.host}/team/oci:v1")
    raw = json.loads(skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{registry.host}/team/oci:v1").stdout)
    assert raw["mediaType"] == "application/vnd.oci.image.manifest.v1+json"
    tags = json.loads(skopeo("list-tags", "--tls-verify=false", f"docker://{registry.host}/team/busybox").stdout)
    assert tags["Tags"] == ["v1"]
    skopeo("delete", "--tls-verify=false", dest)
    missing = run("skopeo", "inspect", "--tls-verify=false", dest, check=False)
    assert missing.returncode != 0 and "manifest unknown" in missing.stderr.decode().lower()


def test_docker_push_and_pull(registry, image_archive, dockerd):
    ref = f"{registry.host}/docker/busybox:v1"  # 127.0.0.0/8 is an insecure registry by default
    dockerd.docker("load", "-i", image_archive)
    image_id = dockerd.docker("image", "inspect", "-f", "{{.Id}}", "interop/busybox:v1").stdout.decode().strip()
    dockerd.docker("tag", "interop/busybox:v1", ref)
    dockerd.docker("push", ref)
    dockerd.docker("rmi", ref, "interop/busybox:v1")
    dockerd.docker("pull", ref)
    assert dockerd.docker("image", "inspect", "-f", "{{.Id}}", ref).stdout.decode().strip() == image_id
    out = dockerd.docker("run", "--rm", "--network", "none", ref).stdout.decode().strip()
    assert out == "hi from the registry"
    digests = dockerd.docker("image", "inspect", "-f", "{{json .RepoDigests}}", ref).stdout.decode()
    assert f"{registry.host}/docker/busybox@sha256:" in digests
    dockerd.docker("rmi", ref)


def test_podman_pull(registry, image_archive, tmp_path):
    _need("podman")
    _need("skopeo")
    skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{image_archive}", f"docker://{registry.host}/pod/busybox:v1")
    import tempfile

    storage = tmp_path / "podman"
    runroot = tempfile.mkdtemp(prefix="pr-", dir="/tmp")  # podman wants a runroot under 50 chars
    base = ["podman", "--root", str(storage / "root"), "--runroot", runroot, "--storage-driver", "vfs"]
    proc = run(*base, "pull", "--tls-verify=false", f"{registry.host}/pod/busybox:v1", check=False)
    if proc.returncode != 0 and b"newuidmap" in proc.stderr:
        pytest.skip(f"podman cannot run here: {proc.stderr.decode()[:200]}")
    assert proc.returncode == 0, proc.stderr.decode()
    listed = run(*base, "images", "--format", "{{.Repository}}:{{.Tag}}").stdout.decode()
    assert f"{registry.host}/pod/busybox:v1" in listed
    run(*base, "rmi", "-a", "-f", check=False)
    shutil.rmtree(runroot, ignore_errors=True)


@pytest.mark.skipif(cncf_binary() is None, reason="docker-registry (the CNCF registry) is not installed")
def test_storage_shared_with_the_cncf_registry_both_ways(tmp_path, image_archive):
    _need("skopeo")
    shared = str(tmp_path / "shared")
    lamina_reg = RegistryProcess(str(tmp_path / "l"), config={"storage": {"filesystem": {"rootdirectory": shared}, "delete": {"enabled": True}}})
    cncf_reg = RegistryProcess(str(tmp_path / "c"), kind="cncf", config={"storage": {"filesystem": {"rootdirectory": shared}, "delete": {"enabled": True}}})
    with lamina_reg, cncf_reg:
        skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{image_archive}", f"docker://{lamina_reg.host}/from/lamina:v1")
        skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{image_archive}", f"docker://{cncf_reg.host}/from/cncf:v1")
        for host in (lamina_reg.host, cncf_reg.host):
            for repo in ("from/lamina", "from/cncf"):
                raw = skopeo("inspect", "--raw", "--tls-verify=false", f"docker://{host}/{repo}:v1").stdout
                assert json.loads(raw)["schemaVersion"] == 2
                layout = tmp_path / f"copy-{host.split(':')[1]}-{repo.replace('/', '-')}"
                skopeo("copy", "--src-tls-verify=false", f"docker://{host}/{repo}:v1", f"oci:{layout}:x")
        catalog = json.loads(run("curl", "-s", f"{cncf_reg.url}/v2/_catalog").stdout)
        assert catalog["repositories"] == ["from/cncf", "from/lamina"]


def test_gc_during_pushes_never_breaks_an_image(registry, image_archive, tmp_path):
    """Push repeatedly while collecting: every pushed image must stay pullable."""
    _need("skopeo")
    skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{image_archive}", f"docker://{registry.host}/gc/base:v0")
    data_root = os.path.join(registry.root, "data")
    stop = threading.Event()
    reports = []

    def collect_loop():
        from lamina.registry.server.gc import collect

        while not stop.is_set():
            reports.append(collect(data_root))

    collector = threading.Thread(target=collect_loop)
    collector.start()
    try:
        for i in range(4):
            skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{image_archive}", f"docker://{registry.host}/gc/img{i}:v1")
    finally:
        stop.set()
        collector.join()
    assert reports
    for i in range(4):
        layout = tmp_path / f"check{i}"
        skopeo("copy", "--src-tls-verify=false", f"docker://{registry.host}/gc/img{i}:v1", f"oci:{layout}:x")


def test_notifications_delivered_for_a_push(tmp_path, image_archive):
    _need("skopeo")
    import http.server

    received = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802 - http.server's naming
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.headers["Content-Type"], json.loads(body)))
            self.send_response(200)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    hook = f"http://127.0.0.1:{server.server_address[1]}/events"
    config = {"notifications": {"endpoints": [{"name": "hook", "url": hook, "timeout": "2s", "backoff": "100ms"}]}}
    try:
        with RegistryProcess(str(tmp_path / "n"), config=config) as reg:
            skopeo("copy", "--dest-tls-verify=false", f"docker-archive:{image_archive}", f"docker://{reg.host}/hooked/busybox:v1")
            deadline = time.monotonic() + 20
            while time.monotonic() < deadline and not any(
                e["action"] == "push" and e["target"].get("tag") == "v1" for _, env in received for e in env["events"]
            ):
                time.sleep(0.1)
    finally:
        server.shutdown()
    events = [e for _, env in received for e in env["events"]]
    assert all(ct == "application/vnd.docker.distribution.events.v1+json" for ct, _ in received)
    manifest_push = [e for e in events if e["action"] == "push" and e["target"].get("tag") == "v1"]
    assert manifest_push and manifest_push[0]["target"]["repository"] == "hooked/busybox"
    assert manifest_push[0]["request"]["useragent"].startswith("skopeo")
