"""Image tar archives: docker-archive (``docker save``) and OCI image layouts, read and written.

Writing produces one tar that both worlds read: an OCI image layout (``oci-layout``,
``index.json``, ``blobs/sha256/…``) plus docker's ``manifest.json`` and ``repositories``,
the shape docker 25+ writes, which docker 20.10's ``load`` also reads (it follows the paths in
manifest.json). ``--format oci`` leaves the docker files out. Layers are written uncompressed by
default, so each layer blob's digest is its DiffID and a save → load → save round trip is
byte-stable; ``--compression gzip|zstd`` compresses them deterministically, so a lamina archive
saved again in the same compression keeps its blob digests too. (A layer compressed by another
tool cannot be re-saved with its original bytes: lamina keeps layers, not their blobs.)

Reading accepts a docker-archive (legacy ``<id>/layer.tar`` or blob paths, layers plain or
compressed) and an OCI layout (nested indexes, gzip/zstd layers, digests verified).
"""

from __future__ import annotations

import json
import os
import queue
import shutil
import tarfile
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import IO, BinaryIO

from .. import reference as refs
from ..archive.compression import detect, open_decompressed
from ..digest import Digest, Hasher, VerifyingReader
from ..errors import DigestMismatch, InvalidArgument, NotFound, StoreCorrupt
from ..oci import Descriptor, ImageConfig, Index, Manifest, parse_manifest_or_index
from ..oci import mediatypes as mt

BLOCK = 512


# reading -------------------------------------------------------------------------------------
@dataclass
class ArchiveLayer:
    """One layer inside an archive: where it is and what it must hash to."""

    member: str
    expected_diff_id: Digest | None
    blob_digest: Digest | None = None  # OCI layouts name compressed blobs by digest
    media_type: str | None = None


@dataclass
class ArchiveImage:
    config_raw: bytes
    layers: list[ArchiveLayer]
    tags: list[str] = field(default_factory=list)

    @property
    def config(self) -> ImageConfig:
        return ImageConfig.parse(self.config_raw)


class ImageArchive:
    """Random access to the members of an image tar (spooled to disk when not seekable)."""

    def __init__(self, source: BinaryIO, tmp_dir: str, limits=None) -> None:
        self._spool: IO[bytes] | None = None
        self._limits = limits  # the user's bomb limits, for each layer as well as the whole tar
        stream = source
        seekable = _seekable(source)
        head = _peek(source) if seekable else b""
        if not seekable or detect(head) != "none":
            stream = open_decompressed(source, limits=limits)
            self._spool = tempfile.TemporaryFile(dir=tmp_dir)
            shutil.copyfileobj(stream, self._spool, 1 << 20)
            self._spool.seek(0)
            stream = self._spool
        try:
            self._tar = tarfile.open(fileobj=stream, mode="r:")
            self._members = {_clean(m.name): m for m in self._tar.getmembers()}
        except tarfile.TarError as exc:
            raise InvalidArgument(f"invalid image archive: {exc}") from None

    def close(self) -> None:
        self._tar.close()
        if self._spool is not None:
            self._spool.close()

    def __enter__(self) -> ImageArchive:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def has(self, name: str) -> bool:
        return _clean(name) in self._members

    def open(self, name: str) -> BinaryIO:
        member = self._members.get(_clean(name))
        if member is None:
            raise InvalidArgument(f"invalid image archive: {name} is missing")
        while member.issym() or member.islnk():  # docker's legacy format links duplicate layers
            target = member.linkname if member.islnk() else os.path.normpath(
                os.path.join(os.path.dirname(member.name), member.linkname)
            )
            member = self._members.get(_clean(target))
            if member is None:
                raise InvalidArgument(f"invalid image archive: {name} links to a missing file")
        if not member.isfile():
            raise InvalidArgument(f"invalid image archive: {name} is not a file")
        f = self._tar.extractfile(member)
        assert f is not None
        return f

    def read(self, name: str, limit: int = 64 << 20) -> bytes:
        with self.open(name) as f:
            data = f.read(limit + 1)
        if len(data) > limit:
            raise InvalidArgument(f"invalid image archive: {name} is too large")
        return data

    def images(self) -> list[ArchiveImage]:
        if self.has("manifest.json"):
            return self._docker_images()
        if self.has("index.json"):
            return self._oci_images()
        raise InvalidArgument("invalid image archive: neither manifest.json nor index.json found")

    def _docker_images(self) -> list[ArchiveImage]:
        try:
            entries = json.loads(self.read("manifest.json"))
        except ValueError as exc:
            raise InvalidArgument(f"invalid image archive: manifest.json: {exc}") from None
        if not isinstance(entries, list):
            raise InvalidArgument("invalid image archive: manifest.json is not a list")
        out = []
        for entry in entries:
            if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
                raise InvalidArgument("invalid image archive: manifest.json entry without Config")
            raw = self.read(entry["Config"])
            config = ImageConfig.parse(raw)
            layers = entry.get("Layers") or []
            if not isinstance(layers, list) or not all(isinstance(p, str) and p for p in layers):
                raise InvalidArgument("invalid image archive: manifest.json Layers must be a list of paths")
            if len(layers) != len(config.diff_ids):
                raise InvalidArgument(
                    "invalid image archive: the number of layers does not match the config's diff_ids"
                )
            tags = entry.get("RepoTags") or []
            if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
                raise InvalidArgument("invalid image archive: manifest.json RepoTags must be a list of names")
            out.append(
                ArchiveImage(
                    raw,
                    [ArchiveLayer(path, diff) for path, diff in zip(layers, config.diff_ids, strict=True)],
                    tags,
                )
            )
        return out

    def _blob_path(self, digest: Digest) -> str:
        return f"blobs/{digest.algorithm}/{digest.hex}"

    def _read_blob(self, desc: Descriptor, limit: int = 16 << 20) -> bytes:
        if desc.size > limit:
            raise InvalidArgument(f"invalid image layout: {desc.digest} is too large")
        data = self.read(self._blob_path(desc.digest), limit)
        if Digest.of_bytes(data, desc.digest.algorithm) != desc.digest:
            raise DigestMismatch(f"invalid image layout: blob {desc.digest} does not match its digest")
        return data

    def _oci_images(self) -> list[ArchiveImage]:
        raw_index = self.read("index.json")
        index = Index.parse(raw_index, mt.OCI_INDEX)
        out: list[ArchiveImage] = []
        for desc in index.manifests:
            name = _ref_name(desc)
            for manifest in self._manifests(desc, depth=0):
                config_raw = self._read_blob(manifest.config)
                config = ImageConfig.parse(config_raw)
                if len(manifest.layers) != len(config.diff_ids):
                    raise InvalidArgument("invalid image layout: layers do not match the config's diff_ids")
                layers = [
                    ArchiveLayer(self._blob_path(layer.digest), diff, layer.digest, layer.media_type)
                    for layer, diff in zip(manifest.layers, config.diff_ids, strict=True)
                ]
                out.append(ArchiveImage(config_raw, layers, [name] if name else []))
        return out

    def _manifests(self, desc: Descriptor, depth: int) -> Iterator[Manifest]:
        if depth > 4:
            raise InvalidArgument("invalid image layout: indexes nested too deeply")
        doc = parse_manifest_or_index(self._read_blob(desc), desc.media_type)
        if isinstance(doc, Manifest):
            yield doc
            return
        from ..image.config import go_arch

        children = list(doc.manifests)
        for child in children:
            if child.platform is None or (child.platform.os == "linux" and child.platform.architecture == go_arch()):
                yield from self._manifests(child, depth + 1)
                return
        raise NotFound(f"no image for linux/{go_arch()} in the index")

    def layer_compression(self, layer: ArchiveLayer) -> str | None:
        """"gzip" or "zstd" when the layout declares the blob compressed so, else None."""
        if not layer.media_type:
            return None
        return {"gzip": "gzip", "zstd": "zstd"}.get(mt.compression_of(layer.media_type))

    def open_layer(self, layer: ArchiveLayer) -> BinaryIO:
        """The layer's uncompressed stream (not verified: for reading its headers)."""
        raw, _ = self.open_layer_blob(layer)
        return open_decompressed(raw, kind=self.layer_compression(layer), limits=self._limits)

    def open_layer_blob(self, layer: ArchiveLayer, tee: BinaryIO | None = None) -> tuple[BinaryIO, VerifyingReader | None]:
        """The layer's blob as the archive holds it (compressed as :meth:`layer_compression`
        says, or to be detected when it says None), and the verifier of its blob digest (if
        any). ``tee`` receives the blob's bytes as they are read (to keep it)."""
        raw = self.open(layer.member)
        if tee is not None:
            raw = _TeeReader(raw, tee)
        verifier = None
        if layer.blob_digest is not None:
            verifier = VerifyingReader(raw, layer.blob_digest)
            raw = verifier
        return raw, verifier


class _TeeReader:
    def __init__(self, raw: BinaryIO, copy: BinaryIO) -> None:
        self._raw = raw
        self._copy = copy

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        data = self._raw.read(n)
        if data:
            self._copy.write(data)
        return data


def _ref_name(desc: Descriptor) -> str | None:
    annotations = desc.annotations or {}
    full = annotations.get("io.containerd.image.name")
    if full:
        return full
    short = annotations.get("org.opencontainers.image.ref.name")
    if short and refs.is_valid_tag(short):
        return None  # a bare tag has no repository to go with it
    return short


def _clean(name: str) -> str:
    """Member names compare after normalisation (``./a//b`` is ``a/b``); lookups only."""
    return os.path.normpath("/" + name).lstrip("/")


def _seekable(f: BinaryIO) -> bool:
    try:
        return f.seekable()
    except (AttributeError, ValueError):
        return False


def _peek(f: BinaryIO) -> bytes:
    pos = f.tell()
    head = f.read(512)
    f.seek(pos)
    return head


# writing -------------------------------------------------------------------------------------
@dataclass
class LayerSource:
    diff_id: Digest
    size: int  # uncompressed tar length
    write: Callable[[BinaryIO], None]  # writes the tar stream
    #: a blob kept in this compression, as it arrived: (path, digest, size), or None
    kept: Callable[[str], tuple[str, Digest, int] | None] = lambda kind: None


@dataclass
class ImageToSave:
    config_raw: bytes
    layers: list[LayerSource]
    tags: list[refs.Reference]


class TarWriter:
    """A minimal streaming tar writer: headers from tarfile, payloads written straight through."""

    def __init__(self, out: BinaryIO, mtime: int = 0) -> None:
        self.out = out
        self.mtime = mtime
        self._dirs: set[str] = set()

    def _header(self, name: str, size: int, kind: bytes = tarfile.REGTYPE, mode: int = 0o644) -> None:
        info = tarfile.TarInfo(name)
        info.size, info.type, info.mode, info.mtime = size, kind, mode, self.mtime
        self.out.write(info.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))

    def directory(self, name: str) -> None:
        if name not in self._dirs:
            self._dirs.add(name)
            self._header(name.rstrip("/") + "/", 0, tarfile.DIRTYPE, 0o755)

    def file(self, name: str, data: bytes) -> None:
        self._header(name, len(data))
        self.out.write(data)
        self._pad(len(data))

    def stream(self, name: str, size: int, write: Callable[[BinaryIO], None], expect: Digest) -> None:
        self._header(name, size)
        counter = _HashingPassOn(self.out)
        try:
            write(counter)
        finally:
            counter.close()
        if counter.hasher.size != size or counter.hasher.digest() != expect:
            raise StoreCorrupt(
                f"layer {expect} could not be reproduced exactly from the store "
                f"(got {counter.hasher.digest()}, {counter.hasher.size} bytes); run 'lamina system check'"
            )
        self._pad(size)

    def _pad(self, size: int) -> None:
        if size % BLOCK:
            self.out.write(b"\0" * (BLOCK - size % BLOCK))

    def close(self) -> None:
        self.out.write(b"\0" * (BLOCK * 2))
        self.out.flush()


def _write_layer(tar: TarWriter, layer: LayerSource, compression: str, scratch: str | None) -> Descriptor:
    media_type = _LAYER_MEDIA_TYPES[compression]
    if compression == "none":
        tar.stream(f"blobs/sha256/{layer.diff_id.hex}", layer.size, layer.write, layer.diff_id)
        return Descriptor(media_type, layer.diff_id, layer.size)
    kept = layer.kept(compression)
    if kept is not None:  # the bytes the layer arrived as: its digest survives the round trip
        path, digest, size = kept
        blob: BinaryIO = open(path, "rb")  # noqa: SIM115 - closed by the with below
    else:
        blob, digest, size = _compressed_blob(layer, compression, scratch)
    with blob:  # tar.stream checks the bytes against the digest on the way out
        tar.stream(f"blobs/sha256/{digest.hex}", size, lambda out: shutil.copyfileobj(blob, out, 1 << 20), digest)
    return Descriptor(media_type, digest, size)


class _HashingWriter:
    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.hasher = Hasher()

    def write(self, data) -> int:
        self.hasher.update(data)
        self.out.write(data)
        return len(data)

    def flush(self) -> None:
        self.out.flush()


class _HashingPassOn:
    """A writer that gathers what it is given into 1 MiB pieces and has a thread of its own
    hash them and write them on: ``save`` assembles a layer from many small writes (a header,
    a file's chunk) in the calling thread while the hashing and the writing of the archive,
    which release the GIL, overlap with it. :meth:`close` waits for the last piece and raises
    the thread's failure (a full disk)."""

    _PIECE = 1 << 20

    def __init__(self, out: BinaryIO) -> None:
        self.out = out
        self.hasher = Hasher()
        self._buf = bytearray()
        self._queue: queue.Queue = queue.Queue(maxsize=8)
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="save-writer", daemon=True)
        self._thread.start()

    def write(self, data) -> int:
        if self._error is not None:
            raise self._error
        n = len(data)
        if n >= self._PIECE // 4:  # large: no copy into the buffer
            self._pass_buffer()
            self._queue.put(bytes(data))
        else:
            self._buf += data
            if len(self._buf) >= self._PIECE:
                self._pass_buffer()
        return n

    def _pass_buffer(self) -> None:
        if self._buf:
            self._queue.put(bytes(self._buf))
            self._buf.clear()

    def _run(self) -> None:
        while (piece := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain, so the writing thread is never stuck on a full queue
            try:
                self.hasher.update(piece)
                self.out.write(piece)
            except BaseException as exc:  # noqa: BLE001 - raised in the writing thread
                self._error = exc

    def flush(self) -> None:
        pass

    def close(self) -> None:
        if self._thread.is_alive():
            self._pass_buffer()
            self._queue.put(None)
            self._thread.join()
        if self._error is not None:
            raise self._error


#: layer media types by the compression ``save`` writes them with
_LAYER_MEDIA_TYPES = {"none": mt.OCI_LAYER, "gzip": mt.OCI_LAYER_GZIP, "zstd": mt.OCI_LAYER_ZSTD}


def _compressed_blob(layer: LayerSource, kind: str, scratch: str | None) -> tuple[BinaryIO, Digest, int]:
    """The layer compressed with ``kind`` in an anonymous scratch file (a tar header needs the
    size first), its digest and size. The uncompressed stream is checked against the DiffID on
    the way. gzip (isal, level 1, no timestamp) and zstd (level 3) are deterministic, so saving
    the same layer twice gives the same blob digest."""
    from ..archive.compression import compressor

    blob = tempfile.TemporaryFile(dir=scratch)
    try:
        digester = _HashingWriter(blob)
        with compressor(digester, kind) as packed:
            plain = _HashingWriter(packed)
            layer.write(plain)
        if plain.hasher.size != layer.size or plain.hasher.digest() != layer.diff_id:
            raise StoreCorrupt(
                f"layer {layer.diff_id} could not be reproduced exactly from the store; run 'lamina system check'"
            )
        blob.seek(0)
        return blob, digester.hasher.digest(), digester.hasher.size
    except BaseException:
        blob.close()
        raise


def write_archive(
    images: list[ImageToSave],
    out: BinaryIO,
    fmt: str = "docker",
    compression: str = "none",
    scratch: str | None = None,
) -> None:
    """Write images to one tar: OCI layout plus (``fmt="docker"``) manifest.json/repositories.

    ``compression`` (none, gzip, zstd) applies to layer blobs; uncompressed blobs are named by
    their DiffID, as ``docker save`` writes them.
    """
    if fmt not in ("docker", "oci"):
        raise InvalidArgument(f"unknown archive format {fmt!r} (use docker or oci)")
    if compression not in _LAYER_MEDIA_TYPES:
        raise InvalidArgument(f"unknown layer compression {compression!r} (use none, gzip or zstd)")
    tar = TarWriter(out)
    tar.file("oci-layout", b'{"imageLayoutVersion":"1.0.0"}')
    tar.directory("blobs")
    tar.directory("blobs/sha256")
    written: set[Digest] = set()
    blobs: dict[Digest, Descriptor] = {}  # DiffID -> the blob written for it
    index_entries, docker_manifest, repositories = [], [], {}
    for image in images:
        config_digest = Digest.of_bytes(image.config_raw)
        layer_descs = []
        for layer in image.layers:
            if layer.diff_id not in blobs:
                blobs[layer.diff_id] = _write_layer(tar, layer, compression, scratch)
                written.add(blobs[layer.diff_id].digest)
            layer_descs.append(blobs[layer.diff_id])
        if config_digest not in written:
            written.add(config_digest)
            tar.file(f"blobs/sha256/{config_digest.hex}", image.config_raw)
        manifest = Manifest.build(
            Descriptor(mt.OCI_CONFIG, config_digest, len(image.config_raw)),
            layer_descs,
            media_type=mt.OCI_MANIFEST,
        )
        if manifest.digest not in written:
            written.add(manifest.digest)
            tar.file(f"blobs/sha256/{manifest.digest.hex}", manifest.raw)
        desc = {"mediaType": mt.OCI_MANIFEST, "digest": str(manifest.digest), "size": len(manifest.raw)}
        if image.tags:
            for tag in image.tags:
                index_entries.append(
                    {
                        **desc,
                        "annotations": {
                            "io.containerd.image.name": str(tag),
                            "org.opencontainers.image.ref.name": tag.tag or "latest",
                        },
                    }
                )
        else:
            index_entries.append(desc)
        docker_manifest.append(
            {
                "Config": f"blobs/sha256/{config_digest.hex}",
                "RepoTags": [t.familiar() for t in image.tags] or None,
                "Layers": [f"blobs/sha256/{blobs[layer.diff_id].digest.hex}" for layer in image.layers],
            }
        )
        if image.layers:
            for tag in image.tags:
                repositories.setdefault(tag.familiar_name, {})[tag.tag or "latest"] = image.layers[-1].diff_id.hex
    index = {"schemaVersion": 2, "mediaType": mt.OCI_INDEX, "manifests": index_entries}
    tar.file("index.json", json.dumps(index, separators=(",", ":")).encode())
    if fmt == "docker":
        tar.file("manifest.json", json.dumps(docker_manifest, separators=(",", ":")).encode())
        if repositories:
            tar.file("repositories", json.dumps(repositories, separators=(",", ":")).encode())
    tar.close()
