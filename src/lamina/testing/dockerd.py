"""A private dockerd for interop tests and benchmarks: its own data root, socket and pid file,
so it never touches (or needs) a system docker, and is torn down completely afterwards."""

from __future__ import annotations

import os
import shlex
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass


def docker_cli() -> str | None:
    return shutil.which("docker")


def dockerd_binary() -> str | None:
    return shutil.which("dockerd")


@dataclass
class Dockerd:
    base: str
    proc: subprocess.Popen | None = None
    insecure_registries: tuple[str, ...] = ()
    #: a bridge and iptables of its own (benchmarks of published ports): on 10.251.102.0/24,
    #: named ``lmbenchdock0``; its chains, bridge and FORWARD policy are undone by ``stop``
    networking: bool = False
    bridge_cidr: str = "10.251.102.1/24"
    _forward_policy: str = ""

    @property
    def host(self) -> str:
        return f"unix://{self.base}/docker.sock"

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        env["DOCKER_HOST"] = self.host
        env["DOCKER_CONFIG"] = os.path.join(self.base, "client")
        return env

    def start(self, timeout: float = 60.0) -> Dockerd:
        binary = dockerd_binary()
        if binary is None or docker_cli() is None:
            raise RuntimeError("dockerd or the docker CLI is not installed (apt-get install docker.io)")
        os.makedirs(os.path.join(self.base, "client"), exist_ok=True)
        net_args = ["--iptables=false", "--ip6tables=false", "--bridge=none"]
        if self.networking:
            self._forward_policy = _forward_policy()
            subprocess.run(["ip", "link", "add", BENCH_BRIDGE, "type", "bridge"], capture_output=True)
            subprocess.run(["ip", "addr", "add", self.bridge_cidr, "dev", BENCH_BRIDGE], capture_output=True)
            subprocess.run(["ip", "link", "set", BENCH_BRIDGE, "up"], capture_output=True)
            net_args = ["--iptables=true", "--ip6tables=false", "--bridge", BENCH_BRIDGE]
        args = [
            binary,
            *net_args,
            "--data-root", os.path.join(self.base, "data"),
            "--exec-root", os.path.join(self.base, "exec"),
            "--pidfile", os.path.join(self.base, "docker.pid"),
            "-H", self.host,
            "--storage-driver", "overlay2",
        ]
        for reg in self.insecure_registries:
            args += ["--insecure-registry", reg]
        log = open(os.path.join(self.base, "dockerd.log"), "wb")
        self.proc = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"dockerd exited: {self.log_tail()}")
            if subprocess.run(["docker", "version"], env=self.env(), capture_output=True).returncode == 0:
                return self
            time.sleep(0.2)
        self.stop()
        raise RuntimeError(f"dockerd did not start in {timeout}s: {self.log_tail()}")

    def log_tail(self, n: int = 2000) -> str:
        try:
            with open(os.path.join(self.base, "dockerd.log"), "rb") as f:
                return f.read()[-n:].decode(errors="replace")
        except OSError:
            return ""

    def docker(self, *args: str, input: bytes | None = None, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
        proc = subprocess.run(["docker", *args], env=self.env(), input=input, capture_output=True, timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {proc.stderr.decode(errors='replace')}")
        return proc

    def exported_files(self, image: str) -> dict[str, tuple]:
        """The merged filesystem of ``image`` as this dockerd exports it (``create`` +
        ``export``): path -> (tar type, mode, uid, gid, sha256 of the content or link target)."""
        import hashlib
        import io
        import tarfile

        cid = self.docker("create", image).stdout.decode().strip()
        try:
            data = self.docker("export", cid).stdout
        finally:
            self.docker("rm", cid)
        out = {}
        with tarfile.open(fileobj=io.BytesIO(data)) as tar:
            for m in tar:
                content = hashlib.sha256(tar.extractfile(m).read()).hexdigest() if m.isreg() else m.linkname
                out[m.name.rstrip("/")] = (m.type, m.mode, m.uid, m.gid, content)
        return out

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.networking:
            _undo_docker_networking(self._forward_policy)
        # containerd-shims or mounts left below base would keep rmtree from finishing
        subprocess.run(["umount", "-R", "-l", os.path.join(self.base, "data")], capture_output=True)
        subprocess.run(["umount", "-R", "-l", os.path.join(self.base, "exec")], capture_output=True)
        shutil.rmtree(self.base, ignore_errors=True)

    def __enter__(self) -> Dockerd:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


BENCH_BRIDGE = "lmbenchdock0"


def _forward_policy() -> str:
    out = subprocess.run(["iptables", "-S", "FORWARD"], capture_output=True, text=True).stdout
    for line in out.splitlines():
        if line.startswith("-P FORWARD "):
            return line.split()[2]
    return "ACCEPT"


def _undo_docker_networking(forward_policy: str) -> None:
    """Remove what a dockerd with iptables leaves: its jumps and chains, its bridge, and the
    FORWARD policy it turned to DROP."""
    for table in ("filter", "nat"):
        rules = subprocess.run(["iptables", "-t", table, "-S"], capture_output=True, text=True).stdout.splitlines()
        for line in rules:
            words = shlex.split(line)
            if line.startswith("-A ") and not words[1].startswith("DOCKER") and any(w.startswith("DOCKER") for w in words[2:]):
                subprocess.run(["iptables", "-t", table, "-D", *words[1:]], capture_output=True)
        for line in rules:
            if line.startswith("-N DOCKER"):
                subprocess.run(["iptables", "-t", table, "-F", line.split()[1]], capture_output=True)
        for line in rules:
            if line.startswith("-N DOCKER"):
                subprocess.run(["iptables", "-t", table, "-X", line.split()[1]], capture_output=True)
    subprocess.run(["iptables", "-P", "FORWARD", forward_policy or "ACCEPT"], capture_output=True)
    subprocess.run(["ip", "link", "del", BENCH_BRIDGE], capture_output=True)
