"""TLS on lamina's registry (``http.tls`` in the config): skopeo verifies the server against a
per-registry CA directory, and ``lamina login`` finds the CA where docker keeps it
(``certs.d/<host:port>/ca.crt``); a loopback registry is insecure, as docker treats it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

from lamina.testing.pki import write_htpasswd, write_server_pair
from lamina.testing.registries import RegistryProcess

pytestmark = pytest.mark.timeout(600)


def run(*argv: str, env=None) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, timeout=300, env=env)


@pytest.fixture
def tls_registry(tmp_path):
    root = tmp_path / "tls"
    root.mkdir()
    write_server_pair(str(root / "server.key"), str(root / "server.crt"), "127.0.0.1")
    write_htpasswd(str(root / "htpasswd"), {"alice": "wonderland"})
    config = {
        "http": {"tls": {"certificate": str(root / "server.crt"), "key": str(root / "server.key")}},
        "auth": {"htpasswd": {"realm": "lamina-tls", "path": str(root / "htpasswd")}},
    }
    with RegistryProcess(str(root), config=config) as reg:
        certs_d = tmp_path / "certs.d" / reg.host
        certs_d.mkdir(parents=True)
        shutil.copy(root / "server.crt", certs_d / "ca.crt")
        yield reg, str(tmp_path / "certs.d")


def test_skopeo_over_verified_tls(tls_registry, lamina, busybox_tar, tmp_path):
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed")
    reg, certs_d = tls_registry
    assert reg.url.startswith("https://")
    lamina.run("import", busybox_tar, "tls/busybox:v1")
    archive = tmp_path / "image.tar"
    lamina.run("save", "-o", str(archive), "tls/busybox:v1")
    dest = f"docker://{reg.host}/tls/busybox:v1"
    cert_dir = os.path.join(certs_d, reg.host)
    unverified = run("skopeo", "copy", "--dest-creds", "alice:wonderland", f"docker-archive:{archive}", dest)
    assert unverified.returncode != 0 and b"certificate" in unverified.stderr
    pushed = run("skopeo", "copy", "--dest-cert-dir", cert_dir, "--dest-creds", "alice:wonderland", f"docker-archive:{archive}", dest)
    assert pushed.returncode == 0, pushed.stderr.decode()
    inspected = run("skopeo", "inspect", "--cert-dir", cert_dir, "--creds", "alice:wonderland", dest)
    assert inspected.returncode == 0, inspected.stderr.decode()
    assert json.loads(inspected.stdout)["RepoTags"] == ["v1"]


def test_lamina_login_verifies_https_with_certs_d(tls_registry, tmp_path):
    reg, certs_d = tls_registry
    cli = [sys.executable, "-m", "lamina"]
    env = {**os.environ, "LAMINA_CONFIG": str(tmp_path / "cfg"), "LAMINA_CERTS_D": certs_d}
    secure = f"https://{reg.host}"  # an explicit https:// is verified even on loopback
    ok = run(*cli, "login", "-u", "alice", "-p", "wonderland", secure, env=env)
    assert ok.returncode == 0 and ok.stdout.decode().strip() == "Login Succeeded", ok.stderr.decode()
    wrong = run(*cli, "login", "-u", "alice", "-p", "nope", secure, env=env)
    assert wrong.returncode == 1 and b"unauthorized" in wrong.stderr
    no_ca = {**env, "LAMINA_CERTS_D": str(tmp_path / "empty")}
    refused = run(*cli, "login", "-u", "alice", "-p", "wonderland", secure, env=no_ca)
    assert refused.returncode == 125 and b"CERTIFICATE_VERIFY_FAILED" in refused.stderr
    assert b"Traceback" not in refused.stderr and len(refused.stderr.decode().strip().splitlines()) == 1
    # a bare loopback address is an insecure registry, as docker treats 127.0.0.0/8: unverified TLS
    loopback = run(*cli, "login", "-u", "alice", "-p", "wonderland", reg.host, env=no_ca)
    assert loopback.returncode == 0, loopback.stderr.decode()
