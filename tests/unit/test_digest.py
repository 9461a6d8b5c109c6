import hashlib
import io

import pytest

from lamina.digest import Digest, Hasher, VerifyingReader
from lamina.errors import DigestMismatch, InvalidArgument

EMPTY = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def test_parse_roundtrip():
    d = Digest.parse(EMPTY)
    assert d.algorithm == "sha256"
    assert str(d) == EMPTY
    assert d.short() == "e3b0c44298fc"
    assert Digest.of_bytes(b"") == d


def test_sha512():
    hexd = hashlib.sha512(b"x").hexdigest()
    assert str(Digest.parse("sha512:" + hexd)) == "sha512:" + hexd


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "sha256",
        "sha256:",
        "sha256:abc",
        "sha256:" + "A" * 64,
        "sha256:" + "a" * 63,
        "sha256:" + "a" * 65,
        "md5:" + "a" * 32,
        "sha256:../../etc/passwd" + "a" * 47,
        "sha256:" + "a" * 62 + "/x",
        "SHA256:" + "a" * 64,
    ],
)
def test_parse_rejects(bad):
    with pytest.raises(InvalidArgument):
        Digest.parse(bad)
    assert not Digest.is_valid(bad)


def test_hasher_counts():
    h = Hasher().update_all([b"ab", b"c"])
    assert h.size == 3
    assert h.digest() == Digest.of_bytes(b"abc")


def test_verifying_reader_accepts_and_rejects():
    data = b"hello" * 1000
    good = VerifyingReader(io.BytesIO(data), Digest.of_bytes(data), len(data))
    assert good.read() == data
    assert good.read() == b""
    bad = VerifyingReader(io.BytesIO(data), Digest.of_bytes(b"other"))
    with pytest.raises(DigestMismatch):
        while bad.read(100):
            pass
    short = VerifyingReader(io.BytesIO(data), Digest.of_bytes(data), len(data) - 1)
    with pytest.raises(DigestMismatch):
        short.read()


@pytest.mark.parametrize("size", [0, 1, 64, 1 << 16, (1 << 16) + 1, 1 << 20])
def test_of_bytes_is_hashlib_s_sha256_at_every_size(size):
    """Small inputs go through the built-in SHA-256 (no OpenSSL load), larger ones through
    hashlib; the digest is the same either way."""
    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    assert Digest.of_bytes(data) == Digest("sha256", hashlib.sha256(data).hexdigest())
    assert Digest.of_bytes(data, "sha512") == Digest("sha512", hashlib.sha512(data).hexdigest())
