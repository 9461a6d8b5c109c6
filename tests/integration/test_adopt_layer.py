"""A build step's upper directory moved into its layer (``Store.adopt_layer``) gives the layer
that extracting its tar gives (``Store.create_layer``): the same DiffID, tar-split, size and
files on disk (modes, owners, whole-second times, xattrs, links, whiteouts, opaque marks).
Root: 0:0 character devices and ``trusted.*`` xattrs."""

from __future__ import annotations

import hashlib
import io
import os
import socket
import stat

import pytest

from lamina.archive.tarsplit import assemble
from lamina.image.commit import UpperDirLayer
from lamina.store.layerdb import TAR_SPLIT
from lamina.store.store import Store

# an mtime with a sub-second part: extraction keeps whole seconds, so adoption must too
T = 1_700_000_000_123_456_789


def _upper(path: str) -> None:
    """An overlay upper directory as a RUN step leaves one, with overlay's own bookkeeping."""
    os.makedirs(path)
    os.setxattr(path, "trusted.overlay.impure", b"y")
    os.makedirs(os.path.join(path, "etc/app"))
    with open(os.path.join(path, "etc/app/conf"), "w") as f:
        f.write("key=value\n")
    os.setxattr(os.path.join(path, "etc/app/conf"), "user.note", b"kept")
    os.setxattr(os.path.join(path, "etc/app/conf"), "trusted.overlay.origin", b"\x00\xfb\x21")
    os.link(os.path.join(path, "etc/app/conf"), os.path.join(path, "etc/app/conf.hard"))
    os.symlink("app/conf", os.path.join(path, "etc/link"))
    with open(os.path.join(path, "etc/suid"), "wb") as f:
        f.write(b"\x7fELF" + bytes(5000))
    os.chown(os.path.join(path, "etc/suid"), 1000, 1001)
    os.chmod(os.path.join(path, "etc/suid"), 0o4755)
    os.mkfifo(os.path.join(path, "etc/fifo"), 0o640)
    os.mknod(os.path.join(path, "etc/gone"), stat.S_IFCHR, os.makedev(0, 0))  # a whiteout
    os.makedirs(os.path.join(path, "var/opaque"))
    os.setxattr(os.path.join(path, "var/opaque"), "trusted.overlay.opaque", b"y")
    with open(os.path.join(path, "var/opaque/new"), "w") as f:
        f.write("new\n")
    sock = socket.socket(socket.AF_UNIX)
    sock.bind(os.path.join(path, "var/sock"))  # a tar cannot hold it: docker leaves it out
    sock.close()
    os.chmod(os.path.join(path, "var"), 0o750)
    for dirpath, dirnames, filenames in sorted(os.walk(path), reverse=True):
        for name in filenames + dirnames:
            os.utime(os.path.join(dirpath, name), ns=(T, T), follow_symlinks=False)
    for dirpath, _, _ in sorted(os.walk(path), reverse=True):
        os.utime(dirpath, ns=(T, T))


def _tree(root: str) -> dict[str, tuple]:
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            whiteout = stat.S_ISCHR(st.st_mode) and st.st_rdev == 0
            xattrs = {} if stat.S_ISLNK(st.st_mode) else {
                k: os.getxattr(path, k) for k in sorted(os.listxattr(path, follow_symlinks=False))
            }
            data = b""
            if stat.S_ISREG(st.st_mode):
                with open(path, "rb") as f:
                    data = hashlib.sha256(f.read()).digest()
            elif stat.S_ISLNK(st.st_mode):
                data = os.readlink(path).encode()
            # a whiteout's times are the moment it was made, on either path
            times = None if whiteout else st.st_mtime_ns  # (reading files here moves their atime)
            out[os.path.relpath(path, root)] = (st.st_mode, st.st_uid, st.st_gid, st.st_rdev, st.st_size,
                                                st.st_nlink, times, xattrs, data)
    return out


def test_adopted_upper_is_the_extracted_layer(tmp_path):
    extracted_store = Store(str(tmp_path / "a"), driver="overlay2")
    adopted_store = Store(str(tmp_path / "b"), driver="overlay2")
    if extracted_store.driver.whiteouts != "overlay":
        pytest.skip("overlay2 is not available here")
    first, second = str(tmp_path / "upper1"), str(tmp_path / "b" / "upper2")
    _upper(first)
    _upper(second)
    with extracted_store.lease() as lease, UpperDirLayer(first).open() as stream:
        want = extracted_store.create_layer(lease, None, stream)
    with adopted_store.lease() as lease:
        got = adopted_store.adopt_layer(lease, None, second)
    assert not os.path.exists(second)  # moved, not copied
    assert (got.diff_id, got.size) == (want.diff_id, want.size)
    with open(extracted_store.layers.tar_split_path(want.chain_id), "rb") as f:
        want_split = f.read()
    with open(adopted_store.layers.tar_split_path(got.chain_id), "rb") as f:
        assert f.read() == want_split
    want_dir = extracted_store.driver.diff_dir(want.cache_id)
    got_dir = adopted_store.driver.diff_dir(got.cache_id)
    assert _tree(got_dir) == _tree(want_dir)
    assert "var/sock" not in _tree(got_dir)
    assert os.getxattr(os.path.join(got_dir, "var/opaque"), "trusted.overlay.opaque") == b"y"
    root_want, root_got = os.stat(want_dir), os.stat(got_dir)
    assert (root_got.st_mode, root_got.st_uid, root_got.st_gid) == (root_want.st_mode, root_want.st_uid, root_want.st_gid)
    assert os.listxattr(got_dir) == os.listxattr(want_dir)
    # the stored layer reassembles to the tar its DiffID names (save, push)
    out = io.BytesIO()
    with open(os.path.join(adopted_store.paths.layer(got.chain_id), TAR_SPLIT), "rb") as split:
        assemble(split, got_dir, out)
    assert "sha256:" + hashlib.sha256(out.getvalue()).hexdigest() == str(got.diff_id)


def test_failed_adoption_gives_the_directory_back(tmp_path, monkeypatch):
    store = Store(str(tmp_path / "root"), driver="overlay2")
    upper = str(tmp_path / "root" / "upper")
    _upper(upper)
    before = _tree(upper)
    from lamina.archive import adopt

    def broken(directory, record):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(adopt, "adopt_upper", broken)
    with store.lease() as lease, pytest.raises(OSError):
        store.adopt_layer(lease, None, upper)
    assert _tree(upper) == before
    assert store.layers.list() == []
    assert [d for d in os.listdir(store.driver.home) if d != "l"] == []
