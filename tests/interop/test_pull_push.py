"""lamina pull/push/search against real registries (lamina's and the CNCF one) and real peers
(skopeo, docker), including cut connections, a killed pull, tampered blobs and redirects."""

from __future__ import annotations

import hashlib
import http.server
import io
import json
import os
import shutil
import signal
import socket
import stat
import subprocess
import tarfile
import threading
import time

import pytest

from lamina.testing.pki import write_htpasswd
from lamina.testing.registries import RegistryProcess, free_port

pytestmark = pytest.mark.timeout(600)


def _skopeo(*args: str) -> None:
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed (install.sh installs it)")
    proc = subprocess.run(["skopeo", *args], capture_output=True, timeout=300)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")


def random_layer(path, size: int = 6 << 20) -> str:
    """A rootfs tar whose one file is random (so its gzip is as large as it)."""
    with tarfile.open(path, "w") as tar:
        info = tarfile.TarInfo("data/random.bin")
        info.size = size
        tar.addfile(info, io.BytesIO(os.urandom(size)))
    return str(path)


def image_id(cli, name: str) -> str:
    return cli.run("inspect", "-f", "{{.Id}}", name).out.strip()


def test_push_and_pull_roundtrip(lamina, other, busybox_tar, registry):
    ref = f"{registry.host}/demo/bb:v1"
    lamina.run("import", "-c", 'CMD ["sh"]', busybox_tar, ref)
    pushed = lamina.run("push", ref).out.splitlines()
    diff = lamina.run("inspect", "-f", "{{index .RootFS.Layers 0}}", ref).out.strip()[7:19]
    assert pushed[0] == f"The push refers to repository [{registry.host}/demo/bb]"
    assert pushed[1:3] == [f"{diff}: Preparing", f"{diff}: Pushed"]
    assert pushed[3].startswith("v1: digest: sha256:") and pushed[3].split()[-2] == "size:"
    digest = pushed[3].split()[2]
    # a second push: nothing compressed or uploaded; a push to another repository mounts
    assert f"{diff}: Layer already exists" in lamina.run("push", ref).out
    lamina.run("tag", ref, f"{registry.host}/team/bb:v2")
    assert f"{diff}: Mounted from demo/bb" in lamina.run("push", f"{registry.host}/team/bb:v2").out

    lines = other.run("pull", ref).out.splitlines()
    assert lines[0] == "v1: Pulling from demo/bb"
    blob = lines[1].split(":")[0]
    assert lines[1:5] == [f"{blob}: Pulling fs layer", f"{blob}: Verifying Checksum", f"{blob}: Download complete", f"{blob}: Pull complete"]
    assert lines[5:] == [f"Digest: {digest}", f"Status: Downloaded newer image for {ref}", ref]
    assert image_id(other, ref) == image_id(lamina, ref)
    assert other.run("inspect", "-f", "{{json .RepoDigests}}", ref).out.strip() == json.dumps([f"{registry.host}/demo/bb@{digest}"])
    again = other.run("pull", ref).out.splitlines()
    assert again[-2:] == [f"Status: Image is up to date for {ref}", ref]
    by_digest = other.run("pull", "-q", f"{registry.host}/demo/bb@{digest}").out
    assert by_digest == f"{registry.host}/demo/bb@{digest}\n"
    wrong = digest[:-4] + ("0000" if not digest.endswith("0000") else "1111")
    failed = other.run("pull", f"{registry.host}/demo/bb@{wrong}", check=False)
    assert failed.returncode == 1 and failed.err.startswith("Error: ") and "Traceback" not in failed.err
    plan = other.run("pull", "--dry-run", f"{registry.host}/team/bb:v2").out
    assert f"{blob}: Already exists" in plan and "Would download 0 layer(s)" in plan
    assert other.run("system", "check").returncode == 0
    # search: /v1/search on lamina's registry
    found = lamina.run("search", "--format", "{{.Name}}", f"{registry.host}/bb").out.split()
    assert found == ["demo/bb", "team/bb"]


def test_pull_images_pushed_by_skopeo_to_cncf(lamina, other, busybox_tar, cncf, tmp_path):
    lamina.run("import", busybox_tar, "src/bb:v1")
    archive = str(tmp_path / "bb.tar")
    lamina.run("save", "-o", archive, "src/bb:v1")
    layers = lamina.run("inspect", "-f", "{{json .RootFS.Layers}}", "src/bb:v1").out
    cases = {
        "v2s2": ["--format", "v2s2"],
        "oci": ["--format", "oci"],
        "zstd": ["--format", "oci", "--dest-compress-format", "zstd"],
    }
    for tag, flags in cases.items():
        _skopeo("copy", "--quiet", "--dest-tls-verify=false", *flags, f"docker-archive:{archive}", f"docker://{cncf.host}/sk/bb:{tag}")
        other.run("pull", f"{cncf.host}/sk/bb:{tag}")
        # skopeo keeps docker's config in v2s2 and rewrites it for OCI: same layers either way
        assert other.run("inspect", "-f", "{{json .RootFS.Layers}}", f"{cncf.host}/sk/bb:{tag}").out == layers, tag
    # search falls back to the catalog on the CNCF registry, which has no /v1/search
    assert lamina.run("search", "--format", "{{.Name}}", f"{cncf.host}/sk").out.split() == ["sk/bb"]
    # -a: every tag
    lines = type(other)(str(tmp_path / "third")).run("pull", "-a", f"{cncf.host}/sk/bb").out.splitlines()
    assert [line for line in lines if "Pulling from" in line] == [f"{t}: Pulling from sk/bb" for t in ("oci", "v2s2", "zstd")]
    assert sum(line.startswith("Digest: sha256:") for line in lines) == 3
    assert lines[-2:] == [f"Status: Downloaded newer image for {cncf.host}/sk/bb", f"{cncf.host}/sk/bb"]


def test_multi_arch_index(lamina, other, busybox_tar, cncf, tmp_path):
    """An OCI index with two platforms: the host's is chosen, --platform picks another."""
    import httpx

    host = cncf.host
    lamina.run("import", busybox_tar, f"{host}/multi/app:amd")
    lamina.run("import", random_layer(tmp_path / "r.tar", 1 << 16), f"{host}/multi/app:arm")
    lamina.run("push", f"{host}/multi/app:amd")
    lamina.run("push", f"{host}/multi/app:arm")
    entries = []
    for tag, arch in (("amd", "amd64"), ("arm", "arm64")):
        resp = httpx.get(f"http://{host}/v2/multi/app/manifests/{tag}", headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"})
        entries.append({"mediaType": resp.headers["Content-Type"], "digest": resp.headers["Docker-Content-Digest"], "size": len(resp.content), "platform": {"os": "linux", "architecture": arch}})
    index = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}).encode()
    put = httpx.put(f"http://{host}/v2/multi/app/manifests/latest", content=index, headers={"Content-Type": "application/vnd.oci.image.index.v1+json"})
    assert put.status_code == 201, put.text
    out = other.run("pull", f"{host}/multi/app").out
    assert f"Digest: sha256:{hashlib.sha256(index).hexdigest()}" in out
    assert image_id(other, f"{host}/multi/app") == image_id(lamina, f"{host}/multi/app:amd")
    third = type(other)(str(tmp_path / "third"))
    third.run("pull", "--platform", "linux/arm64", f"{host}/multi/app")
    assert image_id(third, f"{host}/multi/app") == image_id(lamina, f"{host}/multi/app:arm")
    missing = third.run("pull", "--platform", "linux/s390x", f"{host}/multi/app", check=False)
    assert missing.returncode == 1 and "no matching manifest for linux/s390x" in missing.err


def test_push_that_docker_pulls_and_runs(lamina, busybox_tar, registry, dockerd):
    ref = f"{registry.host}/dock/bb:v1"
    lamina.run("import", "-c", 'CMD ["sh"]', busybox_tar, ref)
    lamina.run("push", ref)
    dockerd.docker("pull", ref)
    out = dockerd.docker("run", "--rm", "--network", "none", ref, "sh", "-c", "echo pushed by lamina").stdout
    assert out == b"pushed by lamina\n"
    dockerd.docker("rmi", ref)


def test_mirror_for_docker_io_and_unreachable_hub(lamina, other, busybox_tar, registry, tmp_path):
    lamina.run("import", busybox_tar, f"{registry.host}/library/busybox:latest")
    lamina.run("push", f"{registry.host}/library/busybox:latest")
    config = tmp_path / "daemon.json"
    config.write_text(json.dumps({"registry-mirrors": [f"http://{registry.host}"], "max-concurrent-downloads": 2}))
    env = {**os.environ, "LAMINA_DAEMON_CONFIG": str(config)}
    proc = subprocess.run(other.argv("pull", "busybox"), env=env, capture_output=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.decode().splitlines()
    assert lines[:2] == ["Using default tag: latest", "latest: Pulling from library/busybox"]
    assert lines[-2:] == ["Status: Downloaded newer image for busybox:latest", "docker.io/library/busybox:latest"]
    assert "busybox:latest" in other.run("images", "--format", "{{.Repository}}:{{.Tag}}").out
    # no mirror: Docker Hub is not reachable here; one line, exit 1, quickly
    config.write_text("{}")
    start = time.monotonic()
    proc = subprocess.run(other.argv("pull", "alpine"), env=env, capture_output=True, timeout=120)
    err = proc.stderr.decode()
    assert proc.returncode == 1 and err.startswith("Error: ") and len(err.strip().splitlines()) == 1, err
    assert "registry-1.docker.io" in err
    assert time.monotonic() - start < 30


class Relay:
    """A TCP relay in front of a registry that can cut one connection mid-blob or go slowly,
    and records what clients sent (to see their Range requests)."""

    def __init__(self, upstream: str, cut_after: int | None = None, delay: float = 0.0) -> None:
        self.upstream = upstream.split(":")
        self.cut_after = cut_after
        self.delay = delay
        self.sent = bytearray()
        self.cuts = 0
        self.server = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self.server.getsockname()[1]}"
        self._stop = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self._stop:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            upstream = socket.create_connection((self.upstream[0], int(self.upstream[1])))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src: socket.socket, dst: socket.socket, from_client: bool) -> None:
        moved = 0
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if from_client:
                    self.sent += data
                else:
                    moved += len(data)
                    if self.delay:
                        time.sleep(self.delay)
                    if self.cut_after is not None and moved > self.cut_after:
                        self.cut_after = None
                        self.cuts += 1
                        dst.sendall(data[: len(data) // 2])
                        break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            s.close()

    def close(self) -> None:
        self._stop = True
        self.server.close()


def test_pull_survives_a_cut_connection(lamina, other, registry, tmp_path):
    ref = f"{registry.host}/big/rand:v1"
    lamina.run("import", random_layer(tmp_path / "rand.tar"), ref)
    lamina.run("push", ref)
    relay = Relay(registry.host, cut_after=2 << 20)
    try:
        relayed = f"{relay.host}/big/rand:v1"
        other.run("pull", relayed)
        assert relay.cuts == 1
        assert b"Range: bytes=" in relay.sent or b"range: bytes=" in relay.sent
        assert image_id(other, relayed) == image_id(lamina, ref)
    finally:
        relay.close()


def test_pull_resumes_after_kill_9(lamina, other, registry, tmp_path):
    ref = f"{registry.host}/big/rand:v1"
    lamina.run("import", random_layer(tmp_path / "rand.tar"), ref)
    lamina.run("push", ref)
    slow = Relay(registry.host, delay=0.02)
    ingest = os.path.join(other.root, "ingest", "sha256")
    try:
        proc = subprocess.Popen(other.argv("pull", f"{slow.host}/big/rand:v1"), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 120
        partial = 0
        while time.monotonic() < deadline and partial < (1 << 20):
            time.sleep(0.1)
            sizes = [os.path.getsize(os.path.join(ingest, n)) for n in os.listdir(ingest)] if os.path.isdir(ingest) else []
            partial = max(sizes, default=0)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert partial >= 1 << 20, "the pull never got a megabyte in"
    finally:
        slow.close()
    held = [os.path.getsize(os.path.join(ingest, n)) for n in os.listdir(ingest)]
    assert held and max(held) >= 1 << 20
    fast = Relay(registry.host)
    try:
        other.run("pull", f"{fast.host}/big/rand:v1")
        requests = fast.sent.decode(errors="replace").lower()
        offsets = [int(line.split("bytes=")[1].split("-")[0]) for line in requests.splitlines() if line.startswith("range: bytes=")]
        assert offsets and offsets[0] >= 1 << 20, requests
    finally:
        fast.close()
    assert os.listdir(ingest) == []
    assert image_id(other, f"{fast.host}/big/rand:v1") == image_id(lamina, ref)
    # what the killed pull was extracting is debris (as for any killed command); its download was not
    other.run("system", "check", "--repair", check=False)
    assert other.run("system", "check").returncode == 0


def test_tampered_blob_is_rejected_and_nothing_stored(lamina, other, cncf, tmp_path):
    ref = f"{cncf.host}/bad/rand:v1"
    lamina.run("import", random_layer(tmp_path / "rand.tar", 1 << 20), ref)
    lamina.run("push", ref)
    manifest = json.loads(subprocess.run(["curl", "-s", "-H", "Accept: application/vnd.docker.distribution.manifest.v2+json", f"http://{cncf.host}/v2/bad/rand/manifests/v1"], capture_output=True).stdout)
    layer = manifest["layers"][0]["digest"].split(":")[1]
    data = os.path.join(cncf.root, "data", "docker", "registry", "v2", "blobs", "sha256", layer[:2], layer, "data")
    with open(data, "r+b") as f:
        f.seek(os.path.getsize(data) // 2)
        byte = f.read(1)
        f.seek(-1, os.SEEK_CUR)
        f.write(bytes([byte[0] ^ 0xFF]))
    failed = other.run("pull", ref, check=False)
    assert failed.returncode != 0 and "verification failed" in failed.err and "Traceback" not in failed.err
    assert other.run("images", "-q").out == ""
    layerdb = os.path.join(other.root, "image", "overlay2", "layerdb", "sha256")
    assert os.listdir(layerdb) == []
    assert os.listdir(os.path.join(other.root, "ingest", "sha256")) == []


class _Recorder(http.server.BaseHTTPRequestHandler):
    """Front of a registry that sends blob downloads to a blob store on another host (as a
    registry on S3 does), and the blob store itself; both record the headers they get."""

    upstream = ""
    blob_store = ""
    seen: list = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        import httpx

        self.seen.append((self.server.server_address[0], self.path, self.headers.get("Authorization")))
        if self.server.server_address[0] == "127.0.0.2":  # the blob store
            resp = httpx.get(f"http://{self.upstream}{self.path}", auth=("alice", "wonderland"))
        elif "/blobs/sha256:" in self.path:
            self.send_response(307)
            self.send_header("Location", f"http://{self.blob_store}{self.path}")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        else:
            headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "accept", "range")}
            resp = httpx.get(f"http://{self.upstream}{self.path}", headers=headers)
        self.send_response(resp.status_code)
        for key, value in resp.headers.items():
            if key.lower() not in ("transfer-encoding", "connection", "content-encoding"):
                self.send_header(key, value)
        self.end_headers()
        self.wfile.write(resp.content)


def test_credentials_stay_with_their_registry(lamina, other, busybox_tar, tmp_path):
    """Through a credential helper: the registry gets Basic credentials, the blob store it
    redirects to gets none."""
    root = tmp_path / "basic"
    root.mkdir()
    write_htpasswd(str(root / "htpasswd"), {"alice": "wonderland"})
    config = {"auth": {"htpasswd": {"realm": "lamina-test", "path": str(root / "htpasswd")}}}
    with RegistryProcess(str(root), config=config) as reg:
        helper_dir = tmp_path / "bin"
        helper_dir.mkdir()
        helper = helper_dir / "docker-credential-lamina-test"
        helper.write_text(
            "#!/bin/sh\n"
            '[ "$1" = get ] || exit 1\n'
            "read server\n"
            'echo "$server" >> "$(dirname "$0")/asked"\n'
            'echo \'{"ServerURL": "\'"$server"\'", "Username": "alice", "Secret": "wonderland"}\'\n'
        )
        helper.chmod(helper.stat().st_mode | stat.S_IEXEC)
        cfg_dir = tmp_path / "cfg"
        cfg_dir.mkdir()
        env = {**os.environ, "LAMINA_CONFIG": str(cfg_dir), "PATH": f"{helper_dir}:{os.environ['PATH']}", "DOCKER_CONFIG": str(tmp_path / "nodocker")}
        (cfg_dir / "config.json").write_text(json.dumps({"credsStore": "lamina-test"}))
        ref = f"{reg.host}/private/bb:v1"
        lamina.run("import", busybox_tar, ref)
        push = subprocess.run(lamina.argv("push", ref), env=env, capture_output=True, timeout=120)
        assert push.returncode == 0, push.stderr
        assert (helper_dir / "asked").read_text().split() == [reg.host]

        front_port, store_port = free_port(), free_port()
        _Recorder.upstream, _Recorder.blob_store, _Recorder.seen = reg.host, f"127.0.0.2:{store_port}", []
        servers = [http.server.ThreadingHTTPServer((addr, port), _Recorder) for addr, port in (("127.0.0.1", front_port), ("127.0.0.2", store_port))]
        for server in servers:
            threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            front = f"127.0.0.1:{front_port}"
            pulled = subprocess.run(other.argv("pull", f"{front}/private/bb:v1"), env=env, capture_output=True, timeout=120)
            assert pulled.returncode == 0, pulled.stderr
        finally:
            for server in servers:
                server.shutdown()
                server.server_close()
        at_store = [auth for host, _, auth in _Recorder.seen if host == "127.0.0.2"]
        at_front = [auth for host, _, auth in _Recorder.seen if host == "127.0.0.1"]
        assert at_store and all(a is None for a in at_store)
        assert any(a and a.startswith("Basic ") for a in at_front)
