"""The implicit pull of ``run``, ``create`` and ``build`` (seed 002 "Pulling Images", seed 004
"Downloading images"), against ``lamina registry serve``, the CNCF registry, and a registry
mirror for docker.io names: docker's "Unable to find image" and pull lines on stderr (stdout
stays the container's), ``--pull always|missing|never``, and a build's FROM."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(params=["lamina", "cncf"])
def remote(request):
    """Each test once against lamina's registry and once against the CNCF one."""
    return request.getfixturevalue("registry" if request.param == "lamina" else "cncf")


@pytest.fixture
def source(lamina, tmp_path):
    """A data root that only imports and pushes; ``lamina`` (empty) is where images get pulled."""
    return type(lamina)(str(tmp_path / "source-root"))


def publish(source, busybox_tar: str, ref: str, *changes: str) -> str:
    """busybox imported as ``ref`` (with Dockerfile-style ``changes``) and pushed; its image ID."""
    flags = [arg for change in changes for arg in ("-c", change)]
    source.run("import", "-c", 'CMD ["sh"]', *flags, busybox_tar, ref)
    source.run("push", ref)
    return source.run("inspect", "-f", "{{.Id}}", ref).out.strip()


def test_run_and_create_pull_a_missing_image(lamina, source, busybox_tar, remote):
    ref = f"{remote.host}/x/bb:v1"
    first = publish(source, busybox_tar, ref, "ENV V=1")
    ran = lamina.run("run", "--rm", ref, "sh", "-c", "echo hi $V")
    assert ran.out == "hi 1\n"
    err = ran.err.splitlines()
    assert err[:2] == [f"Unable to find image '{ref}' locally", "v1: Pulling from x/bb"]
    assert err[-2].startswith("Digest: sha256:") and err[-1] == f"Status: Downloaded newer image for {ref}"
    assert any(line.endswith(": Pull complete") for line in err)
    assert lamina.run("inspect", "-f", "{{.Id}}", ref).out.strip() == first
    # present now: no pull, nothing on stderr
    again = lamina.run("run", "--rm", "--network", "none", ref, "echo", "again")
    assert (again.out, again.err) == ("again\n", "")

    # --pull never: docker's error for a missing image, exit 125, no pull attempted
    never = lamina.run("run", "--rm", "--pull", "never", f"{remote.host}/x/bb:v2", "true", check=False)
    assert (never.returncode, never.err) == (125, f"Error: No such image: {remote.host}/x/bb:v2\n")
    # a pull that fails: the "Unable to find" line, then one error line; exit 1 from create
    # (docker's create reports the daemon's errors with 1, its run with 125)
    failed = lamina.run("create", f"{remote.host}/x/bb:v2", check=False)
    lines = failed.err.splitlines()
    assert failed.returncode == 1 and failed.out == "", failed.err
    assert len(lines) == 2 and lines[0] == f"Unable to find image '{remote.host}/x/bb:v2' locally"
    assert lines[1].startswith("Error: ") and "not found" in lines[1]
    bad = lamina.run("create", "--pull", "sometimes", ref, check=False)
    assert (bad.returncode, bad.err) == (125, "Error: invalid pull option: 'sometimes': must be one of \"always\", \"missing\" or \"never\"\n")

    # the tag moves on the registry: --pull always fetches it (its layer is held already)
    second = publish(source, busybox_tar, ref, "ENV V=2")
    assert second != first
    assert lamina.run("run", "--rm", "--network", "none", ref, "sh", "-c", "echo $V").out == "1\n"
    always = lamina.run("run", "--rm", "--network", "none", "--pull", "always", ref, "sh", "-c", "echo $V")
    assert always.out == "2\n"
    err = always.err.splitlines()
    assert err[0] == "v1: Pulling from x/bb" and err[1].endswith(": Already exists")
    assert err[-1] == f"Status: Downloaded newer image for {ref}"
    up_to_date = lamina.run("create", "--pull", "always", ref)
    assert up_to_date.err.splitlines()[-1] == f"Status: Image is up to date for {ref}"
    assert len(up_to_date.out.strip()) == 64  # stdout: the container ID only
    # -q: no pull output at all, even for a pull
    lamina.run("rmi", "-f", ref)
    quiet = lamina.run("create", "-q", ref)
    assert quiet.err == "" and len(quiet.out.strip()) == 64
    lamina.run("container", "prune", "-f")
    assert lamina.run("system", "check").returncode == 0


def test_run_pulls_docker_io_names_from_the_mirror(lamina, source, busybox_tar, registry, tmp_path):
    publish(source, busybox_tar, f"{registry.host}/library/busybox:latest")
    config = tmp_path / "daemon.json"
    config.write_text(json.dumps({"registry-mirrors": [f"http://{registry.host}"]}))
    env = {**os.environ, "LAMINA_DAEMON_CONFIG": str(config)}
    proc = subprocess.run(lamina.argv("run", "--rm", "busybox", "echo", "hi"), env=env, capture_output=True, timeout=300)
    err = proc.stderr.decode()
    assert proc.returncode == 0 and proc.stdout == b"hi\n", err
    lines = err.splitlines()
    assert lines[:2] == ["Unable to find image 'busybox:latest' locally", "latest: Pulling from library/busybox"]
    assert lines[-1] == "Status: Downloaded newer image for busybox:latest"
    assert lamina.run("images", "--format", "{{.Repository}}:{{.Tag}}").out == "busybox:latest\n"


def test_build_pulls_a_missing_from_and_honours_pull(lamina, source, busybox_tar, remote, tmp_path):
    ref = f"{remote.host}/x/base:v1"
    first = publish(source, busybox_tar, ref, "ENV V=1")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(f"FROM {ref}\nLABEL built=yes\n")
    built = lamina.run("build", "-t", "app:1", str(context))
    lines = built.out.splitlines()
    start = lines.index(f"Step 1/2 : FROM {ref}")
    assert lines[start + 1] == "v1: Pulling from x/base"
    status = lines.index(f"Status: Downloaded newer image for {ref}")
    assert lines[status - 1].startswith("Digest: sha256:") and lines[status + 1] == f" ---> {first[7:19]}"
    assert lamina.run("inspect", "-f", "{{.Id}}", ref).out.strip() == first

    # the remote tag moves: a plain build keeps the held base, --pull takes the new one
    second = publish(source, busybox_tar, ref, "ENV V=2")
    kept = lamina.run("build", "-t", "app:2", str(context)).out
    assert "Pulling from" not in kept
    assert lamina.run("inspect", "-f", "{{json .Config.Env}}", "app:2").out.count("V=1") == 1
    pulled = lamina.run("build", "--pull", "-t", "app:3", str(context)).out
    assert "v1: Pulling from x/base" in pulled and f"Status: Downloaded newer image for {ref}" in pulled
    assert f" ---> {second[7:19]}" in pulled
    assert lamina.run("inspect", "-f", "{{json .Config.Env}}", "app:3").out.count("V=2") == 1
    again = lamina.run("build", "--pull", "-t", "app:3", str(context)).out
    assert f"Status: Image is up to date for {ref}" in again
