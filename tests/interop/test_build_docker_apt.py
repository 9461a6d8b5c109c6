"""The seeds' apt-based Dockerfiles (seed 004's figlet and cowsay) built by docker's classic
builder and by lamina on the same Debian base: same files, same config, same history.

The base is ``lamina.testing.debian``'s debootstrap tree (Docker Hub is out of reach here),
imported into lamina and loaded into a private dockerd from lamina's ``save``, so both builders
start from the same image ID. RUN steps use the host's network in both (``--network host``;
lamina's default), so ``apt-get`` reaches the Debian mirror this host's apt uses; without it
the tests skip, saying so. Both images are exported through dockerd (``create`` + ``export``:
the merged filesystem as docker sees it) and compared entry by entry: type, mode, owner and
content (sha256, or the link target). Times are not compared (every build has its own).

What legitimately differs between two runs of the same ``apt-get`` is listed in
``RUN_SPECIFIC``: those paths must exist in both images with the same type, mode and owner,
only their content is not compared. Nothing else is excluded: apt's package lists are compared
too (both builds fetch them within minutes of each other; a mirror update in between would show
here as different lists and packages, which is a real difference between the two images).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess

import pytest
from tests.conftest import LaminaCLI, _clear_network, _unmount_below

from lamina.testing.debian import apt_mirror, debootstrap_tar, mirror_unreachable

pytestmark = pytest.mark.timeout(1800)

DEBIAN = "debian:bookworm"

# seed 004's Dockerfiles, as the seeds leave them, on the local Debian base
FIGLET = f"""FROM {DEBIAN}
RUN apt-get update
RUN apt-get install -y figlet
ENTRYPOINT ["figlet", "-f", "script"]
CMD ["hello"]
"""

COWSAY = f"""FROM {DEBIAN}
RUN apt-get update
RUN apt-get install -y cowsay
RUN ln -s /usr/games/cowsay /usr/bin/cowsay
ENTRYPOINT ["cowsay"]
CMD ["hello"]
"""

#: content that records when (or on which inodes) a step ran, not what it installed
RUN_SPECIFIC = {
    # "Start-Date: 2026-…" lines, and dpkg's own timestamped log
    "var/log/apt/history.log": "apt's log of the run, with its start and end times",
    "var/log/apt/term.log": "apt's terminal log, with its start and end times",
    "var/log/dpkg.log": "dpkg's log, every line timestamped",
    "var/log/alternatives.log": "update-alternatives' log, every line timestamped",
    # apt's binary caches record the mtimes of the lists they were built from
    "var/cache/apt/pkgcache.bin": "apt's binary cache: holds the index files' mtimes",
    "var/cache/apt/srcpkgcache.bin": "apt's binary cache: holds the index files' mtimes",
    # ldconfig's auxiliary cache is keyed by inode and ctime of each library
    "var/cache/ldconfig/aux-cache": "keyed by each library's inode number and ctime",
}


@pytest.fixture(scope="module")
def lamina(dockerd, tmp_path_factory):
    """A lamina data root and the private dockerd, both with the same ``debian:bookworm``."""
    mirror = apt_mirror()
    reason = mirror_unreachable(mirror)
    if reason:
        pytest.skip(f"the Debian mirror ({mirror}) is unreachable, so apt cannot run in a build: {reason}")
    if shutil.which("debootstrap") is None:
        pytest.skip("debootstrap is not installed (apt-get install debootstrap)")
    base = tmp_path_factory.mktemp("apt-interop")
    root = str(base / "lamina")
    cli = LaminaCLI(root)
    cli.run("image", "import", debootstrap_tar(mirror=mirror), DEBIAN)
    saved = base / "debian.tar"
    cli.run("save", "-o", str(saved), DEBIAN)
    dockerd.docker("load", "-i", str(saved))
    yield cli
    dockerd.docker("rmi", "-f", "figlet:docker", "figlet:lamina", "cowsay:docker", "cowsay:lamina", DEBIAN,
                   check=False)
    _clear_network(root)
    _unmount_below(root)
    shutil.rmtree(root, ignore_errors=True)


def _build_both(dockerd, lamina, tmp_path, name: str, dockerfile: str) -> None:
    ctx = tmp_path / name
    ctx.mkdir()
    (ctx / "Dockerfile").write_text(dockerfile)
    env = dict(dockerd.env(), DOCKER_BUILDKIT="0")
    proc = subprocess.run(["docker", "build", "--network", "host", "-t", f"{name}:docker", str(ctx)],
                          env=env, capture_output=True, timeout=1200)
    assert proc.returncode == 0, proc.stderr.decode(errors="replace")
    lamina.run("build", "-t", f"{name}:lamina", str(ctx))
    ours = tmp_path / f"{name}-lamina.tar"
    lamina.run("save", "-o", str(ours), f"{name}:lamina")
    dockerd.docker("load", "-i", str(ours))


def _same_files(dockerd, name: str) -> None:
    theirs = dockerd.exported_files(f"{name}:docker")
    ours = dockerd.exported_files(f"{name}:lamina")
    assert {"only in lamina's": sorted(set(ours) - set(theirs)), "only in docker's": sorted(set(theirs) - set(ours))} == {
        "only in lamina's": [], "only in docker's": []}
    for path in RUN_SPECIFIC:
        if path in theirs:  # same kind of entry, owner and mode; the content is the run's own
            assert ours[path][:4] == theirs[path][:4], path
            del ours[path], theirs[path]
    differing = {p: (ours[p], theirs[p]) for p in theirs if ours[p] != theirs[p]}
    assert differing == {}


def _same_config(dockerd, name: str) -> None:
    def inspect(tag):
        doc = json.loads(dockerd.docker("image", "inspect", tag).stdout)[0]
        doc["Config"].pop("Image")  # the step image's ID: each builder's own
        doc["Config"].pop("Hostname", None)  # the last step container's ID
        return doc

    theirs, mine = inspect(f"{name}:docker"), inspect(f"{name}:lamina")
    # Cmd, Entrypoint, Env, WorkingDir, User, ExposedPorts, Volumes, Labels, StopSignal, …
    assert mine["Config"] == theirs["Config"]
    for key in ("Author", "Architecture", "Os"):
        assert mine[key] == theirs[key], key
    assert len(mine["RootFS"]["Layers"]) == len(theirs["RootFS"]["Layers"])
    assert mine["RootFS"]["Layers"][0] == theirs["RootFS"]["Layers"][0]  # the same base

    def created_by(tag):
        rows = dockerd.docker("history", "--no-trunc", "--format", "{{.CreatedBy}}", tag).stdout.decode().splitlines()
        return [re.sub(r"(file|dir|multi):[0-9a-f]{64}", r"\1:<sum>", row) for row in rows]

    assert created_by(f"{name}:lamina") == created_by(f"{name}:docker")


@pytest.mark.parametrize(("name", "dockerfile"), [("figlet", FIGLET), ("cowsay", COWSAY)])
def test_apt_seed_images_agree_with_docker(dockerd, lamina, tmp_path, name, dockerfile):
    _build_both(dockerd, lamina, tmp_path, name, dockerfile)
    _same_files(dockerd, name)
    _same_config(dockerd, name)
    # and the image lamina built runs in docker as the seed says
    out = dockerd.docker("run", "--rm", "--network", "none", f"{name}:lamina").stdout.decode()
    assert ("< hello >" in out) if name == "cowsay" else ("|__/" in out)

