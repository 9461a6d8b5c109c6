"""Seed 000's private registry, run the way the seed runs it: the CNCF Distribution registry in
a lamina container on ``registry-network``, published on a host port, with its storage on the
host; docker and lamina push to it through the published port (lamina pulls it back on a fresh
data root) and a container on the same network reaches it by name. Traffic goes only to
loopback and to the test's own containers."""

from __future__ import annotations

import io
import json
import os
import shutil
import socket
import tarfile
import time

import httpx
import pytest

from lamina import Engine
from lamina.network import dns
from lamina.testing.rootfs import busybox_rootfs_bytes

REGISTRY = shutil.which("docker-registry")
CONFIG = b"""version: 0.1
storage:
  filesystem:
    rootdirectory: /var/lib/registry
  delete:
    enabled: true
http:
  addr: :5000
"""

pytestmark = pytest.mark.skipif(REGISTRY is None, reason="docker-registry is not installed (install.sh installs it)")


def registry_rootfs() -> bytes:
    """busybox, the registry binary with the two libraries it links, and its config."""
    out = io.BytesIO()
    with tarfile.open(fileobj=io.BytesIO(busybox_rootfs_bytes())) as base, tarfile.open(fileobj=out, mode="w") as tar:
        for member in base.getmembers():
            tar.addfile(member, base.extractfile(member) if member.isfile() else None)
        names = {m.name.lstrip("./") for m in base.getmembers()}
        for d in ("etc/docker", "etc/docker/registry", "var/lib/registry", "lib64", "lib/x86_64-linux-gnu"):
            if d not in names:
                info = tarfile.TarInfo(d)
                info.type, info.mode = tarfile.DIRTYPE, 0o755
                tar.addfile(info)
        for src, dest in ((REGISTRY, "bin/registry"), ("/lib/x86_64-linux-gnu/libc.so.6", "lib/x86_64-linux-gnu/libc.so.6"),
                          ("/lib64/ld-linux-x86-64.so.2", "lib64/ld-linux-x86-64.so.2")):
            tar.add(os.path.realpath(src), dest)
        info = tarfile.TarInfo("etc/docker/registry/config.yml")
        info.size = len(CONFIG)
        tar.addfile(info, io.BytesIO(CONFIG))
    return out.getvalue()


def test_seed_000_registry_on_a_user_network(lamina, dockerd, tmp_path, busybox_tar):
    rootfs = tmp_path / "registry.tar"
    rootfs.write_bytes(registry_rootfs())
    lamina.run("import", "-c", 'ENTRYPOINT ["/bin/registry", "serve", "/etc/docker/registry/config.yml"]',
               "-c", "EXPOSE 5000", str(rootfs), "registry:2")
    lamina.run("import", busybox_tar, "busybox:latest")
    storage = tmp_path / "registry_volume"
    storage.mkdir()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    try:
        lamina.run("network", "create", "registry-network", "--driver", "bridge")
        lamina.run("run", "--detach", "--name", "registry", "--network", "registry-network", "--publish", f"{port}:5000",
                   "--restart", "always", "--user", "root:root", "--volume", f"{storage}:/var/lib/registry/:rw", "registry:2")
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/v2/", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "the registry did not answer through its published port"
            time.sleep(0.1)

        ref = f"127.0.0.1:{port}/library/bb:1"
        dockerd.docker("import", busybox_tar, ref)
        dockerd.docker("push", ref)  # docker reaches lamina's container through the published port
        assert (storage / "docker/registry/v2/repositories/library/bb/_manifests/tags/1").is_dir()

        # lamina pushes there too, and a fresh data root pulls the same image back
        mine = f"127.0.0.1:{port}/lamina/bb:1"
        lamina.run("tag", "busybox:latest", mine)
        pushed = lamina.run("push", mine).out.splitlines()
        assert pushed[0] == f"The push refers to repository [127.0.0.1:{port}/lamina/bb]"
        assert pushed[-1].startswith("1: digest: sha256:")
        fresh = type(lamina)(str(tmp_path / "fresh-root"))
        pulled = fresh.run("pull", mine).out.splitlines()
        assert pulled[-2:] == [f"Status: Downloaded newer image for {mine}", mine]
        assert fresh.run("inspect", "-f", "{{.Id}}", mine).out == lamina.run("inspect", "-f", "{{.Id}}", mine).out

        out = lamina.run("run", "--rm", "--network", "registry-network", "busybox", "sh", "-c",
                         "wget -qO- http://registry:5000/v2/_catalog").out
        assert json.loads(out) == {"repositories": ["lamina/bb", "library/bb"]}
    finally:
        shutil.rmtree(tmp_path / "fresh-root", ignore_errors=True)
        lamina.run("rm", "-f", "registry", check=False)
        lamina.run("network", "rm", "registry-network", check=False)
        eng = Engine(lamina.root)
        eng.networks.clear_host()
        dns.stop(eng.networks.store.dns_dir)
