"""The image catalog: a read model of the image store, so ``images`` and ``inspect`` read one file.

Docker answers ``docker images`` from a daemon that holds the image store in memory. lamina has
no daemon; without this file every ``lamina images`` reads one config per image, the layer
records under it and repositories.json, and parses them all again. The catalog keeps what those
commands show, computed once after each change:

- one record per image (ID, references, created time, size, parent, labels, whether it has
  children), newest first, as ``ImageService.summaries`` returns them;
- every spelling of every reference that resolves to an image without help (``busybox``,
  ``busybox:latest``, ``docker.io/library/busybox:latest``, full IDs);
- each image's ``inspect`` document, already rendered as docker's indented JSON.

It is a cache, never a source of truth: deleting it is always safe, and a reader that finds it
missing, unreadable, of another format or out of date rebuilds it from the store.

Keeping it current (DESIGN principle 5, crash and concurrency safety):

- every writer of what the catalog shows (``ImageDB``, ``Repositories``, ``LayerDB``) holds the
  store lock and takes the catalog out of use (renames it ``catalog.previous``) before it
  changes anything, so a writer killed half-way leaves no current catalog, never a stale one;
- the command that made the change writes a new catalog when it is done (``Store.changes``),
  as dockerd updates its in-memory store, so the next ``images`` or ``inspect`` is fast; a
  command killed first leaves that to the next reader;
- the catalog is (re)built only under the store lock, so no writer runs while the store is
  read, and the catalog written describes one consistent state; a rebuild reuses the records
  and documents of the previous catalog for images whose references, parent and
  ``lastUpdated`` stamp are unchanged (their config and layers are immutable), so a change
  costs a few small reads, not a pass over every image;
- the catalog also records a signature (the data root and stat results of repositories.json and
  the imagedb/layerdb directories); a reader that sees another signature rebuilds, which covers
  a store changed by a tool that does not know about the catalog.

The format is ``marshal`` of plain tuples, strings and dicts (``read`` has the file's layout):
loading it needs no import at all
(``json`` pulls in ``re`` and ``enum``, 10 ms of start-up on this class of machine, more than
docker's whole ``docker image inspect``). marshal is Python's own format for ``.pyc`` files;
the header line names the catalog's format and lengths, and a file that does not match or
parse is rebuilt. The file is written by lamina, as root, under the data root, and is trusted
as much as the rest of the store.

The reading half imports only ``marshal`` and ``posix`` (both built into the interpreter): the
fast CLI path (``lamina.cli.fast``) reads the catalog before anything else is loaded, and
``import os`` alone costs ~2 ms there (its ``_collections_abc``), an eighth of the budget.
"""

import marshal
import posix

__all__ = [
    "FORMAT",
    "CatalogImage",
    "Catalog",
    "catalog_path",
    "previous_path",
    "read_previous",
    "join",
    "is_dir",
    "signature",
    "read",
    "write",
    "invalidate",
]

#: bumped whenever the record layout changes; a catalog of another format is rebuilt
FORMAT = 1
_MAGIC = "lamina-image-catalog"


class CatalogImage:
    """One image as ``image ls`` shows it (a plain class: a dataclass costs start-up time)."""

    __slots__ = (
        "id",
        "repo_tags",
        "repo_digests",
        "created",
        "created_ts",
        "size",
        "parent",
        "labels",
        "has_children",
        "last_tag_time",
    )

    def __init__(
        self,
        id: str,
        repo_tags: tuple[str, ...],
        repo_digests: tuple[str, ...],
        created: str,
        created_ts: float | None,
        size: int,
        parent: str | None,
        labels: dict[str, str],
        has_children: bool,
        last_tag_time: str | None,
    ) -> None:
        self.id = id
        self.repo_tags = repo_tags
        self.repo_digests = repo_digests
        self.created = created
        self.created_ts = created_ts
        self.size = size
        self.parent = parent
        self.labels = labels
        self.has_children = has_children
        #: the image's ``lastUpdated`` stamp (inspect's LastTagTime): rewritten whenever the image
        #: is registered or tagged, so with its references and parent it tells a rebuild whether
        #: this record and document can be reused
        self.last_tag_time = last_tag_time

    def as_tuple(self) -> tuple:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __repr__(self) -> str:
        return f"CatalogImage({self.id!r}, tags={self.repo_tags!r})"


class Catalog:
    """A catalog: the image records, the name table and the rendered inspect documents.

    Built in memory by ``ImageService``, or read from the file, where each part is decoded only
    when first used: ``inspect busybox`` needs the names and one document, ``images`` only the
    records.
    """

    __slots__ = ("_images", "_names", "_doc_index", "_docs", "_file")

    def __init__(
        self,
        images: list[CatalogImage] | None,
        names: dict[str, str] | None,
        docs: dict[str, str] | None = None,
        file: "_CatalogFile | None" = None,
    ) -> None:
        self._images = images
        self._names = names
        self._doc_index: dict[str, tuple[int, int]] = {}
        self._docs = docs or {}
        self._file = file

    @property
    def images(self) -> list[CatalogImage]:
        if self._images is None:
            self._images = [CatalogImage(*fields) for fields in marshal.loads(self._file.section(1))]
        return self._images

    @property
    def names(self) -> dict[str, str]:
        if self._names is None:
            self._names, self._doc_index = marshal.loads(self._file.section(2))
        return self._names

    def inspect_json(self, image_id: str) -> str | None:
        """The image's inspect document as docker's ``json.dumps(doc, indent=4)`` prints it."""
        text = self._docs.get(image_id)
        if text is None and self._file is not None:
            self.names  # noqa: B018 - decodes the document index with the names
            where = self._doc_index.get(image_id)
            if where is not None:
                try:
                    text = self._file.document(*where).decode("utf-8")
                except (OSError, UnicodeDecodeError):
                    return None
        return text

    def resolve(self, name: str) -> str | None:
        """The image ID ``name`` certainly means, or None when only the full resolver can tell
        (an unknown name, an ambiguous ID prefix, a spelling not in the table)."""
        found = self.names.get(name)
        if found is not None:
            return found
        hexpart = name[7:] if name.startswith("sha256:") else name
        if not hexpart or len(hexpart) > 64 or hexpart.strip("0123456789abcdef"):
            return None
        matches = [image.id for image in self.images if image.id[7:].startswith(hexpart)]
        return matches[0] if len(matches) == 1 else None


def join(base: str, *parts: str) -> str:
    """``os.path.join`` for relative ``parts`` (without loading ``os``)."""
    return "/".join([base.rstrip("/") or "", *parts]) if base != "/" else "/" + "/".join(parts)


def is_dir(path: str) -> bool:
    try:
        return posix.stat(path).st_mode & 0o170000 == 0o040000
    except OSError:
        return False


def catalog_path(image_dir: str) -> str:
    """``image/<driver>/catalog`` beside repositories.json."""
    return join(image_dir, "catalog")


def previous_path(image_dir: str) -> str:
    """``image/<driver>/catalog.previous``: the catalog as it was before the last change."""
    return join(image_dir, "catalog.previous")


def signature(root: str, image_dir: str) -> tuple:
    """What must be unchanged for a catalog to still describe the store.

    Directory mtimes change when an image config or a layer record is added or removed;
    repositories.json is replaced (new inode) on every tag change.
    """
    parts: list[object] = [root]
    for path in (
        join(image_dir, "repositories.json"),
        join(image_dir, "imagedb", "content", "sha256"),
        join(image_dir, "imagedb", "metadata", "sha256"),
        join(image_dir, "layerdb", "sha256"),
    ):
        try:
            st = posix.stat(path)
        except OSError:
            parts.append(None)
            continue
        parts.append((st.st_ino, st.st_mtime_ns, st.st_size))
    return tuple(parts)


class _CatalogFile:
    """An open catalog file whose length matched its header: its sections, read on demand from
    the one descriptor (so every part comes from the same file, even if a writer replaces it).

    The file is a header line ``lamina-image-catalog <format> <signature bytes> <records bytes>
    <names bytes> <documents bytes>`` (a file cut short is known by its length), then the
    marshalled signature, the marshalled records, the marshalled names and document index, and
    the documents' UTF-8 text.
    """

    _FIRST_READ = 1 << 16  # header, signature and, for a few hundred images, records and names

    def __init__(self, fd: int, first: bytes, starts: list[int]) -> None:
        self.fd = fd
        self.first = first
        self.starts = starts  # where each section begins; the last entry is the file's end

    @classmethod
    def open(cls, path: str) -> "_CatalogFile | None":
        try:
            fd = posix.open(path, posix.O_RDONLY | posix.O_CLOEXEC)
        except OSError:
            return None
        try:
            size = posix.fstat(fd).st_size
            first = posix.pread(fd, cls._FIRST_READ, 0)
            end = first.find(b"\n", 0, 160)
            magic, fmt, *lengths = first[:end].decode("ascii").split(" ")
            if magic != _MAGIC or fmt != str(FORMAT) or len(lengths) != 4:
                raise ValueError("not a catalog of this format")
            starts = [end + 1]
            for length in lengths:
                starts.append(starts[-1] + int(length))
            if starts[-1] != size:
                raise ValueError("cut short")  # a disk that filled, a crash before the rename was durable
        except (OSError, ValueError, UnicodeDecodeError):
            posix.close(fd)
            return None
        return cls(fd, first, starts)

    def section(self, index: int) -> bytes:
        start, end = self.starts[index], self.starts[index + 1]
        if end <= len(self.first):
            return self.first[start:end]
        return self._pread(end - start, start)

    def document(self, offset: int, length: int) -> bytes:
        return self._pread(length, self.starts[3] + offset)

    def _pread(self, length: int, offset: int) -> bytes:
        data = posix.pread(self.fd, length, offset)
        if len(data) != length:
            raise OSError("catalog shorter than its header says")
        return data

    def __del__(self) -> None:
        try:
            posix.close(self.fd)
        except OSError:
            pass


def _load(path: str, lazy: bool = False) -> tuple[tuple, Catalog] | None:
    """A catalog file's signature and content, or None if it is missing, damaged or foreign.

    Unless ``lazy``, every part but the documents is decoded now, so that damage shows here.
    """
    source = _CatalogFile.open(path)
    if source is None:
        return None
    try:
        sig = marshal.loads(source.section(0))
        catalog = Catalog(None, None, file=source)
        if not lazy:
            catalog.images  # noqa: B018 - decode now, to find damage now
            catalog.names  # noqa: B018
    except (EOFError, ValueError, TypeError, OSError):
        return None
    return sig, catalog


def read(root: str, image_dir: str, lazy: bool = False) -> Catalog | None:
    """The catalog if it is there, readable, of this format and current; else None.

    ``lazy`` (the fast CLI path) decodes each part only when it is used; a damaged part then
    raises there, and the caller must treat any error as "no catalog".
    """
    loaded = _load(catalog_path(image_dir), lazy)
    if loaded is None or loaded[0] != signature(root, image_dir):
        return None
    return loaded[1]


def read_previous(root: str, image_dir: str) -> Catalog | None:
    """The last catalog written for this data root, current or not: a rebuild reuses the
    records and documents of images that have not changed since (``CatalogImage.last_tag_time``)."""
    for path in (catalog_path(image_dir), previous_path(image_dir)):
        loaded = _load(path)
        if loaded is not None and loaded[0][:1] == (root,):
            return loaded[1]
    return None


def write(root: str, image_dir: str, catalog: Catalog, sig: tuple) -> None:
    """Replace the catalog atomically (the caller holds the store lock).

    ``sig`` is the signature taken *before* the store was read, so a change made meanwhile by
    a tool that ignores the lock shows as a mismatch rather than being hidden.
    """
    from . import atomic

    blob = bytearray()
    doc_index: dict[str, tuple[int, int]] = {}
    for image in catalog.images:
        text = catalog.inspect_json(image.id)
        if text is not None:
            encoded = text.encode("utf-8")
            doc_index[image.id] = (len(blob), len(encoded))
            blob += encoded
    sections = [
        marshal.dumps(sig),
        marshal.dumps([image.as_tuple() for image in catalog.images]),
        marshal.dumps((catalog.names, doc_index)),
        bytes(blob),
    ]
    header = " ".join([_MAGIC, str(FORMAT), *(str(len(part)) for part in sections)]) + "\n"
    atomic.write_file(catalog_path(image_dir), header.encode("ascii") + b"".join(sections), durable=False)
    try:
        posix.unlink(previous_path(image_dir))
    except FileNotFoundError:
        pass


def invalidate(image_dir: str) -> None:
    """Take the catalog out of use; every writer calls this, under the lock, before it changes
    the store. It is renamed, not deleted, so that the rebuild can reuse what did not change."""
    try:
        posix.rename(catalog_path(image_dir), previous_path(image_dir))
    except FileNotFoundError:
        pass
