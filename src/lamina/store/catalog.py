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
docker's whole ``docker image inspect``). marshal is Python's own format for ``.pyc`` files and
is version-checked here like them; the file is written by lamina, as root, under the data root,
and is trusted as much as the rest of the store.

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

    def __eq__(self, other: object) -> bool:
        return isinstance(other, CatalogImage) and self.as_tuple() == other.as_tuple()

    def __repr__(self) -> str:
        return f"CatalogImage({self.id!r}, tags={self.repo_tags!r})"


class Catalog:
    """A loaded catalog: the image records, the name table and the rendered inspect documents."""

    __slots__ = ("images", "names", "_docs", "_blob", "_doc_index")

    def __init__(
        self,
        images: list[CatalogImage],
        names: dict[str, str],
        docs: dict[str, str] | None = None,
        blob: bytes = b"",
        doc_index: dict[str, tuple[int, int]] | None = None,
    ) -> None:
        self.images = images
        self.names = names
        self._docs = docs or {}
        self._blob = blob
        self._doc_index = doc_index or {}

    def inspect_json(self, image_id: str) -> str | None:
        """The image's inspect document as docker's ``json.dumps(doc, indent=4)`` prints it."""
        text = self._docs.get(image_id)
        if text is None and image_id in self._doc_index:
            offset, length = self._doc_index[image_id]
            text = self._blob[offset : offset + length].decode("utf-8")
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


def _load(path: str) -> tuple[tuple, Catalog] | None:
    """A catalog file's signature and content, or None if it is missing, damaged or foreign.

    The file is a header line (``lamina-image-catalog <format> <head bytes> <document bytes>``,
    so a file cut short is known by its length), the marshalled head (signature, records,
    names, where each document lies) and the documents' UTF-8 text, so ``images`` and a
    one-image ``inspect`` never decode the other images' documents.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    end = data.find(b"\n", 0, 80)
    try:
        magic, fmt, head_len, blob_len = data[:end].decode("ascii").split(" ")
        if magic != _MAGIC or fmt != str(FORMAT):
            return None
        head_start = end + 1
        head_end = head_start + int(head_len)
        if len(data) != head_end + int(blob_len):
            return None  # cut short (a disk that filled, a crash before the rename was durable)
        sig, images, names, doc_index = marshal.loads(data[head_start:head_end])
        records = [CatalogImage(*fields) for fields in images]
    except (EOFError, ValueError, TypeError, UnicodeDecodeError):
        return None
    return sig, Catalog(records, names, blob=data[head_end:], doc_index=doc_index)


def read(root: str, image_dir: str) -> Catalog | None:
    """The catalog if it is there, readable, of this format and current; else None."""
    loaded = _load(catalog_path(image_dir))
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
    head = marshal.dumps((sig, [image.as_tuple() for image in catalog.images], catalog.names, doc_index))
    header = f"{_MAGIC} {FORMAT} {len(head)} {len(blob)}\n".encode("ascii")
    atomic.write_file(catalog_path(image_dir), header + head + bytes(blob), durable=False)
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
