"""Issue 3's throughput benchmark: blob GET throughput and manifest GET requests/s at 16
concurrent clients on loopback, lamina's registry vs the CNCF registry, with each server's
peak memory (VmHWM) afterwards. The load generator is wrk (2 threads, 16 connections, keep-alive),
the same native client for both servers. ApacheBench was used first: being single-threaded it
tops out near 2.4 GB/s here, so both servers measured the client, not themselves.

    python3 bench/registry_throughput.py [--blob-mb 64] [--seconds 8]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile

import httpx

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))

from lamina.testing.registries import RegistryProcess  # noqa: E402

MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def push_content(url: str, blob: bytes) -> tuple[str, str]:
    digest = "sha256:" + hashlib.sha256(blob).hexdigest()
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    config_digest = "sha256:" + hashlib.sha256(config).hexdigest()
    with httpx.Client(base_url=url, timeout=120) as client:
        for data, d in ((blob, digest), (config, config_digest)):
            # POST then PUT with the body: the form every registry accepts (2.8 ignores ?digest on POST)
            start = client.post("/v2/bench/blob/blobs/uploads/")
            start.raise_for_status()
            location = start.headers["Location"]
            sep = "&" if "?" in location else "?"
            done = client.put(f"{location}{sep}digest={d}", content=data)
            if done.status_code != 201:
                sys.exit(f"blob push to {url} failed: {done.status_code} {done.text}")
        manifest = {
            "schemaVersion": 2,
            "mediaType": MANIFEST,
            "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "digest": config_digest, "size": len(config)},
            "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip", "digest": digest, "size": len(blob)}],
        }
        r = client.put("/v2/bench/blob/manifests/v1", content=json.dumps(manifest), headers={"Content-Type": MANIFEST})
        if r.status_code != 201:
            sys.exit(f"manifest push to {url} failed: {r.status_code} {r.text}")
    return f"{url}/v2/bench/blob/blobs/{digest}", f"{url}/v2/bench/blob/manifests/v1"


_UNITS = {"B": 1 / (1 << 20), "KB": 1 / 1024, "MB": 1, "GB": 1024, "TB": 1 << 20}


def wrk(url: str, seconds: int, connections: int = 16, accept: str | None = None, timeout: int = 2) -> dict[str, float]:
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{seconds}s", f"--timeout={timeout}s"]
    if accept:
        argv += ["-H", f"Accept: {accept}"]
    out = subprocess.run(argv + [url], capture_output=True, text=True, timeout=seconds + 60)
    if out.returncode != 0:
        sys.exit(f"wrk failed: {out.stderr}")
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out.stdout).group(1))
    amount, unit = re.search(r"Transfer/sec:\s+([\d.]+)(\w+)", out.stdout).groups()
    failed = 0
    non_2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out.stdout)  # printed only when some
    if non_2xx:
        failed += int(non_2xx.group(1))
    socket = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out.stdout)
    if socket:
        failed += sum(int(n) for n in socket.groups())
    return {"rps": rps, "mbps": float(amount) * _UNITS[unit], "failed": failed}


def peak_rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--blob-mb", type=int, default=64)
    parser.add_argument("--seconds", type=int, default=8)
    args = parser.parse_args()
    for tool in ("wrk", "docker-registry"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (./install.sh)")
    blob = os.urandom(args.blob_mb << 20)
    base = tempfile.mkdtemp(prefix="lamina-bench-tp-", dir="/var/tmp")
    try:
        with RegistryProcess(os.path.join(base, "l")) as ours, RegistryProcess(os.path.join(base, "c"), kind="cncf") as theirs:
            results = {}
            for label, reg in (("lamina", ours), ("cncf", theirs)):
                blob_url, manifest_url = push_content(reg.url, blob)
                wrk(manifest_url, 1, accept=MANIFEST)  # warm up
                results[label] = {
                    "blob": wrk(blob_url, args.seconds),
                    "manifest": wrk(manifest_url, args.seconds, accept=MANIFEST),
                    "rss": peak_rss_mb(reg.proc.pid),
                }
            ours_r, c = results["lamina"], results["cncf"]
            print(f"blob GET ({args.blob_mb} MB, 16 clients)   lamina {ours_r['blob']['mbps']:8.1f} MB/s   cncf {c['blob']['mbps']:8.1f} MB/s   ratio {ours_r['blob']['mbps'] / c['blob']['mbps']:5.2f} (>1: lamina faster)")
            print(f"manifest GET (16 clients)       lamina {ours_r['manifest']['rps']:8.0f} req/s  cncf {c['manifest']['rps']:8.0f} req/s  ratio {ours_r['manifest']['rps'] / c['manifest']['rps']:5.2f} (>1: lamina faster)")
            print(f"peak RSS after the runs         lamina {ours_r['rss']:8.1f} MB     cncf {c['rss']:8.1f} MB")
            failures = {k: (v["blob"]["failed"], v["manifest"]["failed"]) for k, v in results.items()}
            print(f"failed requests (blob, manifest): {failures}")
    finally:
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
