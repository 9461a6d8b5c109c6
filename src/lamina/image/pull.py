"""``pull``: an image from a registry into the store, verified, resumable, in one pass.

The steps, as docker takes them: resolve the reference to a manifest (an index or manifest
list is resolved to the platform asked for, the host's by default), fetch and verify the
config, skip the layers the store already holds (by ChainID), download the others in parallel
(``max-concurrent-downloads``) and extract them in order, register the image, set the tag and
the repository digest.

One pass over the bytes: each download thread writes its blob into the ingest area
(``store.ingest``) while hashing it, and the extraction of that layer reads the same file as
it grows, through the decompressor (isal's threaded gunzip or zstd, both releasing the GIL)
into ``Store.create_layer``, which hashes the tar for the DiffID while extracting. So a pull
takes about as long as the slowest of download, decompression and extraction, not their sum.
The reader holds back a blob's last byte until its digest is verified, and every format needs
that byte to finish, so no layer is ever committed from a blob that failed verification.

Resume: a dropped connection is retried with ``Range`` from the bytes already written (with
backoff; a registry that ignores Range is read past the known prefix); a killed pull leaves
its partial blobs in the ingest area, and the next pull re-hashes and continues them.

Progress is reported through a callback as :class:`Progress` values, docker's JSON messages
(``id`` and ``status``, with byte counts for Downloading/Extracting); the CLI draws them.
"""

from __future__ import annotations

import hashlib
import io
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import closing
from dataclasses import dataclass

from .. import reference as refs
from ..digest import Digest
from ..errors import (
    DigestMismatch,
    InvalidArgument,
    LaminaError,
    NotFound,
    RegistryUnavailable,
    Unsupported,
)
from ..oci import (
    Descriptor,
    ImageConfig,
    Index,
    Manifest,
    Platform,
    chain_ids,
    parse_manifest_or_index,
)
from ..oci import mediatypes as mt
from ..registry.client.api import Repository
from ..registry.client.daemon_config import DaemonConfig, load_daemon_config
from ..registry.client.http import httpx
from ..registry.client.sources import Source, pull_sources
from ..store.distribution import BlobRecord, DistributionMap
from ..store.ingest import Ingest, IngestFile
from ..store.layerdb import LayerRecord
from .service import ImageService

__all__ = ["Progress", "PullResult", "PullPlan", "PlannedLayer", "Puller", "parse_platform"]

#: consecutive failed attempts (no byte gained) before a blob download gives up
RETRIES = 5
_CHUNK = 1 << 20
_REPORT_EVERY = 0.1  # seconds between two progress reports of one layer


@dataclass(frozen=True)
class Progress:
    """One of docker's progress messages: ``id: status`` (id empty for a whole-pull line),
    with byte counts for the ones that draw a bar."""

    id: str
    status: str
    current: int = 0
    total: int = 0

    @property
    def has_bar(self) -> bool:
        return self.status in ("Downloading", "Extracting", "Pushing")

    @property
    def text(self) -> str:
        """The message as one line without its bar: ``id: status``, or the status alone."""
        return f"{self.id}: {self.status}" if self.id else self.status


ProgressFn = Callable[[Progress], None]


@dataclass(frozen=True)
class PullResult:
    reference: refs.Reference  # as pulled: with its tag, or its digest
    digest: Digest  # of the manifest (or index) the reference named
    image_id: Digest
    updated: bool  # False when the reference already named this image

    def status_line(self) -> str:
        if self.updated:
            return f"Status: Downloaded newer image for {self.reference.familiar()}"
        return f"Status: Image is up to date for {self.reference.familiar()}"


@dataclass(frozen=True)
class PlannedLayer:
    digest: Digest
    size: int
    diff_id: Digest
    present: bool


@dataclass(frozen=True)
class PullPlan:
    """What a pull would do (``pull --dry-run``): nothing downloaded but manifest and config."""

    reference: refs.Reference
    digest: Digest
    layers: tuple[PlannedLayer, ...]

    @property
    def download_bytes(self) -> int:
        seen: dict[Digest, int] = {layer.digest: layer.size for layer in self.layers if not layer.present}
        return sum(seen.values())

    @property
    def held_bytes(self) -> int:
        return sum(layer.size for layer in self.layers if layer.present)


def parse_platform(text: str | None) -> Platform:
    """``os/arch[/variant]`` (docker's ``--platform``); the host's when None."""
    from .config import go_arch

    if not text:
        return Platform(go_arch(), "linux")
    parts = text.lower().split("/")
    if len(parts) == 1:
        parts = ["linux", parts[0]]
    if len(parts) > 3 or not all(parts):
        raise InvalidArgument(f'"{text}": unknown operating system or architecture: invalid argument')
    return Platform(parts[1], parts[0], parts[2] if len(parts) == 3 else None)


@dataclass
class _Resolved:
    source: Source
    digest: Digest  # what the reference named (index or manifest)
    manifest: Manifest
    config_raw: bytes


class Puller:
    def __init__(self, service: ImageService, config: DaemonConfig | None = None) -> None:
        self.service = service
        self.store = service.store
        self.config = config or load_daemon_config()
        self.distribution = DistributionMap(self.store.paths)
        self.ingest = Ingest(self.store.paths.ingest())

    # public ------------------------------------------------------------------------------------
    def pull(self, name: str, platform: str | None = None, progress: ProgressFn | None = None) -> PullResult:
        ref = refs.parse(name).with_default_tag()
        report = progress or (lambda _p: None)
        resolved = self._resolve(ref, parse_platform(platform))
        try:
            report(Progress(ref.tag if ref.digest is None else str(ref.digest), f"Pulling from {ref.path}"))
            image_id = Digest.of_bytes(resolved.config_raw)
            if not self.store.images.exists(image_id):  # held already: docker only tags it
                image_id = self._fetch(ref, resolved, report)
            return self._record(ref, resolved.digest, image_id)
        finally:
            resolved.source.close()

    def pull_all_tags(
        self,
        name: str,
        platform: str | None = None,
        progress: ProgressFn | None = None,
        on_result: Callable[[PullResult], None] | None = None,
    ) -> list[PullResult]:
        """Every tag of the repository, one after the other; ``on_result`` hears of each as it
        is done (docker prints its ``Digest:`` line there)."""
        ref = refs.parse(name)
        if ref.tag is not None or ref.digest is not None:
            raise InvalidArgument("tag can't be used with --all-tags/-a")
        tags = self._with_source(ref, lambda source: source.repository.tags())
        if not tags:
            raise NotFound(f"no tags found for {ref.familiar_name}")
        results = []
        for tag in sorted(tags):
            results.append(self.pull(str(ref.with_tag(tag)), platform, progress))
            if on_result is not None:
                on_result(results[-1])
        return results

    def plan(self, name: str, platform: str | None = None) -> PullPlan:
        ref = refs.parse(name).with_default_tag()
        resolved = self._resolve(ref, parse_platform(platform))
        resolved.source.close()
        config = ImageConfig.parse(resolved.config_raw)
        chains = chain_ids(list(config.diff_ids))
        layers = tuple(
            PlannedLayer(desc.digest, desc.size, diff_id, self.store.layers.exists(chain))
            for desc, diff_id, chain in zip(resolved.manifest.layers, config.diff_ids, chains, strict=True)
        )
        return PullPlan(ref, resolved.digest, layers)

    # resolving ---------------------------------------------------------------------------------
    def _with_source(self, ref: refs.Reference, work, keep: bool = False):
        """Run ``work(source)`` on the first source that answers: mirrors, then the registry.
        With ``keep`` the answering source stays open (the result holds it)."""
        sources = pull_sources(ref, self.config)
        failure: LaminaError | None = None
        for n, source in enumerate(sources):
            try:
                result = work(source)
                for other in sources[n + (0 if not keep else 1):]:
                    other.close()
                return result
            except (LaminaError, httpx.HTTPError) as exc:
                source.close()
                if not source.mirror:
                    for other in sources[n + 1:]:
                        other.close()
                    raise _as_lamina(exc) from None
                failure = _as_lamina(exc)
        raise failure or NotFound(f"no registry for {ref.familiar()}")

    def _resolve(self, ref: refs.Reference, platform: Platform) -> _Resolved:
        def work(source: Source) -> _Resolved:
            repo = source.repository
            raw, media_type, announced = repo.manifest(str(ref.digest) if ref.digest else ref.tag)
            digest = _verified_digest(raw, ref.digest, announced)
            doc = _parse(raw, media_type)
            if isinstance(doc, Index):
                child = _choose(doc, platform)
                child_raw, child_type, _ = repo.manifest(str(child.digest))
                _verified_digest(child_raw, child.digest, None)
                doc = _parse(child_raw, child_type or child.media_type)
                if isinstance(doc, Index):
                    raise Unsupported("a manifest list that points at another manifest list is not supported")
            config_raw = repo.blob_bytes(doc.config.digest)
            config = ImageConfig.parse(config_raw)
            if len(config.diff_ids) != len(doc.layers):
                raise InvalidArgument(
                    f"invalid image {ref.familiar()}: the manifest has {len(doc.layers)} layers, "
                    f"the config {len(config.diff_ids)} diff_ids"
                )
            for layer in doc.layers:
                if layer.media_type not in mt.LAYERS and not layer.media_type.startswith("application/vnd.oci.image.layer."):
                    raise Unsupported(f"unsupported layer media type {layer.media_type} in {ref.familiar()}")
            return _Resolved(source, digest, doc, config_raw)

        return self._with_source(ref, work, keep=True)

    # fetching ----------------------------------------------------------------------------------
    def _fetch(self, ref: refs.Reference, resolved: _Resolved, report: ProgressFn) -> Digest:
        store = self.store
        manifest, config_raw = resolved.manifest, resolved.config_raw
        config = ImageConfig.parse(config_raw)
        diff_ids = list(config.diff_ids)
        chains = chain_ids(diff_ids)
        source_repo = f"{ref.domain}/{ref.path}"
        with self.service.changes(), store.lease() as lease:
            present = [store.pin_existing(lease, chain) is not None for chain in chains]
            downloads: dict[Digest, _Download] = {}
            for desc, here in zip(manifest.layers, present, strict=True):
                short = desc.digest.hex[:12]
                if here:
                    report(Progress(short, "Already exists"))
                elif desc.digest not in downloads:
                    downloads[desc.digest] = _Download(resolved.source.repository, desc, self.ingest, report)
                    report(Progress(short, "Pulling fs layer"))
            limit = self.config.max_concurrent_downloads
            for n, download in enumerate(downloads.values()):
                if n >= limit:
                    report(Progress(download.short, "Waiting"))
            pool = ThreadPoolExecutor(max_workers=limit, thread_name_prefix="pull")
            try:
                for download in downloads.values():
                    pool.submit(download.run)
                parent: LayerRecord | None = None
                for desc, diff_id, chain, here in zip(manifest.layers, diff_ids, chains, present, strict=True):
                    if here:
                        parent = store.layers.get(chain)
                        continue
                    parent = self._extract(downloads[desc.digest], parent, diff_id, lease, report)
                    with store.lock():
                        self.distribution.add(diff_id, BlobRecord(desc.digest, source_repo, desc.media_type, desc.size))
                image_id = store.register_image(config_raw)
            except BaseException:
                for download in downloads.values():
                    download.cancel()
                raise
            finally:
                pool.shutdown(wait=True)
            for digest in downloads:
                self.ingest.remove(digest)
        return image_id

    def _extract(self, download: _Download, parent: LayerRecord | None, diff_id: Digest, lease, report: ProgressFn) -> LayerRecord:
        download.wait_started()
        reader = _GrowingBlob(download, report)
        try:
            record = self.store.create_layer(lease, parent, io.BufferedReader(reader, _CHUNK), diff_id, compression=None)
        except LaminaError:
            download.wait_finished(30.0)
            download.raise_error()  # a failed download explains a failed extraction best
            raise
        finally:
            reader.close()
        download.raise_error()
        report(Progress(download.short, "Pull complete"))
        return record

    def _record(self, ref: refs.Reference, digest: Digest, image_id: Digest) -> PullResult:
        store = self.store
        by_digest = refs.Reference(ref.domain, ref.path, None, digest)
        with self.service.changes(), store.lock():
            named = ref if ref.digest is None else by_digest
            updated = store.repositories.get(named) != image_id
            if ref.digest is None:
                store.repositories.set(ref, image_id)
            store.repositories.set(by_digest, image_id)
            store.images.touch(image_id)
        return PullResult(ref, digest, image_id, updated)


def _as_lamina(exc: BaseException) -> LaminaError:
    if isinstance(exc, LaminaError):
        return exc
    return RegistryUnavailable(str(exc) or type(exc).__name__)


def _parse(raw: bytes, media_type: str | None) -> Manifest | Index:
    kind = media_type if media_type in mt.MANIFESTS | mt.INDEXES else None
    if media_type in (mt.DOCKER_SCHEMA1, mt.DOCKER_SCHEMA1_SIGNED):
        raise Unsupported("image manifest schema 1 is not supported (deprecated by docker too); push it again with a current tool")
    return parse_manifest_or_index(raw, kind)


def _verified_digest(raw: bytes, expected: Digest | None, announced: str | None) -> Digest:
    """The manifest's digest; refuses bytes that are not what a digest reference named, or not
    what the registry said it sent."""
    if expected is not None:
        actual = Digest.of_bytes(raw, expected.algorithm)
        if actual != expected:
            raise DigestMismatch(f"manifest verification failed for digest {expected}")
        return expected
    actual = Digest.of_bytes(raw)
    if announced and announced.startswith("sha256:") and announced != str(actual):
        raise DigestMismatch(f"manifest verification failed: the registry announced {announced}, the bytes are {actual}")
    return actual


def _choose(index: Index, want: Platform) -> Descriptor:
    """The index entry for ``want`` (an entry without a variant matches any; arm64's v8 is the
    default variant), as docker's platform matcher."""
    candidates = []
    for desc in index.manifests:
        p = desc.platform
        if p is None or desc.media_type not in mt.MANIFESTS | mt.INDEXES:
            continue
        if p.os != want.os or p.architecture != want.architecture:
            continue
        if want.variant and p.variant and p.variant != want.variant:
            continue
        candidates.append(desc)
    if not candidates:
        variant = f"/{want.variant}" if want.variant else ""
        raise NotFound(f"no matching manifest for {want.os}/{want.architecture}{variant} in the manifest list entries")
    return candidates[0]


class _Download:
    """One blob into the ingest area: resumable, verified, observed by one reader."""

    def __init__(self, repository: Repository, desc: Descriptor, ingest: Ingest, report: ProgressFn) -> None:
        self.repository = repository
        self.desc = desc
        self.ingest = ingest
        self.report = report
        self.short = desc.digest.hex[:12]
        self.cond = threading.Condition()
        self.path: str | None = None
        self.written = 0
        self.started = False
        self.done = False
        self.error: BaseException | None = None
        self._cancelled = False

    # the download thread ----------------------------------------------------------------------
    def run(self) -> None:
        part: IngestFile | None = None
        try:
            part = self.ingest.acquire(self.desc.digest)
            hasher = self._resume(part)
            if self.written < self.desc.size:
                self._fetch(part, hasher)
            self.report(Progress(self.short, "Verifying Checksum"))
            actual = Digest(self.desc.digest.algorithm, hasher.hexdigest())
            if actual != self.desc.digest or self.written != self.desc.size:
                self.ingest.remove(self.desc.digest)  # never resume from bytes that lied
                raise DigestMismatch(f"filesystem layer verification failed for digest {self.desc.digest}")
            self.report(Progress(self.short, "Download complete"))
            with self.cond:
                self.done = True
                self.cond.notify_all()
        except BaseException as exc:
            with self.cond:
                self.error = exc if isinstance(exc, LaminaError | _Cancelled) else _as_lamina(exc)
                self.started = True
                self.cond.notify_all()
        finally:
            if part is not None:
                part.close()

    def _resume(self, part: IngestFile):
        """Hash what an earlier attempt left; continue after it."""
        hasher = hashlib.new(self.desc.digest.algorithm)
        size = part.size()
        if size > self.desc.size:
            os.ftruncate(part.fd, 0)
            size = 0
        offset = 0
        while offset < size:
            chunk = os.pread(part.fd, min(_CHUNK, size - offset), offset)
            if not chunk:
                break
            hasher.update(chunk)
            offset += len(chunk)
        os.lseek(part.fd, size, os.SEEK_SET)
        with self.cond:
            self.path = part.path
            self.written = size
            self.started = True
            self.cond.notify_all()
        return hasher

    def _fetch(self, part: IngestFile, hasher) -> None:
        failures = 0
        delay = 0.25
        last_report = 0.0
        total = self.desc.size
        while self.written < total:
            before = self.written
            try:
                with closing(self.repository.open_blob(self.desc.digest, self.written)) as response:
                    skip = self._skip_for(response)
                    for chunk in response.iter_raw(_CHUNK):
                        if self._cancelled:
                            raise _Cancelled()
                        if skip:
                            drop = min(skip, len(chunk))
                            chunk, skip = chunk[drop:], skip - drop
                            if not chunk:
                                continue
                        if self.written + len(chunk) > total:
                            self.ingest.remove(self.desc.digest)
                            raise DigestMismatch(
                                f"filesystem layer verification failed for digest {self.desc.digest}: "
                                f"more than the {total} bytes the manifest declares"
                            )
                        _write_all(part.fd, chunk)
                        hasher.update(chunk)
                        with self.cond:
                            self.written += len(chunk)
                            self.cond.notify_all()
                        now = time.monotonic()
                        if now - last_report >= _REPORT_EVERY:
                            last_report = now
                            self.report(Progress(self.short, "Downloading", self.written, total))
                if self.written < total:
                    raise httpx.ReadError("the connection closed before the end of the blob")
            except (httpx.TransportError, RegistryUnavailable) as exc:
                failures = 0 if self.written > before else failures + 1
                if failures >= RETRIES:
                    raise RegistryUnavailable(f"download of {self.desc.digest} failed: {exc}") from None
                time.sleep(delay if self.written == before else 0)
                delay = min(delay * 2, 4.0) if self.written == before else 0.25
        self.report(Progress(self.short, "Downloading", self.written, total))

    def _skip_for(self, response: httpx.Response) -> int:
        """Bytes of the body that we already hold: none after a 206 that starts where we are;
        all the known prefix after a 200 (the registry ignored Range)."""
        if response.status_code == 206:
            start = response.headers.get("Content-Range", "").removeprefix("bytes ").split("-", 1)[0]
            if start.isdigit() and int(start) == self.written:
                return 0
            raise httpx.ReadError(f"the registry answered Range {self.written}- with {response.headers.get('Content-Range')!r}")
        return self.written

    def cancel(self) -> None:
        self._cancelled = True

    # the reader's side ------------------------------------------------------------------------
    def wait_started(self) -> None:
        with self.cond:
            while not self.started:
                self.cond.wait(1.0)
        if self.path is None:
            self.raise_error()

    def wait_finished(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        with self.cond:
            while not self.done and self.error is None and time.monotonic() < deadline:
                self.cond.wait(0.5)

    def raise_error(self) -> None:
        if self.error is not None and not isinstance(self.error, _Cancelled):
            raise self.error


class _Cancelled(Exception):
    pass


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class _GrowingBlob(io.RawIOBase):
    """Reads a blob file while its download writes it; the last byte only once verified."""

    def __init__(self, download: _Download, report: ProgressFn) -> None:
        self._download = download
        assert download.path is not None
        self._file = open(download.path, "rb", buffering=0)  # noqa: SIM115 - closed in close()
        self._pos = 0
        self._report = report
        self._last_report = 0.0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        download = self._download
        total = download.desc.size
        with download.cond:
            while True:
                if download.error is not None:
                    raise download.error
                limit = download.written if download.done else min(download.written, total - 1)
                if limit > self._pos:
                    break
                if download.done:
                    return 0
                download.cond.wait(1.0)
        n = self._file.readinto(memoryview(buffer)[: limit - self._pos])
        self._pos += n or 0
        now = time.monotonic()
        if now - self._last_report >= _REPORT_EVERY or self._pos == total:
            self._last_report = now
            self._report(Progress(download.short, "Extracting", self._pos, total))
        return n or 0

    def close(self) -> None:
        if not self.closed:
            self._file.close()
        super().close()
