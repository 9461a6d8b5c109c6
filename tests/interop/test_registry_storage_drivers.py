"""One storage-driver test suite, run against every driver: the filesystem and S3 (moto's server).

The registry talks to storage only through ``StorageDriver``; whatever a driver is, these are
the semantics the registry relies on.
"""

from __future__ import annotations

import hashlib
import os
import time
import urllib.request

import pytest

from lamina.registry.server.storage import FilesystemDriver, PathNotFound

_buckets = iter(range(10_000))


@pytest.fixture(params=["filesystem", "s3"])
def driver(request, tmp_path):
    if request.param == "filesystem":
        return FilesystemDriver(str(tmp_path / "fs"))
    from lamina.registry.server.storage.s3 import S3Driver

    moto = request.getfixturevalue("moto")
    bucket = moto.create_bucket(f"drivers-{next(_buckets)}")
    return S3Driver(moto.storage_section(bucket, rootdirectory="/some/root", chunksize=5 << 20))


def test_content_round_trip_and_missing(driver):
    driver.put_content("/a/b/file", b"one")
    assert driver.get_content("/a/b/file") == b"one"
    driver.put_content("/a/b/file", b"two")  # replaced whole
    assert driver.get_content("/a/b/file") == b"two"
    with pytest.raises(PathNotFound):
        driver.get_content("/a/b/nope")
    with pytest.raises(PathNotFound):
        driver.stat("/nope")


def test_list_stat_walk(driver):
    for path in ("/r/x/1", "/r/x/2", "/r/y/deep/3", "/r/z"):
        driver.put_content(path, path.encode())
    assert driver.list("/r") == ["/r/x", "/r/y", "/r/z"]
    assert driver.list("/r/x") == ["/r/x/1", "/r/x/2"]
    assert driver.stat("/r/y").is_dir and not driver.stat("/r/z").is_dir
    assert driver.stat("/r/z").size == 4
    assert sorted(info.path for info in driver.walk("/r")) == ["/r/x/1", "/r/x/2", "/r/y/deep/3", "/r/z"]
    with pytest.raises(PathNotFound):
        driver.list("/r/none")


def test_reader_offsets(driver):
    data = os.urandom(100_000)
    driver.put_content("/blob", data)
    with driver.reader("/blob") as f:
        assert f.read() == data
    with driver.reader("/blob", 99_990) as f:
        assert f.read() == data[99_990:]
    with driver.reader("/blob", 100_000) as f:
        assert f.read() == b""
    with pytest.raises(PathNotFound):
        driver.reader("/none")


def test_writer_resumes_in_a_new_writer_and_commits(driver):
    """Each PATCH of a chunked upload may be a new process: only storage carries the state."""
    pieces = [os.urandom(3 << 20), os.urandom(4 << 20), os.urandom(100), os.urandom(2 << 20)]
    w = driver.writer("/up/data")
    w.close()
    total = 0
    for piece in pieces:
        w = driver.writer("/up/data", append=True)
        assert w.size == total
        w.write(piece)
        total += len(piece)
        w.close()
    w = driver.writer("/up/data", append=True)
    assert w.size == total
    w.commit()
    w.close()
    data = b"".join(pieces)
    assert driver.stat("/up/data").size == len(data)
    with driver.reader("/up/data") as f:
        assert hashlib.sha256(f.read()).digest() == hashlib.sha256(data).digest()


def test_writer_cancel_leaves_nothing(driver):
    w = driver.writer("/c/data")
    w.write(os.urandom(6 << 20))
    w.close()
    w = driver.writer("/c/data", append=True)
    w.cancel()
    with pytest.raises(PathNotFound):
        driver.writer("/c/data", append=True)


def test_move_delete_touch(driver):
    driver.put_content("/m/src/data", b"payload")
    driver.move("/m/src/data", "/m/dst/data")
    assert driver.get_content("/m/dst/data") == b"payload"
    with pytest.raises(PathNotFound):
        driver.get_content("/m/src/data")
    before = driver.stat("/m/dst/data").mtime
    time.sleep(1.1)  # object stores keep whole seconds
    driver.touch("/m/dst/data")
    assert driver.stat("/m/dst/data").mtime > before
    assert driver.get_content("/m/dst/data") == b"payload"
    driver.put_content("/m/dst/other", b"x")
    driver.delete("/m")
    with pytest.raises(PathNotFound):
        driver.list("/m")
    with pytest.raises(PathNotFound):
        driver.delete("/m")
    with pytest.raises(PathNotFound):
        driver.touch("/m/dst/data")


def test_large_move_uses_multipart_copy(driver):
    data = os.urandom(12 << 20)
    driver.put_content("/big/a", data)
    if driver.name == "s3":
        driver.params.multipartcopythresholdsize = 1 << 20
        driver.params.multipartcopychunksize = 5 << 20
    driver.move("/big/a", "/big/b")
    with driver.reader("/big/b") as f:
        assert hashlib.sha256(f.read()).digest() == hashlib.sha256(data).digest()


def test_redirect_url_serves_the_object(driver):
    driver.put_content("/r/data", b"direct")
    url = driver.redirect_url("/r/data")
    if driver.name == "filesystem":
        assert url is None
        return
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == b"direct"
    request = urllib.request.Request(url, headers={"Range": "bytes=2-4"})
    with urllib.request.urlopen(request, timeout=10) as resp:
        assert resp.status == 206 and resp.read() == b"rec"


def test_health_check(driver):
    driver.health_check()


def test_s3_layout_is_distributions(moto):
    """rootdirectory + path, leading slash dropped: Distribution's s3Path."""
    from lamina.registry.server.storage.s3 import S3Driver

    bucket = moto.create_bucket("layout")
    S3Driver(moto.storage_section(bucket, rootdirectory="/reg/")).put_content("/docker/registry/v2/x", b"1")
    S3Driver(moto.storage_section(bucket)).put_content("/docker/registry/v2/y", b"2")
    keys = sorted(o["Key"] for o in moto.client().list_objects_v2(Bucket=bucket)["Contents"])
    assert keys == ["docker/registry/v2/y", "reg/docker/registry/v2/x"]


def test_s3_crash_between_part_and_pending_keeps_a_consistent_prefix(moto):
    """A process killed after uploading a part, before rewriting data.pending: the pending
    bytes it names are inside the part, so they are not counted twice."""
    from lamina.registry.server.storage.s3 import S3Driver

    driver = S3Driver(moto.storage_section(moto.create_bucket("crash"), chunksize=5 << 20))
    first = os.urandom(3 << 20)
    w = driver.writer("/u/data")
    w.write(first)
    w.close()  # pending: 3 MiB after 0 parts
    w = driver.writer("/u/data", append=True)
    second = os.urandom(3 << 20)
    w.write(second)  # fills a 5 MiB part; 1 MiB stays in memory — then the process dies
    del w
    w = driver.writer("/u/data", append=True)
    assert w.size == 5 << 20
    w.commit()
    with driver.reader("/u/data") as f:
        assert f.read() == (first + second)[: 5 << 20]


def test_touching_a_blob_renews_its_last_use_without_copying_it(driver):
    """On S3 a touch would be a server-side copy of the whole blob: a marker beside the data
    carries the time instead, inside the blob's directory (Distribution reads only ``data``)."""
    from lamina.digest import Digest
    from lamina.registry.server import paths
    from lamina.registry.server.registry import Registry

    registry = Registry(driver)
    data = os.urandom(1000)
    d = Digest.parse("sha256:" + hashlib.sha256(data).hexdigest())
    driver.put_content(paths.blob_data(d), data)
    before = registry.blob_last_used(d)
    time.sleep(1.1)
    registry.touch_blob(d)
    assert registry.blob_last_used(d) > before
    assert driver.get_content(paths.blob_data(d)) == data
    names = [p.rsplit("/", 1)[1] for p in driver.list(paths.blob_dir(d))]
    assert names == (["data", "lastused"] if driver.name == "s3" else ["data"])
    driver.delete(paths.blob_dir(d))
    assert registry.blob_last_used(d) == 0.0


def test_s3_encrypt_storageclass_and_signature_keys(moto):
    """``encrypt`` asks for server-side encryption on every object the driver writes (plain,
    multipart, copied), ``storageclass`` is sent with them, ``v4auth: false`` signs with
    Signature Version 2 (presigned redirects included)."""
    from lamina.registry.server.storage.s3 import S3Driver

    bucket = moto.create_bucket("encrypted")
    driver = S3Driver(moto.storage_section(bucket, encrypt=True, storageclass="REDUCED_REDUNDANCY", chunksize=5 << 20))
    driver.put_content("/docker/registry/v2/small", b"s")
    with driver.writer("/docker/registry/v2/big") as w:
        w.write(os.urandom(6 << 20))  # one part, then the rest at commit: a multipart upload
        w.commit()
    s3 = moto.client()

    def assert_encrypted(key: str) -> None:
        head = s3.head_object(Bucket=bucket, Key=key)
        assert head["ServerSideEncryption"] == "AES256" and head["StorageClass"] == "REDUCED_REDUNDANCY", key

    assert_encrypted("docker/registry/v2/small")
    assert_encrypted("docker/registry/v2/big")
    driver.move("/docker/registry/v2/big", "/docker/registry/v2/moved")
    assert_encrypted("docker/registry/v2/moved")
    assert "X-Amz-Signature=" in driver.redirect_url("/docker/registry/v2/small")
    v2 = S3Driver(moto.storage_section(bucket, v4auth=False))
    assert v2.get_content("/docker/registry/v2/small") == b"s"
    url = v2.redirect_url("/docker/registry/v2/small")
    assert "Signature=" in url and "X-Amz-Signature" not in url
    with urllib.request.urlopen(url, timeout=10) as resp:
        assert resp.read() == b"s"
