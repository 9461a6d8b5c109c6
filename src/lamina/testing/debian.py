"""A Debian root filesystem made here with debootstrap, for tests and benchmarks that need a
real distribution (``apt-get install`` in a RUN step, a compiler, perl, node).

Docker Hub is out of reach from where lamina is tested, Debian's mirror is not: the mirror is
the one this host's apt uses (``/etc/apt/sources.list`` and ``sources.list.d``, one-line or
deb822 form). ``debootstrap --variant=minbase`` takes about a minute here, so the tarball is
kept under a stable cache directory (``/var/cache/lamina-test``, or ``$LAMINA_TEST_CACHE``)
and made once; a lock keeps concurrent test sessions from making it twice.
"""

from __future__ import annotations

import fcntl
import glob
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request

__all__ = ["CACHE_DIR", "DEFAULT_MIRROR", "apt_mirror", "mirror_unreachable", "debootstrap_tar"]

DEFAULT_MIRROR = "http://deb.debian.org/debian"
CACHE_DIR = os.environ.get("LAMINA_TEST_CACHE") or "/var/cache/lamina-test"


def apt_mirror(suite: str = "bookworm", etc: str = "/etc/apt") -> str:
    """The first Debian archive this host's apt fetches ``suite`` from (not -security or
    -updates, which debootstrap cannot start from); Debian's CDN when none is configured."""
    files = [os.path.join(etc, "sources.list")]
    files += sorted(glob.glob(os.path.join(etc, "sources.list.d", "*.list")))
    files += sorted(glob.glob(os.path.join(etc, "sources.list.d", "*.sources")))
    for path in files:
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                text = f.read()
        except OSError:
            continue
        found = _deb822_mirror(text, suite) if path.endswith(".sources") else _one_line_mirror(text, suite)
        if found:
            return found.rstrip("/")
    return DEFAULT_MIRROR


def _one_line_mirror(text: str, suite: str) -> str | None:
    for line in text.splitlines():
        words = [w for w in line.split() if not w.startswith("[")]  # drop [arch=… signed-by=…]
        if len(words) >= 3 and words[0] == "deb" and words[2] == suite:
            return words[1]
    return None


def _deb822_mirror(text: str, suite: str) -> str | None:
    for stanza in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in stanza.splitlines():
            if line.startswith("#") or ":" not in line or line[:1].isspace():
                continue
            key, _, value = line.partition(":")
            fields[key.strip().lower()] = value.strip()
        if fields.get("enabled", "yes").lower() == "no" or "deb" not in fields.get("types", "").split():
            continue
        if suite in fields.get("suites", "").split() and fields.get("uris"):
            return fields["uris"].split()[0]
    return None


def mirror_unreachable(mirror: str, suite: str = "bookworm", timeout: float = 5.0) -> str | None:
    """None when the mirror answers a HEAD for the suite's InRelease (what apt asks first),
    else why not, in words for a skip reason."""
    url = f"{mirror}/dists/{suite}/InRelease"
    request = urllib.request.Request(url, method="HEAD")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as resp:  # noqa: S310 - the host's own apt mirror
            if resp.status == 200:
                return None
            return f"{url} answered HTTP {resp.status}"
    except urllib.error.HTTPError as exc:
        return f"{url} answered HTTP {exc.code}"
    except (OSError, ValueError) as exc:
        return f"{url} is unreachable ({exc})"


def debootstrap_tar(path: str | None = None, suite: str = "bookworm", mirror: str | None = None) -> str:
    """A tar of ``debootstrap --variant=minbase <suite>`` (numeric owners), made once at
    ``path`` (default ``<cache>/debian-<suite>-minbase.tar``) and reused after; raises
    RuntimeError when debootstrap is missing or fails."""
    path = path or os.path.join(CACHE_DIR, f"debian-{suite}-minbase.tar")
    if os.path.exists(path):
        return path
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path + ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another session may be making it right now
        if os.path.exists(path):
            return path
        if shutil.which("debootstrap") is None:
            raise RuntimeError("debootstrap is not installed (apt-get install debootstrap)")
        work = tempfile.mkdtemp(prefix="debootstrap-", dir=os.path.dirname(path))
        try:
            root = os.path.join(work, "root")
            proc = subprocess.run(
                ["debootstrap", "--variant=minbase", suite, root, mirror or apt_mirror(suite)],
                capture_output=True,
                text=True,
            )
            if proc.returncode != 0:
                tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
                raise RuntimeError(f"debootstrap failed: {' / '.join(tail)}")
            tmp = os.path.join(work, "rootfs.tar")
            subprocess.run(["tar", "--numeric-owner", "-C", root, "-cf", tmp, "."], check=True, capture_output=True)
            os.replace(tmp, path)
        finally:
            shutil.rmtree(work, ignore_errors=True)
    return path
