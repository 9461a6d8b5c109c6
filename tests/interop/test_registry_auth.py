"""Auth on lamina's registry with real clients: htpasswd (docker login, skopeo, lamina login)
and bearer tokens (skopeo), plus the CNCF registry accepting lamina-issued tokens."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest

from lamina.testing.pki import write_htpasswd, write_signing_pair
from lamina.testing.registries import RegistryProcess, cncf_binary, free_port

pytestmark = pytest.mark.timeout(600)


def run(*argv: str, check: bool = True, env=None) -> subprocess.CompletedProcess:
    proc = subprocess.run(argv, capture_output=True, timeout=300, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: {proc.stderr.decode(errors='replace')}")
    return proc


@pytest.fixture
def image_archive(lamina, busybox_tar, tmp_path):
    lamina.run("import", busybox_tar, "auth/busybox:v1")
    path = tmp_path / "image.tar"
    lamina.run("save", "-o", str(path), "auth/busybox:v1")
    return str(path)


@pytest.fixture
def htpasswd_registry(tmp_path):
    root = tmp_path / "basic"
    root.mkdir()
    write_htpasswd(str(root / "htpasswd"), {"alice": "wonderland"})
    config = {"auth": {"htpasswd": {"realm": "lamina-test", "path": str(root / "htpasswd")}}}
    with RegistryProcess(str(root), config=config) as reg:
        yield reg


def test_htpasswd_with_skopeo_and_lamina_login(htpasswd_registry, image_archive, tmp_path):
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed")
    reg = htpasswd_registry
    dest = f"docker://{reg.host}/private/busybox:v1"
    denied = run("skopeo", "copy", "--dest-tls-verify=false", f"docker-archive:{image_archive}", dest, check=False)
    assert denied.returncode != 0 and b"unauthorized" in denied.stderr.lower()
    wrong = run("skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", "alice:nope", f"docker-archive:{image_archive}", dest, check=False)
    assert wrong.returncode != 0
    run("skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", "alice:wonderland", f"docker-archive:{image_archive}", dest)
    assert json.loads(run("skopeo", "inspect", "--tls-verify=false", "--creds", "alice:wonderland", dest).stdout)["RepoTags"] == ["v1"]
    env = {**os.environ, "LAMINA_CONFIG": str(tmp_path / "lamina-config")}
    lamina_cli = ["python3", "-m", "lamina"]
    bad = run(*lamina_cli, "login", "-u", "alice", "-p", "nope", reg.host, check=False, env=env)
    assert bad.returncode == 1 and b"unauthorized" in bad.stderr and b"Traceback" not in bad.stderr
    ok = run(*lamina_cli, "login", "-u", "alice", "-p", "wonderland", reg.host, env=env)
    assert ok.stdout.decode().strip() == "Login Succeeded"
    stored = json.load(open(tmp_path / "lamina-config" / "config.json"))
    assert reg.host in stored["auths"]
    assert oct(os.stat(tmp_path / "lamina-config" / "config.json").st_mode & 0o777) == "0o600"
    out = run(*lamina_cli, "logout", reg.host, env=env).stdout.decode().strip()
    assert out == f"Removing login credentials for {reg.host}"


def test_docker_login_push_pull_with_htpasswd(htpasswd_registry, image_archive, dockerd):
    reg = htpasswd_registry
    ref = f"{reg.host}/private/dock:v1"
    dockerd.docker("load", "-i", image_archive)
    dockerd.docker("tag", "auth/busybox:v1", ref)
    assert dockerd.docker("push", ref, check=False).returncode != 0
    login = dockerd.docker("login", "-u", "alice", "--password-stdin", reg.host, input=b"wonderland")
    assert b"Login Succeeded" in login.stdout
    dockerd.docker("push", ref)
    dockerd.docker("rmi", ref)
    dockerd.docker("pull", ref)
    dockerd.docker("logout", reg.host)
    dockerd.docker("rmi", ref, "auth/busybox:v1")


def _token_config(base, service, realm):
    write_htpasswd(str(base / "users"), {"bob": "builder", "eve": "reader"})
    write_signing_pair(str(base / "token.key"), str(base / "token.crt"))
    return {
        "realm": realm,
        "service": service,
        "issuer": "lamina-test-issuer",
        "rootcertbundle": str(base / "token.crt"),
    }


def _issuing_registry(base, acl: list[dict]) -> RegistryProcess:
    """A lamina registry that issues its own tokens (``/auth/token``) under ``acl``."""
    base.mkdir()
    port = free_port()
    token = _token_config(base, "lamina-registry", f"http://127.0.0.1:{port}/auth/token")
    token["issue"] = {"key": str(base / "token.key"), "htpasswd": str(base / "users"), "acl": acl}
    return RegistryProcess(str(base), port=port, config={"auth": {"token": token}})


def test_bearer_tokens_with_scopes(tmp_path, image_archive):
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed")
    acl = [{"account": "bob", "name": "*", "actions": ["*"]}, {"account": "eve", "name": "*", "actions": ["pull"]}]
    with _issuing_registry(tmp_path / "token", acl) as reg:
        dest = f"docker://{reg.host}/tok/busybox:v1"
        challenge = run("curl", "-s", "-i", f"{reg.url}/v2/tok/busybox/tags/list").stdout.decode()
        assert 'Bearer realm="' in challenge and 'scope="repository:tok/busybox:pull"' in challenge
        run("skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", "bob:builder", f"docker-archive:{image_archive}", dest)
        assert json.loads(run("skopeo", "inspect", "--tls-verify=false", "--creds", "eve:reader", dest).stdout)["RepoTags"] == ["v1"]
        refused = run("skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", "eve:reader", f"docker-archive:{image_archive}", f"docker://{reg.host}/tok/eve:v1", check=False)
        assert refused.returncode != 0
        refused = run("skopeo", "inspect", "--tls-verify=false", "--creds", "bob:wrong", dest, check=False)
        assert refused.returncode != 0


@pytest.mark.skipif(cncf_binary() is None, reason="docker-registry (the CNCF registry) is not installed")
def test_cncf_registry_accepts_lamina_tokens(tmp_path, image_archive):
    if shutil.which("skopeo") is None:
        pytest.skip("skopeo is not installed")
    base = tmp_path / "cncf-token"
    base.mkdir()
    issuer_port = free_port()
    token = _token_config(base, "cncf-registry", f"http://127.0.0.1:{issuer_port}/auth/token")
    # lamina serves the token endpoint; the CNCF registry only validates
    issuing = dict(token, issue={"key": str(base / "token.key"), "htpasswd": str(base / "users"), "acl": [{"account": "bob", "name": "*", "actions": ["*"]}]})
    with RegistryProcess(str(base / "issuer"), port=issuer_port, config={"auth": {"token": issuing}}):
        with RegistryProcess(str(base / "cncf"), kind="cncf", config={"auth": {"token": token}}) as cncf:
            dest = f"docker://{cncf.host}/tok/busybox:v1"
            run("skopeo", "copy", "--dest-tls-verify=false", "--dest-creds", "bob:builder", f"docker-archive:{image_archive}", dest)
            assert json.loads(run("skopeo", "inspect", "--tls-verify=false", "--creds", "bob:builder", dest).stdout)["RepoTags"] == ["v1"]


def test_mount_only_from_a_repository_the_caller_may_pull(tmp_path):
    """eve may push to eve/* but not read secret/*: her mount request from secret/app must not
    link its blob (it becomes an ordinary upload, as Distribution answers), while bob's does."""
    import hashlib

    import httpx

    acl = [{"account": "bob", "name": "*", "actions": ["*"]}, {"account": "eve", "name": "eve/*", "actions": ["*"]}]
    with _issuing_registry(tmp_path / "mount", acl) as reg:

        def bearer(user: str, password: str, scope: str) -> dict:
            resp = httpx.get(f"{reg.url}/auth/token", params={"service": "lamina-registry", "scope": scope}, auth=(user, password))
            assert resp.status_code == 200, resp.text
            return {"Authorization": f"Bearer {resp.json()['token']}"}

        blob = b"a secret layer"
        digest = "sha256:" + hashlib.sha256(blob).hexdigest()
        bob = bearer("bob", "builder", "repository:secret/app:push,pull")
        pushed = httpx.post(f"{reg.url}/v2/secret/app/blobs/uploads/?digest={digest}", content=blob, headers=bob)
        assert pushed.status_code == 201

        scope = "repository:eve/app:push,pull repository:secret/app:pull"
        eve = bearer("eve", "reader", scope)
        mount = httpx.post(f"{reg.url}/v2/eve/app/blobs/uploads/?mount={digest}&from=secret/app", headers=eve)
        assert mount.status_code == 202  # not mounted: an upload session instead
        assert httpx.head(f"{reg.url}/v2/eve/app/blobs/{digest}", headers=eve).status_code == 404

        bob_mount = bearer("bob", "builder", "repository:bob/app:push,pull repository:secret/app:pull")
        mounted = httpx.post(f"{reg.url}/v2/bob/app/blobs/uploads/?mount={digest}&from=secret/app", headers=bob_mount)
        assert mounted.status_code == 201 and mounted.headers["Docker-Content-Digest"] == digest
