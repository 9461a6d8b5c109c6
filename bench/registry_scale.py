"""The registry at scale: lamina vs Distribution (the CNCF registry), both on S3 — the same moto
server, a bucket each — in one run, ratios printed.

1. skopeo push and pull of a ~170 MB image (4 incompressible tar layers), alternating runs;
2. blob GET throughput at 16 connections: proxied (``storage.redirect.disable: true``, wrk), and
   redirected (wrk counts the registry's 307 answers/s; a 16-thread client that follows the
   redirect measures the bytes end to end);
3. a mixed load at 16 clients over two instances of each (pushes whose chunks alternate
   instances, pulls following redirects, tag lists, HEADs) for ``--mixed-seconds`` (the issue
   asks 600), counting every error and sampling each instance's RSS every 5 s (written to
   bench/out/registry_scale_rss.csv).

    python3 bench/registry_scale.py [--image-mb 170] [--runs 3] [--seconds 8] [--mixed-seconds 600]

``--soak MINUTES`` runs only the mixed load, on lamina alone (two instances over one moto
bucket, 16 clients) for that long: it prints the errors (zero required: exit status 1
otherwise), the requests each instance answered (its own Prometheus counters, by status
class), and each instance's RSS as a series (one sample every 30 s) with its slope after the
first minute's warm-up, in MB per minute.

    python3 bench/registry_scale.py --soak 10
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import http.client
import io
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "src"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

from _common import OUT, compare  # noqa: E402
from registry_throughput import wrk  # noqa: E402

from lamina.testing.distclient import OCI_MANIFEST, Client, sha  # noqa: E402
from lamina.testing.registries import RegistryProcess, cncf_binary, free_port  # noqa: E402
from lamina.testing.s3 import MotoServer  # noqa: E402


def make_layout(path: str, total_mb: int, layers: int = 4) -> None:
    """An OCI layout of one image whose layers are tars of random (incompressible) files."""
    blobs = os.path.join(path, "blobs", "sha256")
    os.makedirs(blobs)

    def store(data: bytes) -> dict:
        d = hashlib.sha256(data).hexdigest()
        with open(os.path.join(blobs, d), "wb") as f:
            f.write(data)
        return {"digest": f"sha256:{d}", "size": len(data)}

    descs, diff_ids = [], []
    for i in range(layers):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            payload = os.urandom((total_mb << 20) // layers)
            info = tarfile.TarInfo(f"layer{i}/data.bin")
            info.size = len(payload)
            tar.addfile(info, io.BytesIO(payload))
        data = buf.getvalue()
        descs.append({"mediaType": "application/vnd.oci.image.layer.v1.tar", **store(data)})
        diff_ids.append(descs[-1]["digest"])
    config = json.dumps({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()
    manifest = json.dumps({"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": {"mediaType": "application/vnd.oci.image.config.v1+json", **store(config)}, "layers": descs}).encode()
    mdesc = {"mediaType": OCI_MANIFEST, **store(manifest), "annotations": {"org.opencontainers.image.ref.name": "v1"}}
    with open(os.path.join(path, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [mdesc]}, f)
    with open(os.path.join(path, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)


def skopeo(*args: str) -> None:
    out = subprocess.run(["skopeo", *args], capture_output=True, text=True, timeout=900)
    if out.returncode != 0:
        sys.exit(f"skopeo {' '.join(args)}: {out.stderr[-2000:]}")


def fetch(url: str, path: str, headers: dict | None = None) -> tuple[int, dict, bytes]:
    parsed = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(parsed.netloc, timeout=120)
    try:
        conn.request("GET", parsed.path + (f"?{parsed.query}" if parsed.query else "") if not path else path, headers=headers or {})
        resp = conn.getresponse()
        return resp.status, dict(resp.getheaders()), resp.read()
    finally:
        conn.close()


def get_blob(host: str, repo: str, digest: str) -> bytes:
    """GET a blob as a client does: follow the registry's redirect to the bucket."""
    status, headers, body = fetch(f"http://{host}", f"/v2/{repo}/blobs/{digest}")
    if status in (301, 302, 303, 307, 308):
        status, _, body = fetch(headers["Location"], "")
    if status != 200:
        raise RuntimeError(f"GET blob {digest}: {status}")
    return body


def redirected_throughput(host: str, repo: str, digest: str, seconds: float) -> float:
    """MB/s at 16 threads, each following the redirect and reading the whole blob."""
    deadline = time.monotonic() + seconds
    total = [0]
    lock = threading.Lock()

    def worker() -> None:
        while time.monotonic() < deadline:
            n = len(get_blob(host, repo, digest))
            with lock:
                total[0] += n

    start = time.monotonic()
    with ThreadPoolExecutor(16) as pool:
        for f in [pool.submit(worker) for _ in range(16)]:
            f.result()
    return total[0] / (time.monotonic() - start) / (1 << 20)


def rss_mb(pid: int) -> float:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def mixed_load(hosts: list[str], pids: list[int], seconds: float, label: str, rss_rows: list) -> dict:
    """16 clients over ``hosts`` for ``seconds``: push 20%, pull 60%, tag list 10%, HEAD 10%."""
    deadline = time.monotonic() + seconds
    pushed: list[tuple[str, str, list[str]]] = []
    lock = threading.Lock()
    counts = {"ops": 0, "errors": 0, "push": 0, "pull": 0}
    errors: list[str] = []
    started = time.monotonic()

    def record(kind: str, ok: bool, why: str = "") -> None:
        with lock:
            counts["ops"] += 1
            counts[kind] = counts.get(kind, 0) + 1
            if not ok:
                counts["errors"] += 1
                if len(errors) < 10:
                    errors.append(why)

    def client_loop(n: int) -> None:
        rng = random.Random(n)
        client = Client(hosts)
        i = 0
        while time.monotonic() < deadline:
            i += 1
            op = rng.random()
            try:
                if op < 0.2 or not pushed:
                    repo, tag = f"mixed/c{n}", f"t{i}"
                    layers = [os.urandom(rng.randint(64 << 10, 1 << 20)) for _ in range(2)]
                    config = json.dumps({"n": n, "i": i}).encode()
                    for layer in layers:
                        client.push_blob(repo, layer, chunks=2)
                    client.push_blob(repo, config)
                    status, body = client.put_manifest(repo, tag, config, layers)
                    if status != 201:
                        raise RuntimeError(f"manifest {status} {body[:200]!r}")
                    with lock:
                        pushed.append((repo, tag, [sha(x) for x in layers]))
                    record("push", True)
                elif op < 0.8:
                    repo, tag, digests = rng.choice(pushed)
                    host = rng.choice(hosts)
                    status, _, body = client.request("GET", f"/v2/{repo}/manifests/{tag}", headers={"Accept": OCI_MANIFEST}, host=host)
                    if status != 200:
                        raise RuntimeError(f"manifest GET {status}")
                    for digest in digests:
                        if sha(get_blob(rng.choice(hosts), repo, digest)) != digest:
                            raise RuntimeError("blob content differs")
                    record("pull", True)
                elif op < 0.9:
                    repo, _, _ = rng.choice(pushed)
                    status, _, _ = client.request("GET", f"/v2/{repo}/tags/list")
                    if status != 200:
                        raise RuntimeError(f"tags/list {status}")
                    record("tags", True)
                else:
                    repo, _, digests = rng.choice(pushed)
                    status, _, _ = client.request("HEAD", f"/v2/{repo}/blobs/{digests[0]}")
                    if status != 200:
                        raise RuntimeError(f"HEAD {status}")
                    record("head", True)
            except Exception as exc:  # noqa: BLE001 - every failure is counted and shown
                record("error", False, f"{type(exc).__name__}: {exc}")

    def sampler() -> None:
        while time.monotonic() < deadline:
            row = [label, round(time.monotonic() - started, 1)] + [round(rss_mb(p), 1) for p in pids]
            rss_rows.append(row)
            time.sleep(5)
        rss_rows.append([label, round(time.monotonic() - started, 1)] + [round(rss_mb(p), 1) for p in pids])

    threads = [threading.Thread(target=client_loop, args=(n,)) for n in range(16)] + [threading.Thread(target=sampler)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.monotonic() - started
    series = [r for r in rss_rows if r[0] == label]
    return {**counts, "ops_per_s": counts["ops"] / elapsed, "errors_seen": errors, "rss_first": series[0][2:], "rss_last": series[-1][2:], "rss_max": [max(r[2 + k] for r in series) for k in range(len(pids))], "rss_after_warmup": series[min(6, len(series) - 1)][2:]}


def write_rss_csv(name: str, rows: list) -> str:
    os.makedirs(OUT, exist_ok=True)
    path = os.path.join(OUT, name)
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["server", "seconds", "instance1_rss_mb", "instance2_rss_mb"])
        writer.writerows(rows)
    return path


def served_requests(debug_addr: str) -> dict[str, int]:
    """Requests an instance answered, by status class ("2xx", "4xx", ...), from its /metrics."""
    from prometheus_client.parser import text_string_to_metric_families

    status, _, body = fetch(f"http://{debug_addr}", "/metrics")
    if status != 200:
        raise RuntimeError(f"GET /metrics on {debug_addr}: {status}")
    counts: dict[str, int] = {}
    for family in text_string_to_metric_families(body.decode()):
        if family.name != "lamina_registry_http_requests":
            continue
        for sample in family.samples:
            if sample.name.endswith("_total"):
                cls = sample.labels["status"][0] + "xx"
                counts[cls] = counts.get(cls, 0) + int(sample.value)
    return counts


def rss_slope(series: list[tuple[float, float]], warmup: float = 60.0) -> tuple[float, str]:
    """(MB per minute, over what): least squares over the samples after ``warmup`` seconds,
    or over the whole run when it is too short to have two of them."""
    points, span = [(t, mb) for t, mb in series if t >= warmup], "after 1 min"
    if len(points) < 2:
        points, span = series, "over the whole (short) run"
    if len(points) < 2:
        return 0.0, span
    slope, _ = statistics.linear_regression([t for t, _ in points], [mb for _, mb in points])
    return slope * 60, span


def soak(minutes: float, base: str) -> int:
    """The mixed load on two lamina instances over one moto bucket; 1 if any request failed."""
    with MotoServer(os.path.join(base, "moto")) as moto:
        moto.create_bucket("soak")
        instances, debug_addrs = [], []
        try:
            for name in ("a", "b"):
                debug_addrs.append(f"127.0.0.1:{free_port()}")
                config = {"storage": {"s3": moto.storage_section("soak", rootdirectory="/registry")}, "http": {"debug": {"addr": debug_addrs[-1]}}}
                instances.append(RegistryProcess(os.path.join(base, name), config=config).start())
            print(f"soak: {minutes:g} min, 16 clients over 2 lamina instances on one moto S3 bucket (push 20%, pull 60%, tag list 10%, HEAD 10%)", flush=True)
            rss_rows: list = []
            result = mixed_load([r.host for r in instances], [r.proc.pid for r in instances], minutes * 60, "lamina", rss_rows)
            served = [served_requests(addr) for addr in debug_addrs]
            moto_rss = rss_mb(moto.proc.pid)
        finally:
            for reg in instances:
                reg.stop()
    print(f"client operations {result['ops']} ({result['ops_per_s']:.1f}/s): push {result['push']}, pull {result['pull']}, tag list {result.get('tags', 0)}, HEAD {result.get('head', 0)}; errors {result['errors']}")
    for why in result["errors_seen"]:
        print(f"  error: {why}")
    for k, counts in enumerate(served):
        print(f"instance {k + 1}: requests answered {sum(counts.values())} {dict(sorted(counts.items()))}")
    for k in range(len(instances)):
        series = [(row[1], row[2 + k]) for row in rss_rows]
        every_30s = [f"{mb:.0f}" for t, mb in series[::6]] + [f"{series[-1][1]:.0f}"]
        slope, span = rss_slope(series)
        after = next((f" after 1 min {mb:.1f}," for t, mb in series if t >= 60), "")
        print(f"instance {k + 1} RSS MB every 30 s: {' '.join(every_30s)}")
        print(f"instance {k + 1} RSS start {series[0][1]:.1f} MB,{after} end {series[-1][1]:.1f}, max {max(mb for _, mb in series):.1f}; slope {slope:+.2f} MB/min {span}")
    print(f"(moto's own RSS at the end, the bucket in its memory: {moto_rss:.0f} MB)")
    print(f"RSS over time: {write_rss_csv('registry_soak_rss.csv', rss_rows)}")
    server_errors = sum(c.get("5xx", 0) for c in served)
    return 1 if result["errors"] or server_errors else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--image-mb", type=int, default=170)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=int, default=8, help="each wrk / redirected-throughput run")
    parser.add_argument("--mixed-seconds", type=int, default=600)
    parser.add_argument("--soak", type=float, metavar="MINUTES", help="only the mixed load on lamina, this long")
    args = parser.parse_args()
    if args.soak:
        base = tempfile.mkdtemp(prefix="lamina-bench-soak-", dir="/var/tmp")
        try:
            sys.exit(soak(args.soak, base))
        finally:
            shutil.rmtree(base, ignore_errors=True)
    for tool in ("wrk", "skopeo"):
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed (./install.sh)")
    if cncf_binary() is None:
        sys.exit("docker-registry is not installed (./install.sh)")
    base = tempfile.mkdtemp(prefix="lamina-bench-scale-", dir="/var/tmp")
    procs: list[RegistryProcess] = []
    try:
        with MotoServer(os.path.join(base, "moto")) as moto:

            def section(bucket: str) -> dict:
                return moto.storage_section(bucket, rootdirectory="/registry")

            def start(kind: str, name: str, bucket: str, **extra) -> RegistryProcess:
                config: dict = {"storage": {"s3": section(bucket), **extra}}
                if kind == "cncf":
                    # Distribution signs upload state with http.secret: instances must share it
                    config["http"] = {"secret": "lamina-bench-shared-secret"}
                reg = RegistryProcess(os.path.join(base, name), kind=kind, config=config).start()
                procs.append(reg)
                return reg

            moto.create_bucket("lamina")
            moto.create_bucket("cncf")
            la, lb = start("lamina", "la", "lamina"), start("lamina", "lb", "lamina")
            lp = start("lamina", "lp", "lamina", redirect={"disable": True})
            ca, cb = start("cncf", "ca", "cncf"), start("cncf", "cb", "cncf")
            cp = start("cncf", "cp", "cncf", redirect={"disable": True})
            layout = os.path.join(base, "image")
            make_layout(layout, args.image_mb)
            print(f"lamina and Distribution on one moto S3 server; image {args.image_mb} MB in 4 layers", flush=True)

            counter = iter(range(1000))
            compare(
                f"skopeo push {args.image_mb} MB",
                args.runs,
                lambda: skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{la.host}/bench/push{next(counter)}:v1"),
                lambda: skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{ca.host}/bench/push{next(counter)}:v1"),
                "distribution",
            )
            skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{la.host}/bench/img:v1")
            skopeo("copy", "--dest-tls-verify=false", f"oci:{layout}:v1", f"docker://{ca.host}/bench/img:v1")

            def pull(host: str) -> None:
                dest = os.path.join(base, f"pull-{next(counter)}")
                skopeo("copy", "--src-tls-verify=false", f"docker://{host}/bench/img:v1", f"oci:{dest}:v1")
                shutil.rmtree(dest)

            compare(f"skopeo pull {args.image_mb} MB (redirects)", args.runs, lambda: pull(lb.host), lambda: pull(cb.host), "distribution")

            def first_layer(host: str) -> dict:
                # skopeo compresses the tar layers on the way: ask the registry what it stored
                accept = f"{OCI_MANIFEST}, application/vnd.docker.distribution.manifest.v2+json"
                status, _, body = fetch(f"http://{host}", "/v2/bench/img/manifests/v1", {"Accept": accept})
                return json.loads(body)["layers"][0]

            layer, their_layer = first_layer(la.host), first_layer(ca.host)
            blob_path, their_blob_path = f"/v2/bench/img/blobs/{layer['digest']}", f"/v2/bench/img/blobs/{their_layer['digest']}"
            size_mb = layer["size"] / (1 << 20)
            # a 40 MB answer at 16 connections outlasts wrk's default 2 s timeout: allow 60 s
            ours, theirs = wrk(f"{lp.url}{blob_path}", args.seconds, timeout=60), wrk(f"{cp.url}{their_blob_path}", args.seconds, timeout=60)
            print(f"blob GET proxied ({size_mb:.0f} MB, 16 conn)   lamina {ours['mbps']:8.1f} MB/s   distribution {theirs['mbps']:8.1f} MB/s   ratio {ours['mbps'] / theirs['mbps']:5.2f} (>1: lamina faster)  failed {ours['failed']}/{theirs['failed']}", flush=True)
            ours, theirs = wrk(f"{la.url}{blob_path}", args.seconds), wrk(f"{ca.url}{their_blob_path}", args.seconds)
            print(f"blob GET redirect answers (16 conn)    lamina {ours['rps']:8.0f} req/s  distribution {theirs['rps']:8.0f} req/s  ratio {ours['rps'] / theirs['rps']:5.2f} (>1: lamina faster)", flush=True)
            ours_mb = redirected_throughput(la.host, "bench/img", layer["digest"], args.seconds)
            theirs_mb = redirected_throughput(ca.host, "bench/img", their_layer["digest"], args.seconds)
            print(f"blob GET redirected, end to end        lamina {ours_mb:8.1f} MB/s   distribution {theirs_mb:8.1f} MB/s   ratio {ours_mb / theirs_mb:5.2f} (the bucket serves the bytes)", flush=True)

            rss_rows: list = []
            results = {}
            for label, pair in (("lamina", (la, lb)), ("distribution", (ca, cb))):
                results[label] = mixed_load([r.host for r in pair], [r.proc.pid for r in pair], args.mixed_seconds, label, rss_rows)
            o, t = results["lamina"], results["distribution"]
            print(f"mixed load, 16 clients, 2 instances, {args.mixed_seconds}s   lamina {o['ops_per_s']:7.1f} ops/s   distribution {t['ops_per_s']:7.1f} ops/s   ratio {o['ops_per_s'] / t['ops_per_s']:5.2f}")
            for label, r in results.items():
                print(f"  {label:<13} ops {r['ops']} (push {r['push']}, pull {r['pull']}), errors {r['errors']}; RSS MB per instance: start {r['rss_first']}, after 30 s {r['rss_after_warmup']}, end {r['rss_last']}, max {r['rss_max']}")
                for why in r["errors_seen"]:
                    print(f"    error: {why}")
            print(f"RSS over time: {write_rss_csv('registry_scale_rss.csv', rss_rows)}")
    finally:
        for reg in procs:
            reg.stop()
        shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
