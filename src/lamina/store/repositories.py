"""repositories.json: which references (tags and digests) point at which image IDs.

The file has Docker's shape, keyed by familiar names::

    {"Repositories": {"busybox": {"busybox:latest": "sha256:…",
                                  "busybox@sha256:…": "sha256:…"}}}

Changes happen under the store lock and replace the file atomically.
"""

from __future__ import annotations

import os

from .. import jsonc
from .. import reference as refs
from ..digest import Digest
from ..errors import InvalidArgument, StoreCorrupt
from ..value import Value
from . import atomic

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only (typing costs start-up time: lamina.value says why)
    from collections.abc import Callable


class TagEntry(Value):
    __slots__ = ("reference", "image_id")
    reference: refs.Reference
    image_id: Digest

    def __init__(self, reference: refs.Reference, image_id: Digest) -> None:
        self._init(reference=reference, image_id=image_id)


class Repositories:
    def __init__(self, path: str, on_change: Callable[[], None] | None = None) -> None:
        self.path = path
        #: called before every write (the store drops its image catalog there)
        self.on_change = on_change or (lambda: None)

    def _load(self) -> dict[str, dict[str, str]]:
        try:
            with open(self.path, "rb") as f:
                doc = jsonc.loads(f.read())
        except FileNotFoundError:
            return {}
        except ValueError:
            raise StoreCorrupt(f"{self.path} is not valid JSON") from None
        repos = doc.get("Repositories") if isinstance(doc, dict) else None
        return repos if isinstance(repos, dict) else {}

    def _save(self, repos: dict[str, dict[str, str]]) -> None:
        self.on_change()
        repos = {k: v for k, v in repos.items() if v}
        atomic.write_file(self.path, jsonc.dumps({"Repositories": repos}).encode())

    def entries(self) -> list[TagEntry]:
        out = []
        for refmap in self._load().values():
            for text, image_id in refmap.items():
                try:
                    out.append(TagEntry(refs.parse(text), Digest.parse(image_id)))
                except InvalidArgument:
                    continue  # an entry lamina cannot parse is skipped, never fatal
        return out

    def get(self, ref: refs.Reference) -> Digest | None:
        refmap = self._load().get(ref.familiar_name, {})
        value = refmap.get(ref.familiar())
        return Digest.parse(value) if value else None

    def references_to(self, image_id: Digest) -> list[refs.Reference]:
        return [e.reference for e in self.entries() if e.image_id == image_id]

    def set(self, ref: refs.Reference, image_id: Digest) -> Digest | None:
        """Point ``ref`` at ``image_id``; return the image it pointed at before, if any."""
        repos = self._load()
        refmap = repos.setdefault(ref.familiar_name, {})
        old = refmap.get(ref.familiar())
        if old == str(image_id):
            return None  # docker's addReference: the same tag on the same image writes nothing
        refmap[ref.familiar()] = str(image_id)
        self._save(repos)
        return Digest.parse(old) if old and old != str(image_id) else None

    def delete(self, ref: refs.Reference) -> bool:
        repos = self._load()
        refmap = repos.get(ref.familiar_name, {})
        if refmap.pop(ref.familiar(), None) is None:
            return False
        self._save(repos)
        return True

    def delete_image(self, image_id: Digest) -> list[refs.Reference]:
        """Remove every reference to ``image_id``; return them."""
        repos = self._load()
        removed = []
        for refmap in repos.values():
            for text in [t for t, v in refmap.items() if v == str(image_id)]:
                del refmap[text]
                removed.append(refs.parse(text))
        if removed:
            self._save(repos)
        return removed

    def exists_file(self) -> bool:
        return os.path.exists(self.path)
