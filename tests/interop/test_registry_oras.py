"""ORAS (the OCI artifacts client, oras-py) against lamina's registry: artifact push and pull,
chunked uploads, and a referrer pushed with a ``subject`` found through the referrers API."""

from __future__ import annotations

import os

import httpx
import pytest

from lamina.testing.registries import RegistryProcess

oras_client = pytest.importorskip("oras.client", reason="oras-py is not installed (pip install oras)")
oras_oci = pytest.importorskip("oras.oci")

pytestmark = pytest.mark.timeout(300)


@pytest.fixture
def registry(tmp_path):
    with RegistryProcess(str(tmp_path / "reg")) as reg:
        yield reg


def test_oras_push_pull_chunked_and_referrers(registry, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # oras-py names layers by the paths it is given
    with open("notes.txt", "w") as f:
        f.write("release notes\n")
    payload = os.urandom(3 << 20)
    with open("model.bin", "wb") as f:
        f.write(payload)
    client = oras_client.OrasClient(hostname=registry.host, insecure=True)
    repo = f"{registry.host}/artifacts/demo"

    first = client.push(target=f"{repo}:v1", files=["notes.txt"], quiet=True)
    assert first.status_code == 201
    subject_digest = first.headers["Docker-Content-Digest"]

    chunked = client.push(target=f"{repo}:model", files=["model.bin"], do_chunked=True, chunk_size=1 << 20, quiet=True)
    assert chunked.status_code == 201
    pulled = client.pull(target=f"{repo}:model", outdir=str(tmp_path / "out"))
    assert [os.path.basename(p) for p in pulled] == ["model.bin"]
    with open(pulled[0], "rb") as f:
        assert f.read() == payload

    head = httpx.head(f"{registry.url}/v2/artifacts/demo/manifests/{subject_digest}",
                      headers={"Accept": "application/vnd.oci.image.manifest.v1+json"})
    subject = oras_oci.Subject(head.headers["Content-Type"], subject_digest, int(head.headers["Content-Length"]))
    signed = client.push(target=f"{repo}:sig", files=["notes.txt"], subject=subject, quiet=True)
    assert signed.status_code == 201 and signed.headers["OCI-Subject"] == subject_digest
    referrers = httpx.get(f"{registry.url}/v2/artifacts/demo/referrers/{subject_digest}").json()
    assert referrers["mediaType"] == "application/vnd.oci.image.index.v1+json"
    assert [m["digest"] for m in referrers["manifests"]] == [signed.headers["Docker-Content-Digest"]]
    assert client.get_tags(repo) == ["model", "sig", "v1"]
