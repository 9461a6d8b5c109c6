"""Tag and untag without building the Store: repositories.json changed under the store lock and
the image catalog edited in place (the lean ``tag`` and ``rmi``, ``lamina.cli.lean``).

The full path (``ImageService.tag``, ``ImageRemover.remove``) builds the whole store, changes
repositories.json and then rebuilds the catalog from the store, reading every image's metadata
and rendering the changed images' inspect documents with ``json``: ~40 ms of imports and work
on this class of machine for a change of a few hundred bytes, where ``docker tag`` takes 20.
A tag change alters only what the catalog records about references (each image's RepoTags and
RepoDigests, the name table) and, for ``tag``, the image's LastTagTime; so a ``Retag`` reads
the catalog that was current before the change and writes it back with exactly those edits.
``tests/unit/test_cli_lean.py`` compares the result with a catalog built from the store.

Every rule of the store still holds (``store.catalog`` and ``store.store`` say why):

- everything happens under the store lock (``store.lock``), including the reads;
- the catalog is taken out of use (``catalog.invalidate``, through ``Repositories``' and
  ``ImageDB``'s change hooks) before repositories.json or lastUpdated change;
- repositories.json is replaced atomically and durably (``atomic.write_file``: fsync of the
  file, rename, fsync of the directory), lastUpdated as ``ImageDB.touch`` writes it;
- the new catalog carries the signature of the store after the change, taken under the lock.

``Retag.open`` returns None, having changed nothing, when the catalog is not current under the
lock (never built, or the store changed by a tool that ignores it): the caller then leaves the
command to the full path, which rebuilds it.
"""

from .. import jsonc
from .. import reference as refs
from ..digest import Digest
from . import catalog as catalogs
from .imagedb import ImageDB
from .lock import store_lock
from .paths import DataRoot
from .repositories import Repositories

__all__ = ["Retag", "spellings"]


def spellings(reference: refs.Reference) -> set[str]:
    """The names that resolve to ``reference`` without the full resolver: familiar and fully
    qualified, with and without the default tag (``busybox``, ``docker.io/library/busybox:latest``)."""
    out = {reference.familiar(), str(reference)}
    if reference.digest is None and reference.tag == "latest":
        out |= {reference.familiar_name, reference.name}
    return out


class Retag:
    """One transaction on an image store's references, holding the store lock until ``close``.

    ``records`` (by image ID) and ``names`` are the catalog's, read under the lock and edited
    as references change; ``close`` writes them back as the new catalog and drops the lock.
    """

    def __init__(self, root: str, driver: str, lock: store_lock, catalog: catalogs.Catalog) -> None:
        self.paths = DataRoot(root, driver)
        self._lock = lock
        self.records = {record.id: record for record in catalog.images}
        self._order = [record.id for record in catalog.images]
        self.names = dict(catalog.names)
        self._docs = {image_id: catalog.inspect_json(image_id) for image_id in self._order}
        self._edited: dict[str, dict] = {}  # image ID -> its inspect document, being edited
        self.changed = False
        self.repositories = Repositories(self.paths.repositories_json(), self._invalidate)
        self.images = ImageDB(self.paths, self._invalidate)

    @classmethod
    def open(cls, root: str, driver: str) -> "Retag | None":
        """Take the lock and read the current catalog; None (lock dropped) if it is not current."""
        paths = DataRoot(root, driver)
        lock = store_lock(paths.lock_file())
        lock.__enter__()
        try:
            catalog = catalogs.read(root, paths.image_dir)
            if catalog is not None:
                return cls(root, driver, lock, catalog)
        except BaseException:
            lock.__exit__(None, None, None)
            raise
        lock.__exit__(None, None, None)
        return None

    def _invalidate(self) -> None:
        if not self.changed:
            catalogs.invalidate(self.paths.image_dir)
            self.changed = True

    # reads -------------------------------------------------------------------------------
    def lookup(self, ref: refs.Reference) -> str | None:
        """The image ID ``ref`` (tagged or pinned) points at, as repositories.json says."""
        return self.names.get(ref.familiar())

    # changes -----------------------------------------------------------------------------
    def tag(self, ref: refs.Reference, image_id: str) -> None:
        """``ImageService._set_tag``: point ``ref`` at the image and stamp its lastUpdated."""
        old = self.repositories.set(ref, Digest.parse(image_id))
        stamp = self.images.touch(Digest.parse(image_id))
        if old is not None:
            self._forget(str(old), ref)
        self._remember(image_id, ref)
        self.records[image_id].last_tag_time = stamp
        self._document(image_id)["Metadata"]["LastTagTime"] = stamp

    def untag(self, ref: refs.Reference) -> bool:
        """Remove ``ref`` from repositories.json; False if it was not there."""
        image_id = self.lookup(ref)
        if not self.repositories.delete(ref):
            return False
        if image_id is not None:
            self._forget(image_id, ref)
        return True

    def _remember(self, image_id: str, ref: refs.Reference) -> None:
        record = self.records[image_id]
        field = "repo_tags" if ref.digest is None else "repo_digests"
        setattr(record, field, tuple(sorted({*getattr(record, field), ref.familiar()})))
        self._set_document_refs(image_id)
        for name in spellings(ref):
            self.names[name] = image_id

    def _forget(self, image_id: str, ref: refs.Reference) -> None:
        record = self.records.get(image_id)
        if record is not None:
            field = "repo_tags" if ref.digest is None else "repo_digests"
            setattr(record, field, tuple(t for t in getattr(record, field) if t != ref.familiar()))
            self._set_document_refs(image_id)
        for name in spellings(ref):
            if self.names.get(name) == image_id:
                del self.names[name]

    def _document(self, image_id: str) -> dict:
        doc = self._edited.get(image_id)
        if doc is None:
            text = self._docs.get(image_id)
            doc = jsonc.loads(text) if text is not None else {"Metadata": {}}  # (a broken image has none)
            self._edited[image_id] = doc
        return doc

    def _set_document_refs(self, image_id: str) -> None:
        record = self.records[image_id]
        doc = self._document(image_id)
        doc["RepoTags"] = list(record.repo_tags)
        doc["RepoDigests"] = list(record.repo_digests)

    # the end -----------------------------------------------------------------------------
    def close(self, completed: bool = True) -> None:
        """Write the edited catalog (if anything changed and ``completed``) and drop the lock.

        After a failure half-way the catalog stays out of use, for the next reader to rebuild
        from what the store really holds."""
        try:
            if self.changed and completed:
                self._write_catalog()
        finally:
            self._lock.__exit__(None, None, None)

    def _write_catalog(self) -> None:
        for image_id, doc in self._edited.items():
            if self._docs.get(image_id) is not None:
                self._docs[image_id] = jsonc.dumps_indented(doc, 4, ensure_ascii=False)
        catalog = catalogs.Catalog([self.records[i] for i in self._order], self.names, docs=self._docs)
        image_dir = self.paths.image_dir
        try:
            catalogs.write(self.paths.root, image_dir, catalog, catalogs.signature(self.paths.root, image_dir))
        except OSError:
            pass  # as ``Store.changes``: left to the next reader, which rebuilds it

    def __enter__(self) -> "Retag":
        return self

    def __exit__(self, kind, value, traceback) -> None:
        self.close(completed=kind is None)
