"""lamina pull/push against registries with auth: htpasswd over TLS, bearer tokens (cached, with
scopes, and on disk across commands), a token realm on another host over plain HTTP, which
must not get credentials, and ``login`` to a registry daemon.json calls insecure."""

from __future__ import annotations

import http.server
import json
import os
import socket
import stat
import subprocess
import threading
import time

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
    # the access log at info: tests count the requests to the token endpoint
    log = {"level": "info", "accesslog": {"disabled": False}}
    return RegistryProcess(str(base), port=port, config={"auth": {"token": token}, "log": log})


def _token_requests(reg: RegistryProcess) -> int:
    """How many tokens the registry issued since it started (its access log)."""
    count = 0
    with open(os.path.join(reg.root, f"{reg.kind}.log")) as f:
        for line in f:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if isinstance(entry, dict) and str(entry.get("path", "")).startswith("/auth/token"):
                count += 1
    return count


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


def test_bearer_tokens_cached_across_commands(lamina, busybox_tar, tmp_path):
    port = free_port()
    acl = [{"account": "bob", "name": "*", "actions": ["*"]}]
    env = _env(tmp_path)
    base = tmp_path / "tok"
    reg = _token_registry(base, f"http://127.0.0.1:{port}/auth/token", acl, port)
    with reg:
        ref = f"{reg.host}/tok/bb:v1"
        lamina.run("import", busybox_tar, ref)
        _run(lamina, "login", "-u", "bob", "-p", "builder", reg.host, env=env)
        _run(lamina, "push", ref, env=env)
        pushed = _token_requests(reg)
        _run(type(lamina)(str(tmp_path / "second")), "pull", ref, env=env)
        first_pull = _token_requests(reg)
        assert first_pull == pushed + 1  # pull's scope is not push's: one token for it
        fetched_at = time.time()
        _run(type(lamina)(str(tmp_path / "third")), "pull", ref, env=env)
        _run(lamina, "push", ref, env=env)
        assert _token_requests(reg) == first_pull  # both served from the cache on disk

        cache = tmp_path / "cfg" / "tokens.json"
        assert stat.S_IMODE(cache.stat().st_mode) == 0o600
        assert b"builder" not in cache.read_bytes()
        entries = json.loads(cache.read_text())
        assert len(entries) == 2 and all(e["token"] for e in entries.values())
        # expires_in is 300 here: kept that long (less a few seconds), not longer
        assert all(fetched_at + 240 < e["expires"] < fetched_at + 300 for e in entries.values())

        # another account does not get bob's tokens
        anonymous = _run(type(lamina)(str(tmp_path / "anon")), "pull", ref, check=False,
                         env={**env, "LAMINA_CONFIG": str(tmp_path / "cfg-anon")})
        assert anonymous.returncode == 1 and _token_requests(reg) > first_pull

    # a new signing key: the cached token is refused, dropped and fetched again, once
    write_signing_pair(str(base / "token.key"), str(base / "token.crt"))
    with reg:
        _run(type(lamina)(str(tmp_path / "fourth")), "pull", ref, env=env)
        assert _token_requests(reg) == 1
        _run(type(lamina)(str(tmp_path / "fifth")), "pull", ref, env=env)
        assert _token_requests(reg) == 1
    # logout takes the registry's tokens with the credentials
    assert json.loads(cache.read_text())
    _run(lamina, "logout", reg.host, env=env)
    assert json.loads(cache.read_text()) == {}


def _local_address() -> str | None:
    """This host's outbound IPv4 address, if it has one besides loopback (no packet is sent)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("198.51.100.1", 9))
        except OSError:
            return None
        address = s.getsockname()[0]
    return None if address.startswith("127.") else address


def test_login_reads_insecure_registries(lamina, busybox_tar, tmp_path):
    """A plain-HTTP registry off loopback: login needs it in daemon.json, as pull and push do."""
    address = _local_address()
    if address is None:
        pytest.skip("no IPv4 address besides loopback to serve a registry on")
    base = tmp_path / "plain"
    base.mkdir()
    write_htpasswd(str(base / "htpasswd"), {"alice": "wonderland"})
    config = {"auth": {"htpasswd": {"realm": "lamina-plain", "path": str(base / "htpasswd")}}}
    env = _env(tmp_path)
    with RegistryProcess(str(base), config=config, address=address) as reg:
        login = ("login", "-u", "alice", "-p", "wonderland", reg.host)
        refused = _run(lamina, *login, env=env, check=False)
        assert refused.returncode == 125 and refused.stderr.startswith(f"Error: Error response from daemon: Get https://{reg.host}/v2/".encode())
        for listed in (f"{address}/24", reg.host):
            daemon = tmp_path / "daemon.json"
            daemon.write_text(json.dumps({"insecure-registries": [listed]}))
            insecure = {**env, "LAMINA_DAEMON_CONFIG": str(daemon)}
            assert _run(lamina, *login, env=insecure).stdout == b"Login Succeeded\n"
        ref = f"{reg.host}/plain/bb:v1"
        lamina.run("import", busybox_tar, ref)
        _run(lamina, "push", ref, env=insecure)
