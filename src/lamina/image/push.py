"""``push``: an image from the store to its registry, each layer compressed at most once.

For each layer, in parallel (``max-concurrent-uploads``), cheapest first:

1. a blob kept from a load in the compression asked for (``store.blobs``) goes as it is;
2. a blob digest remembered for the layer (``store.distribution``: pulled as, or pushed as
   before) is asked for with ``HEAD`` in the target repository ("Layer already exists"), or
   mounted from another repository of the same registry ("Mounted from …");
3. otherwise the layer's tar is rebuilt from the store, compressed on the fly (isal gzip at
   level 1, or zstd) and streamed up in one pass, checked against the DiffID; the digest it
   got is remembered, so the next push of the layer anywhere on that registry is a HEAD or a
   mount, not a recompression. Three threads share the pass: one assembles the tar and
   hashes it (the DiffID check), one compresses, and the uploading one hashes the compressed
   bytes as they go out (the blob digest), all three mostly in C with the GIL released.

Then the config blob and the manifest (Docker schema 2 for gzip, OCI for zstd, whose layer
media type only OCI has); the pushed digest is recorded locally as the image's RepoDigest.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from .. import reference as refs
from ..digest import Digest, Hasher
from ..errors import InvalidArgument, NotFound, StoreCorrupt
from ..oci import Descriptor, Manifest
from ..oci import mediatypes as mt
from ..registry.client.api import Repository
from ..registry.client.daemon_config import DaemonConfig, load_daemon_config
from ..registry.client.sources import push_repository
from ..store.distribution import BlobRecord, DistributionMap
from .local import LocalImage, LocalLayer
from .pull import Progress
from .service import ImageService

__all__ = ["PushResult", "Pusher", "COMPRESSIONS"]

#: the layer and config media types of a pushed manifest, by compression
COMPRESSIONS = {
    "gzip": (mt.DOCKER_MANIFEST, mt.DOCKER_LAYER_GZIP, mt.DOCKER_CONFIG),
    "zstd": (mt.OCI_MANIFEST, mt.OCI_LAYER_ZSTD, mt.OCI_CONFIG),
}
_CHUNK = 1 << 20
_REPORT_EVERY = 0.1
#: gzip compression threads per layer: two halve the time of the one stage that holds the
#: pass back (isal level 1, ~350 MB/s a core) wherever a second core is free
_THREADS = 2


@dataclass(frozen=True)
class PushResult:
    reference: refs.Reference
    digest: Digest
    size: int

    def line(self) -> str:
        return f"{self.reference.tag}: digest: {self.digest} size: {self.size}"


ProgressFn = Callable[[Progress], None]


class Pusher:
    def __init__(self, service: ImageService, config: DaemonConfig | None = None) -> None:
        self.service = service
        self.store = service.store
        self.config = config or load_daemon_config()
        self.distribution = DistributionMap(self.store.paths)

    def push(self, name: str, all_tags: bool = False, compression: str = "gzip", progress: ProgressFn | None = None) -> list[PushResult]:
        if compression not in COMPRESSIONS:
            raise InvalidArgument(f"unsupported compression {compression!r} (use gzip or zstd)")
        report = progress or (lambda _p: None)
        ref = refs.parse(name)
        if ref.digest is not None:
            raise InvalidArgument("cannot push a digest reference")
        if ref.domain == refs.DEFAULT_DOMAIN and ref.path.startswith(refs.OFFICIAL_PREFIX) and ref.path.count("/") == 1:
            short = ref.path.split("/")[-1]
            raise InvalidArgument(
                f'You cannot push a "root" repository. Please rename your repository to <user>/<repo> (ex: <user>/{short})'
            )
        targets = self._targets(ref, all_tags)
        report(Progress("", f"The push refers to repository [{ref.name}]"))
        repository = push_repository(ref, self.config)
        try:
            return [self._push_one(repository, target, image_id, compression, report) for target, image_id in targets]
        finally:
            repository.session.close()

    def _targets(self, ref: refs.Reference, all_tags: bool) -> list[tuple[refs.Reference, Digest]]:
        if all_tags:
            if ref.tag is not None:
                raise InvalidArgument("tag can't be used with --all-tags/-a")
            found = sorted(
                ((e.reference, e.image_id) for e in self.store.repositories.entries()
                 if e.reference.name == ref.name and e.reference.tag is not None and e.reference.digest is None),
                key=lambda pair: pair[0].tag or "",
            )
            if not found:
                raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
            return found
        ref = ref.with_default_tag()
        image_id = self.store.repositories.get(ref)
        if image_id is None or not self.store.images.exists(image_id):
            raise NotFound(f"An image does not exist locally with the tag: {ref.familiar_name}")
        return [(ref, image_id)]

    def _push_one(self, repository: Repository, ref: refs.Reference, image_id: Digest, compression: str, report: ProgressFn) -> PushResult:
        manifest_type, layer_type, config_type = COMPRESSIONS[compression]
        image = LocalImage(self.store, image_id)
        layers = image.layers()
        with self.store.lease() as lease:
            for layer in layers:
                lease.pin(layer.record.chain_id.hex)  # no rmi may take them while they go up
            shown = list(reversed(layers))  # docker lists the top layer first
            for layer in shown:
                report(Progress(layer.diff_id().hex[:12], "Preparing"))
            limit = self.config.max_concurrent_uploads
            for layer in shown[limit:]:
                report(Progress(layer.diff_id().hex[:12], "Waiting"))
            target = f"{ref.domain}/{ref.path}"
            jobs = _LayerJobs(self, repository, target, compression, layer_type, report)
            with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="push") as pool:
                futures = {layer.diff_id(): pool.submit(jobs.push_layer, layer) for layer in shown}
                descriptors = {diff_id: future.result() for diff_id, future in futures.items()}
            config_raw = _config_bytes(self.store, image_id)
            config_desc = Descriptor(config_type, image_id, len(config_raw))
            if repository.blob_size(image_id) is None:
                repository.upload(image_id, [config_raw])
            manifest = Manifest.build(config_desc, [descriptors[layer.diff_id()] for layer in layers], media_type=manifest_type)
            digest = repository.put_manifest(ref.tag or "latest", manifest.raw, manifest_type)
        with self.service.changes(), self.store.lock():
            self.store.repositories.set(refs.Reference(ref.domain, ref.path, None, digest), image_id)
        return PushResult(ref, digest, len(manifest.raw))


def _config_bytes(store, image_id: Digest) -> bytes:
    with open(store.paths.image_config(image_id), "rb") as f:
        return f.read()


class _LayerJobs:
    """What each upload thread does for one layer (shared, read-only state)."""

    def __init__(self, pusher: Pusher, repository: Repository, target: str, compression: str, layer_type: str, report: ProgressFn) -> None:
        self.pusher = pusher
        self.repository = repository
        self.target = target
        self.registry = target.split("/", 1)[0]
        self.path = target.split("/", 1)[1]
        self.compression = compression
        self.layer_type = layer_type
        self.report = report

    def push_layer(self, layer: LocalLayer) -> Descriptor:
        short = layer.diff_id().hex[:12]
        kept = self.pusher.store.blobs.find(layer.diff_id(), self.compression)
        if kept is not None:
            if self.repository.blob_size(kept.digest) is not None:
                self.report(Progress(short, "Layer already exists"))
            else:
                self._upload_file(short, kept.path, kept.digest, kept.size)
                self.report(Progress(short, "Pushed"))
            self._remember(layer, kept.digest, kept.size)
            return Descriptor(self.layer_type, kept.digest, kept.size)
        known = self._known(layer)
        if known is not None:
            return known
        digest, size = self._compress_and_upload(short, layer)
        self._remember(layer, digest, size)
        self.report(Progress(short, "Pushed"))
        return Descriptor(self.layer_type, digest, size)

    def _known(self, layer: LocalLayer) -> Descriptor | None:
        """A blob the registry already has for this layer: HEAD in the target, else a mount."""
        short = layer.diff_id().hex[:12]
        records = [r for r in reversed(self.pusher.distribution.records(layer.diff_id())) if self._fits(r)]
        for record in sorted(records, key=lambda r: r.source_repository != self.target):
            size = self.repository.blob_size(record.digest)
            if size is not None:
                self.report(Progress(short, "Layer already exists"))
                return Descriptor(self.layer_type, record.digest, record.size or size)
            if record.registry == self.registry and record.path != self.path:
                if self.repository.mount(record.digest, record.path):
                    size = record.size if record.size is not None else self.repository.blob_size(record.digest)
                    self.report(Progress(short, f"Mounted from {record.path}"))
                    self._remember(layer, record.digest, size or 0)
                    return Descriptor(self.layer_type, record.digest, size or 0)
        return None

    def _fits(self, record: BlobRecord) -> bool:
        """A remembered blob in the compression asked for (docker's own records say nothing of
        it: gzip, the only compression docker pushes)."""
        return mt.compression_of(record.media_type or mt.DOCKER_LAYER_GZIP) == self.compression

    def _remember(self, layer: LocalLayer, digest: Digest, size: int) -> None:
        with self.pusher.store.lock():
            self.pusher.distribution.add(layer.diff_id(), BlobRecord(digest, self.target, self.layer_type, size))

    def _upload_file(self, short: str, path: str, digest: Digest, size: int) -> None:
        def chunks() -> Iterator[bytes]:
            sent = 0
            with open(path, "rb") as f:
                while chunk := f.read(_CHUNK):
                    sent += len(chunk)
                    self.report(Progress(short, "Pushing", sent, size))
                    yield chunk

        self.repository.upload(digest, chunks())

    def _compress_and_upload(self, short: str, layer: LocalLayer) -> tuple[Digest, int]:
        from ..archive.compression import compressor

        blob = Hasher()
        plain = Hasher()
        total = layer.size()

        def produce(put: Callable[[bytes], None], stopped: threading.Event) -> None:
            sink = _Sink()
            last = 0.0
            # the tar is assembled and hashed in a thread of its own; the compressor's threads
            # are ended by its close, however this ends
            with layer.uncompressed(plain) as tar, compressor(sink, self.compression, threads=_THREADS) as packer:
                while chunk := tar.read(_CHUNK):
                    if stopped.is_set():
                        return
                    packer.write(chunk)
                    for out in sink.drain():
                        put(out)
                    now = time.monotonic()
                    if now - last >= _REPORT_EVERY:
                        last = now
                        self.report(Progress(short, "Pushing", min(plain.size, total), total))
            for out in sink.drain():
                put(out)

        def hashed(chunks: Iterator[bytes]) -> Iterator[bytes]:
            """The compressed digest, taken by the uploading thread as the bytes go out."""
            for chunk in chunks:
                blob.update(chunk)
                yield chunk

        def finish() -> Digest:
            if plain.digest() != layer.diff_id():
                raise StoreCorrupt(f"layer {layer.diff_id()} could not be reproduced exactly from the store; run 'lamina system check'")
            return blob.digest()

        digest = self.repository.upload(None, hashed(_overlapped(produce)), finish)
        return digest, blob.size


def _overlapped(produce: Callable[[Callable[[bytes], None], threading.Event], None]) -> Iterator[bytes]:
    """The chunks ``produce`` makes in its own thread, handed over through a short queue: the
    tar assembly and compression (isal and the file reads release the GIL) overlap with the
    upload instead of taking turns with it."""
    handoff: queue.Queue = queue.Queue(maxsize=8)
    stopped = threading.Event()
    errors: list[BaseException] = []
    end = object()

    def run() -> None:
        try:
            produce(handoff.put, stopped)
        except BaseException as exc:  # surfaced to the consumer below
            errors.append(exc)
        finally:
            handoff.put(end)

    worker = threading.Thread(target=run, name="push-compress", daemon=True)
    worker.start()
    try:
        while (item := handoff.get()) is not end:
            yield item
        if errors:
            raise errors[0]
    finally:
        stopped.set()
        while worker.is_alive():  # unblock a producer waiting on a full queue
            try:
                handoff.get(timeout=0.1)
            except queue.Empty:
                pass
        worker.join()


class _Sink:
    """The compressor's output, handed on chunk by chunk (written by the compressor's own
    writer thread when it has several: a deque's ends are safe across threads)."""

    def __init__(self) -> None:
        self._parts: deque[bytes] = deque()

    def write(self, data) -> int:
        self._parts.append(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def drain(self) -> Iterator[bytes]:
        parts = self._parts
        while parts:
            yield parts.popleft()
