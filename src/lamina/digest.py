"""Content digests: ``algorithm:hex`` values, parsed strictly and computed while streaming.

A digest string becomes part of file paths (``blobs/sha256/ab/abcd…``), so it is validated
before anything else touches it: a registered algorithm and exactly the right number of
lowercase hex characters. Nothing else is a Digest.
"""

from __future__ import annotations

from .errors import DigestMismatch, InvalidArgument
from .value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only (typing costs start-up time: lamina.value says why)
    from collections.abc import Iterable
    from typing import BinaryIO

__all__ = [
    "Digest",
    "ALGORITHMS",
    "sha256_of",
    "Hasher",
    "VerifyingReader",
]

#: The OCI image spec's registered algorithms and their hex lengths.
ALGORITHMS: dict[str, int] = {"sha256": 64, "sha512": 128}

_HEX = frozenset("0123456789abcdef")  # a set, not a regex: ``re`` costs the lean commands ~8 ms
# The spec's general grammar, for telling "unsupported algorithm" from "not a digest at all".
_GENERAL = r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+\Z"


class Digest(Value):
    """A validated content digest such as ``sha256:e3b0…`` (ordered by algorithm, then hex)."""

    __slots__ = ("algorithm", "hex")
    algorithm: str
    hex: str

    def __init__(self, algorithm: str, hex: str) -> None:
        length = ALGORITHMS.get(algorithm)
        if length is None:
            raise InvalidArgument(f"unsupported digest algorithm: {algorithm!r}")
        if len(hex) != length or not _HEX.issuperset(hex):
            raise InvalidArgument(
                f"invalid {algorithm} digest: expected {length} lowercase hex characters"
            )
        self._init(algorithm=algorithm, hex=hex)

    def __lt__(self, other: Digest) -> bool:
        return self._key() < other._key() if other.__class__ is Digest else NotImplemented

    def __le__(self, other: Digest) -> bool:
        return self._key() <= other._key() if other.__class__ is Digest else NotImplemented

    def __gt__(self, other: Digest) -> bool:
        return self._key() > other._key() if other.__class__ is Digest else NotImplemented

    def __ge__(self, other: Digest) -> bool:
        return self._key() >= other._key() if other.__class__ is Digest else NotImplemented

    @classmethod
    def parse(cls, text: str) -> Digest:
        """Parse ``algorithm:hex``; raise InvalidArgument with a readable reason otherwise."""
        if not isinstance(text, str) or ":" not in text:
            raise InvalidArgument(f"invalid digest {text!r}: expected algorithm:hex")
        algorithm, _, encoded = text.partition(":")
        if algorithm in ALGORITHMS and not (len(encoded) == ALGORITHMS[algorithm] and _HEX.issuperset(encoded)):
            import re  # only for a digest that is not valid: which error to give

            if not re.match(_GENERAL, text):
                raise InvalidArgument(f"invalid digest {text!r}")
        return cls(algorithm, encoded)

    @classmethod
    def is_valid(cls, text: str) -> bool:
        try:
            cls.parse(text)
        except InvalidArgument:
            return False
        return True

    @classmethod
    def of_bytes(cls, data: bytes, algorithm: str = "sha256") -> Digest:
        if algorithm == "sha256" and len(data) < _SMALL:
            return cls(algorithm, _builtin_sha256(data).hexdigest())
        import hashlib  # here: it loads OpenSSL, and most commands never hash

        return cls(algorithm, hashlib.new(algorithm, data).hexdigest())

    @property
    def encoded(self) -> str:
        """The hex part, as the spec calls it."""
        return self.hex

    def short(self, length: int = 12) -> str:
        """The truncated hex that docker shows in the IMAGE ID column."""
        return self.hex[:length]

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"


#: below this size CPython's built-in SHA-256 hashes (chain IDs, configs); above it OpenSSL's
#: faster one is worth loading hashlib for (~3 ms: ``run`` computes chain IDs and nothing else)
_SMALL = 64 * 1024


def _builtin_sha256(data: bytes):
    """CPython's own SHA-256 (``_sha256``; ``_sha2`` from 3.12), without OpenSSL."""
    try:
        from _sha256 import sha256
    except ImportError:
        try:
            from _sha2 import sha256
        except ImportError:
            from hashlib import sha256
    return sha256(data)


def sha256_of(data: bytes) -> Digest:
    return Digest.of_bytes(data, "sha256")


class Hasher:
    """Accumulates a digest and a byte count over chunks, for hashing while streaming."""

    __slots__ = ("algorithm", "_h", "size")

    def __init__(self, algorithm: str = "sha256") -> None:
        if algorithm not in ALGORITHMS:
            raise InvalidArgument(f"unsupported digest algorithm: {algorithm!r}")
        self.algorithm = algorithm
        import hashlib

        self._h = hashlib.new(algorithm)
        self.size = 0

    def update(self, chunk: bytes | memoryview) -> None:
        self._h.update(chunk)
        self.size += len(chunk)

    def update_all(self, chunks: Iterable[bytes]) -> Hasher:
        for chunk in chunks:
            self.update(chunk)
        return self

    def digest(self) -> Digest:
        return Digest(self.algorithm, self._h.hexdigest())


class VerifyingReader:
    """A read-only file object that hashes what passes through it.

    With ``expected`` set, reaching end of stream with a different digest (or size) raises
    DigestMismatch, so a consumer that reads to the end can never accept wrong content.
    """

    def __init__(
        self,
        raw: BinaryIO,
        expected: Digest | None = None,
        expected_size: int | None = None,
        algorithm: str | None = None,
    ) -> None:
        self._raw = raw
        self._expected = expected
        self._expected_size = expected_size
        self.hasher = Hasher(algorithm or (expected.algorithm if expected else "sha256"))
        self._done = False

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        chunk = self._raw.read(n)
        if chunk:
            self.hasher.update(chunk)
            if self._expected_size is not None and self.hasher.size > self._expected_size:
                raise DigestMismatch(
                    f"content is larger than its declared size {self._expected_size}"
                )
        elif n != 0:
            self._finish()
        return chunk

    def readinto(self, buffer) -> int:  # lets io.BufferedReader and shutil use it
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _finish(self) -> None:
        if self._done:
            return
        self._done = True
        self.verify()

    def verify(self) -> Digest:
        """The digest of everything read; raises DigestMismatch against ``expected``."""
        actual = self.hasher.digest()
        if self._expected_size is not None and self.hasher.size != self._expected_size:
            raise DigestMismatch(
                f"size mismatch: expected {self._expected_size} bytes, got {self.hasher.size}"
            )
        if self._expected is not None and actual != self._expected:
            raise DigestMismatch(f"digest mismatch: expected {self._expected}, got {actual}")
        return actual

    @property
    def size(self) -> int:
        return self.hasher.size

    def close(self) -> None:
        self._raw.close()
