"""lamina pull/push against registries with auth: htpasswd over TLS, bearer tokens (cached, with
scopes), and a token realm on another host over plain HTTP, which must not get credentials."""

from __future__ import annotations

import http.server
import os
import subprocess
import threading

import pytest

from lamina.testing.pki import write_htpasswd, write_server_pair, write_signing_pair
from lamina.testing.registries import RegistryProcess, free_port

pytestmark = pytest.mark.timeout(600)


def _env(tmp_path) -> dict:
    return {**os.environ, "LAMINA_CONFIG": str(tmp_path / "cfg"), "DOCKER_CONFIG": str(tmp_path / "no-docker")}


def _run(cli, *args, env, check=True):
    proc = subprocess.run(cli.argv(*args), env=env, capture_output=True, timeout=300)
    if check:
        assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    return proc


def test_htpasswd_over_tls(lamina, busybox_tar, tmp_path):
    root = tmp_path / "tls"
    root.mkdir()
    write_server_pair(str(root / "server.key"), str(root / "server.crt"), "127.0.0.1")
    write_htpasswd(str(root / "htpasswd"), {"alice": "wonderland"})
    config = {
        "http": {"tls": {"certificate": str(root / "server.crt"), "key": str(root / "server.key")}},
        "auth": {"htpasswd": {"realm": "lamina-tls", "path": str(root / "htpasswd")}},
    }
    env = _env(tmp_path)
    with RegistryProcess(str(root), config=config) as reg:
        ref = f"{reg.host}/tls/bb:v1"
        lamina.run("import", busybox_tar, ref)
        denied = _run(lamina, "push", ref, env=env, check=False)
        assert denied.returncode == 1 and b"unauthorized" in denied.stderr.lower() and b"Traceback" not in denied.stderr
        _run(lamina, "login", "-u", "alice", "-p", "wonderland", reg.host, env=env)
        _run(lamina, "push", ref, env=env)
        other = type(lamina)(str(tmp_path / "other"))
        out = _run(other, "pull", ref, env=env).stdout.decode()
        assert out.endswith(f"{ref}\n")


def _token_registry(base, realm: str, acl: list[dict] | None = None, port: int = 0) -> RegistryProcess:
    base.mkdir()
    write_htpasswd(str(base / "users"), {"bob": "builder"})
    write_signing_pair(str(base / "token.key"), str(base / "token.crt"))
    token = {"realm": realm, "service": "lamina-registry", "issuer": "lamina-test", "rootcertbundle": str(base / "token.crt")}
    if acl is not None:
        token["issue"] = {"key": str(base / "token.key"), "htpasswd": str(base / "users"), "acl": acl}
    return RegistryProcess(str(base), port=port, config={"auth": {"token": token}})


def test_bearer_tokens_scoped_and_cached(lamina, busybox_tar, tmp_path):
    port = free_port()
    acl = [{"account": "bob", "name": "*", "actions": ["*"]}]
    env = _env(tmp_path)
    with _token_registry(tmp_path / "tok", f"http://127.0.0.1:{port}/auth/token", acl, port) as reg:
        ref = f"{reg.host}/tok/bb:v1"
        lamina.run("import", busybox_tar, ref)
        _run(lamina, "login", "-u", "bob", "-p", "builder", reg.host, env=env)
        _run(lamina, "push", ref, env=env)
        other = type(lamina)(str(tmp_path / "other"))
        _run(other, "pull", ref, env=env)

        # in process: one token per scope set, reused until it expires
        from lamina.digest import Digest
        from lamina.registry.client.api import Repository
        from lamina.registry.client.daemon_config import DaemonConfig
        from lamina.registry.client.transport import Session

        with Session(reg.host, DaemonConfig(), ("bob", "builder")) as session:
            repo = Repository(session, "tok/bb")
            for _ in range(3):
                repo.manifest("v1")
            assert session.token_fetches == 1
            repo.tags()
            assert session.token_fetches == 1
            assert repo.blob_size(Digest("sha256", "0" * 64)) is None
            assert session.token_fetches == 2  # push scope: a second token


class _Realm(http.server.BaseHTTPRequestHandler):
    seen: list = []

    def log_message(self, *args) -> None:
        pass

    def do_GET(self) -> None:  # noqa: N802
        self.seen.append(self.headers.get("Authorization"))
        self.send_response(401)
        self.send_header("Content-Length", "0")
        self.end_headers()


def test_no_credentials_to_a_plain_http_realm_elsewhere(lamina, tmp_path, monkeypatch):
    realm_port = free_port()
    _Realm.seen = []
    server = http.server.ThreadingHTTPServer(("127.0.0.2", realm_port), _Realm)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    env = _env(tmp_path)
    try:
        with _token_registry(tmp_path / "foreign", f"http://127.0.0.2:{realm_port}/token") as reg:
            from lamina.registry.client.credentials import save_auth

            monkeypatch.setenv("LAMINA_CONFIG", env["LAMINA_CONFIG"])
            save_auth(reg.host, "bob", "builder")
            failed = _run(lamina, "pull", f"{reg.host}/any/thing:v1", env=env, check=False)
            assert failed.returncode == 1 and b"Traceback" not in failed.stderr
    finally:
        server.shutdown()
        server.server_close()
    assert _Realm.seen and all(a is None for a in _Realm.seen)
