"""One streaming pipeline for a layer's bytes: read ∥ decompress ∥ hash ∥ extract.

Every way a layer enters the store (``import``, ``load``, ``pull``, ``commit``) ends in
:func:`.apply.apply_layer`, which reads the layer through a :class:`LayerFeed`. The feed runs
a worker thread that reads the source (a file, a growing download, an archive member),
decompresses it (isal's gzip, zstd, bzip2 or xz, under :mod:`.compression`'s bomb guard) and
counts it against the size limit, and hands the uncompressed bytes over in 1 MiB chunks
through a short queue, to the extracting thread and to a second worker that hashes them for
the DiffID. The thread that extracts then only parses headers and writes files, reading views
into those chunks (no copy on its side). Reading, decompressing and hashing all run in C with
the GIL released, so they overlap with the extraction almost entirely: a layer takes about as
long as the slowest stage, not their sum, and each byte is touched once by each stage.

The queue holds at most :data:`DEPTH` chunks, so memory stays bounded whatever the speeds.
A failure on either side stops the other: the worker's exception is raised to the reader at
the point in the stream where it happened (a truncated or corrupt stream therefore fails the
extraction, never completes it), and a reader that gives up stops the worker.
"""

from __future__ import annotations

import hashlib
import io
import queue
import threading
import time
from typing import BinaryIO

from ..digest import Digest
from ..errors import UnsafeArchive
from .compression import Limits, open_decompressed

__all__ = ["LayerFeed", "CHUNK", "DEPTH"]

CHUNK = 1 << 20
#: chunks in flight between the worker and the reader
DEPTH = 8
_END = object()
_EMPTY = memoryview(b"")
_JOIN_SECONDS = 5.0


class LayerFeed(io.RawIOBase):
    """The uncompressed, hashed bytes of a layer, produced by a worker thread.

    ``compression`` is the source's compression ("gzip", "zstd", "bzip2", "xz", "none"), or
    None to detect it from the first bytes. After the last byte has been read,
    :meth:`digest` is the sha256 of the uncompressed stream (the DiffID) and ``count`` its
    length.
    """

    def __init__(self, source: BinaryIO, compression: str | None = "none", limits: Limits | None = None) -> None:
        self._source = source
        self._compression = compression
        self._limits = limits or Limits()
        self._queue: queue.Queue = queue.Queue(maxsize=DEPTH)
        self._stopped = threading.Event()
        self._hash = hashlib.sha256()
        self._view = _EMPTY
        self._ended = False
        self.count = 0
        self._hashes: queue.Queue = queue.Queue(maxsize=DEPTH)
        self._hasher = threading.Thread(target=self._hash_all, args=(self._hashes,), name="layer-hash", daemon=True)
        self._thread = threading.Thread(target=self._run, name="layer-feed", daemon=True)
        self._thread.start()

    # the workers ---------------------------------------------------------------------------
    def _run(self) -> None:
        """Read and decompress; each chunk goes to the reader and to the hashing thread."""
        hashes, hasher = self._hashes, self._hasher
        hasher.start()
        try:
            stream = open_decompressed(self._source, kind=self._compression, limits=self._limits, threaded=False)
            limit = self._limits.max_uncompressed
            count = 0
            while not self._stopped.is_set():
                chunk = stream.read(CHUNK)
                if not chunk:
                    break
                count += len(chunk)
                if count > limit:
                    raise UnsafeArchive(f"layer is larger than the {limit}-byte limit; refusing it")
                self._put(hashes, chunk)
                self._put(self._queue, chunk)
            self.count = count
            self._put(hashes, _END)
            hasher.join()  # the digest is complete before the reader hears of the end
            self._put(self._queue, _END)
        except BaseException as exc:  # noqa: BLE001 - raised in the reading thread
            self._put(hashes, _END)
            self._put(self._queue, exc)

    def _hash_all(self, hashes: queue.Queue) -> None:
        """The DiffID, in a thread of its own: hashing and decompressing each take a core's
        worth of a stream that the extraction takes faster than one thread could do both."""
        update = self._hash.update
        while not self._stopped.is_set():
            try:
                chunk = hashes.get(timeout=0.25)
            except queue.Empty:
                continue
            if chunk is _END:
                return
            update(chunk)

    def _put(self, into: queue.Queue, item: object) -> None:
        while not self._stopped.is_set():
            try:
                into.put(item, timeout=0.25)
                return
            except queue.Full:
                continue

    # the reader ----------------------------------------------------------------------------
    def readable(self) -> bool:
        return True

    def _next(self) -> memoryview | None:
        """The next chunk from the worker; None at the end (its failure is raised here)."""
        if self._ended:
            return None
        item = self._queue.get()
        if item is _END:
            self._ended = True
            self._thread.join()
            return None
        if isinstance(item, BaseException):
            self._ended = True
            raise item
        return memoryview(item)

    def read(self, n: int = -1):
        """``n`` bytes (fewer only at the end), as a view into the worker's chunk when they
        lie in one: the extractor writes them out without another copy."""
        if n is None or n < 0:
            return self.readall()
        view = self._view
        if len(view) >= n:
            self._view = view[n:]
            return view[:n]
        parts, got = [view], len(view)
        self._view = _EMPTY
        while got < n and (more := self._next()) is not None:
            take = min(n - got, len(more))
            parts.append(more[:take])
            self._view = more[take:]
            got += take
        return b"".join(parts)

    def readall(self) -> bytes:
        parts = [self._view]
        self._view = _EMPTY
        while (more := self._next()) is not None:
            parts.append(more)
        return b"".join(parts)

    def readinto(self, buffer) -> int:
        view = self._view or self._next()
        if view is None:
            return 0
        n = min(len(buffer), len(view))
        buffer[:n] = view[:n]
        self._view = view[n:]
        return n

    def digest(self) -> Digest:
        """The DiffID; only meaningful once the stream has been read to its end."""
        return Digest("sha256", self._hash.hexdigest())

    def close(self) -> None:
        """Stop the worker and wait a moment for it. A worker still waiting on its source
        after that (a download that has stalled) is left to end by itself: it is a daemon,
        and all it can still do is find the stop flag set."""
        if not self.closed:
            self._stopped.set()
            deadline = time.monotonic() + _JOIN_SECONDS
            while self._thread.is_alive() and time.monotonic() < deadline:
                try:
                    self._queue.get(timeout=0.05)  # it may be waiting for room in the queue
                except queue.Empty:
                    pass
            if self._hasher.is_alive():
                self._hasher.join(max(0.0, deadline - time.monotonic()))
        super().close()
