"""Build root-filesystem tarballs: a busybox one (a few MB) and synthetic trees of any size."""

from __future__ import annotations

import io
import os
import random
import shutil
import subprocess
import tarfile
from typing import BinaryIO

BUSYBOX = "/bin/busybox"

_DIRS = ["bin", "dev", "etc", "home", "proc", "root", "sys", "tmp", "usr", "usr/bin", "usr/sbin", "sbin", "var", "var/log"]
_PASSWD = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
_GROUP = "root:x:0:\nnogroup:x:65534:\n"


def busybox_path() -> str | None:
    path = shutil.which("busybox") or (BUSYBOX if os.path.exists(BUSYBOX) else None)
    return path


def _applets(busybox: str) -> list[str]:
    out = subprocess.run([busybox, "--list-full"], capture_output=True, text=True, check=True)
    return [line.strip() for line in out.stdout.splitlines() if line.strip()]


def write_busybox_rootfs(out: BinaryIO, mtime: int = 1_700_000_000) -> None:
    """A minimal Linux root fs: busybox with its applet symlinks, /etc/passwd and /etc/group."""
    busybox = busybox_path()
    if busybox is None:
        raise FileNotFoundError("busybox is not installed (apt-get install busybox-static)")
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        def add_dir(name: str, mode: int = 0o755) -> None:
            info = tarfile.TarInfo(name)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, mode, mtime
            tar.addfile(info)

        def add_file(name: str, data: bytes, mode: int = 0o644) -> None:
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), mode, mtime
            tar.addfile(info, io.BytesIO(data))

        for d in _DIRS:
            add_dir(d, 0o1777 if d == "tmp" else 0o755)
        with open(busybox, "rb") as f:
            add_file("bin/busybox", f.read(), 0o755)
        for applet in _applets(busybox):
            if applet in ("bin/busybox", "usr/bin/busybox"):
                continue
            info = tarfile.TarInfo(applet)
            info.type, info.mtime = tarfile.SYMTYPE, mtime
            info.linkname = "/bin/busybox"
            info.mode = 0o777
            tar.addfile(info)
        add_file("etc/passwd", _PASSWD.encode())
        add_file("etc/group", _GROUP.encode())
        add_file("etc/hostname", b"lamina\n")


def busybox_rootfs_bytes() -> bytes:
    buf = io.BytesIO()
    write_busybox_rootfs(buf)
    return buf.getvalue()


def write_synthetic_rootfs(out: BinaryIO, total_bytes: int, files: int = 10_000, seed: int = 7) -> None:
    """A tree like a distribution's: many small files, a few large ones, text-like content
    (compresses about 3:1, as binaries and docs do), symlinks and hard links."""
    rng = random.Random(seed)
    words = [bytes(rng.choice(b"abcdefghijklmnopqrstuvwxyz") for _ in range(rng.randint(2, 9))) for _ in range(4096)]
    large_budget = total_bytes // 2
    small_each = max(1, (total_bytes - large_budget) // files)

    def content(size: int) -> bytes:
        chunks, n = [], 0
        while n < size:
            block = b" ".join(rng.choice(words) for _ in range(64)) + b"\n"
            raw = bytes(rng.getrandbits(8) for _ in range(len(block) // 3))
            piece = block[: len(block) - len(raw)] + raw
            chunks.append(piece)
            n += len(piece)
        return b"".join(chunks)[:size]

    # Reuse a pool of generated blocks so building 150 MB does not take minutes in Python.
    pool = content(1 << 20)
    with tarfile.open(fileobj=out, mode="w|", format=tarfile.PAX_FORMAT) as tar:
        dirs = [f"usr/share/d{i:03d}" for i in range(200)]
        for d in ["usr", "usr/share", "usr/lib", "etc"] + dirs:
            info = tarfile.TarInfo(d)
            info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, 1_700_000_000
            tar.addfile(info)
        for i in range(files):
            size = max(0, int(rng.expovariate(1 / small_each)))
            name = f"{rng.choice(dirs)}/f{i:05d}"
            start = rng.randrange(0, len(pool))
            data = (pool[start:] + pool)[:size]
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(data), 0o644, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
            if i % 500 == 0:
                link = tarfile.TarInfo(f"{name}.lnk")
                link.type, link.linkname, link.mtime = tarfile.SYMTYPE, os.path.basename(name), 1_700_000_000
                tar.addfile(link)
        remaining = large_budget
        n = 0
        while remaining > 0:
            size = min(remaining, 16 << 20)
            data = (pool * (size // len(pool) + 1))[:size]
            info = tarfile.TarInfo(f"usr/lib/big{n}.so")
            info.size, info.mode, info.mtime = size, 0o755, 1_700_000_000
            tar.addfile(info, io.BytesIO(data))
            remaining -= size
            n += 1
