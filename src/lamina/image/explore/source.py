"""An image opened for exploring: its history steps, its layers (where each lives, what made
it) and each layer's file index, from the store or straight from a saved archive.

Dockerfile lines: ``lamina build`` writes ``imagedb/metadata/sha256/<image-id>/lamina-build``
(``{"dockerfile": "Dockerfile", "line": 31, "instruction": "RUN make install"}``) for every
image a build step makes, the image whose top history entry that step made. The image's
parent chain (imagedb ``parent``) leads from the final image through those intermediate images,
so each one names the step at its own history length.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ...archive.fileindex import FileIndex
from ...digest import Digest
from ...errors import InvalidArgument, NotFound
from ...oci import ImageConfig, chain_ids

if TYPE_CHECKING:
    from ..service import ImageService

BUILD_RECORD = "lamina-build"


@dataclass(frozen=True)
class BuildStep:
    """The Dockerfile instruction that made one history entry (recorded by ``lamina build``)."""

    dockerfile: str
    line: int
    instruction: str

    @property
    def where(self) -> str:
        return f"{self.dockerfile}:{self.line}"


@dataclass(frozen=True)
class Step:
    """One history entry; ``layer`` is the 1-based layer it made (None: metadata only)."""

    position: int
    layer: int | None
    created: str
    created_by: str
    comment: str
    build: BuildStep | None = None

    @property
    def instruction(self) -> str:
        """What made the step, shortest honest form: the Dockerfile instruction lamina recorded,
        else docker's ``created_by`` without its shell wrapping."""
        if self.build is not None:
            # one line: a continued instruction (``COPY a \\`` newline ``b``) reads as it runs
            return " ".join(self.build.instruction.replace("\\\n", " ").split())
        return short_instruction(self.created_by) or self.comment  # import: "Imported from -"


@dataclass(frozen=True)
class LayerInfo:
    number: int  # 1-based, bottom first
    diff_id: Digest
    chain_id: Digest
    size: int  # docker's layer size (the diff dir's bytes) or, in an archive, the content bytes
    location: str  # the layer's diff directory, or the blob's path inside an archive
    step: Step | None


@dataclass
class ExploredImage:
    name: str
    image_id: str
    steps: list[Step]
    layers: list[LayerInfo]
    load: Callable[[LayerInfo], FileIndex]
    #: layer locations are directories on disk (not members of an archive)
    on_disk: bool = True
    _indexes: dict[int, FileIndex] = field(default_factory=dict)

    def index(self, number: int) -> FileIndex:
        if number not in self._indexes:
            self._indexes[number] = self.load(self.layers[number - 1])
        return self._indexes[number]

    def indexes(self, upto: int | None = None) -> list[FileIndex]:
        return [self.index(n) for n in range(1, (upto or len(self.layers)) + 1)]

    def check_layer(self, number: int) -> int:
        if not 1 <= number <= len(self.layers):
            raise InvalidArgument(f"layer {number} does not exist: {self.name} has layers 1 to {len(self.layers)}")
        return number

    def describe(self, number: int) -> str:
        """``RUN make install, Dockerfile:31`` — what made layer ``number``."""
        step = self.layers[number - 1].step
        if step is None:
            return ""
        text = step.instruction
        if len(text) > 60:
            text = text[:59] + "…"
        return f"{text}, {step.build.where}" if step.build is not None else text


def short_instruction(created_by: str) -> str:
    text = " ".join(created_by.split())
    for prefix, replacement in (("/bin/sh -c #(nop) ", ""), ("RUN /bin/sh -c ", "RUN "), ("/bin/sh -c ", "RUN ")):
        if text.startswith(prefix):
            text = replacement + text[len(prefix):].strip()
            break
    return text.removesuffix(" # buildkit")


def steps_for(config: ImageConfig, builds: dict[int, BuildStep]) -> list[Step]:
    """History entries matched to layers; an image whose history does not account for its
    layers (hand-made configs) gets one anonymous step per layer."""
    history = config.history
    layer_count = len(config.diff_ids)
    if sum(1 for h in history if not h.get("empty_layer")) != layer_count:
        return [Step(i, i + 1, "", "", "") for i in range(layer_count)]
    steps, number = [], 0
    for position, h in enumerate(history):
        layer = None
        if not h.get("empty_layer"):
            number += 1
            layer = number
        steps.append(Step(position, layer, str(h.get("created", "")), str(h.get("created_by", "")),
                          str(h.get("comment", "")), builds.get(position)))
    return steps


def _layers(steps: list[Step], diff_ids, sizes, locations) -> list[LayerInfo]:
    by_layer = {s.layer: s for s in steps if s.layer is not None}
    chains = chain_ids(list(diff_ids))
    return [
        LayerInfo(n, diff_ids[n - 1], chains[n - 1], sizes[n - 1], locations[n - 1], by_layer.get(n))
        for n in range(1, len(diff_ids) + 1)
    ]


# from the store ---------------------------------------------------------------------------
def build_steps(service: ImageService, image_id: Digest, config: ImageConfig) -> dict[int, BuildStep]:
    """History position -> the build step recorded on the image (or an ancestor) it tops."""
    images = service.store.images
    history = config.history
    out: dict[int, BuildStep] = {}
    current: Digest | None = image_id
    seen = set()
    while current is not None and current not in seen and images.exists(current):
        seen.add(current)
        ancestor = config if current == image_id else images.get(current)
        top = len(ancestor.history) - 1
        if 0 <= top < len(history) and ancestor.history[top] == history[top]:
            step = read_build_step(os.path.join(service.store.paths.imagedb_metadata(current), BUILD_RECORD))
            if step is not None:
                out.setdefault(top, step)
        current = images.get_parent(current)
    return out


def read_build_step(path: str) -> BuildStep | None:
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
        return BuildStep(str(doc["dockerfile"]), int(doc["line"]), str(doc["instruction"]))
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no record, or one this lamina cannot read: the history still tells


def open_stored(service: ImageService, name: str) -> ExploredImage:
    from ...store import fileindexes

    store = service.store
    image_id = service.resolve(name)
    config = store.images.get(image_id)
    records = store.layer_chain(list(config.diff_ids))
    steps = steps_for(config, build_steps(service, image_id, config))
    layers = _layers(
        steps, config.diff_ids, [r.size for r in records],
        [store.driver.diff_dir(r.cache_id) for r in records],
    )
    by_number = {n: r for n, r in enumerate(records, 1)}
    return ExploredImage(name, str(image_id), steps, layers, lambda info: fileindexes.load(store, by_number[info.number]))


# from an archive --------------------------------------------------------------------------
def open_archive(path: str, name: str | None, tmp_dir: str, limits=None) -> ExploredImage:
    """An image inside a docker-archive or OCI layout tar, indexed from its layer tars as they
    stream past: nothing is extracted or stored."""
    from ...archive.fileindex import IndexBuilder
    from ...archive.tarentries import StreamSource, scan
    from ..archive import ImageArchive

    try:
        source = open(path, "rb")
    except OSError as exc:
        raise InvalidArgument(f"open {path}: {(exc.strerror or str(exc)).lower()}") from None
    with source, ImageArchive(source, tmp_dir, limits) as archive:
        image = _pick(archive.images(), name, path)
        config = image.config
        indexes, sizes = {}, []
        for number, layer in enumerate(image.layers, 1):
            stream = archive.open_layer(layer)
            index = IndexBuilder().add_all(scan(StreamSource(stream))).build(str(layer.expected_diff_id))
            indexes[number] = index
            sizes.append(index.content_bytes)
        steps = steps_for(config, {})
        layers = _layers(steps, config.diff_ids, sizes, [layer.member for layer in image.layers])
    shown = name or (_familiar(image.tags[0]) if image.tags else str(Digest.of_bytes(image.config_raw)))
    image_id = str(Digest.of_bytes(image.config_raw))
    return ExploredImage(shown, image_id, steps, layers, lambda info: indexes[info.number], on_disk=False)


def _familiar(tag: str) -> str:
    from ... import reference as refs

    try:
        return refs.parse(tag).familiar()
    except InvalidArgument:
        return tag


def _pick(images, name: str | None, path: str):
    if name is None:
        if len(images) != 1:
            raise InvalidArgument(f"{path} holds {len(images)} images; name one of them")
        return images[0]
    from ... import reference as refs

    wanted = None
    try:
        wanted = refs.parse(name).with_default_tag()
    except InvalidArgument:
        pass
    for image in images:
        hexpart = name.removeprefix("sha256:")
        if hexpart and all(c in "0123456789abcdef" for c in hexpart) \
                and Digest.of_bytes(image.config_raw).hex.startswith(hexpart):
            return image
        for tag in image.tags:
            try:
                if wanted is not None and refs.parse(tag).with_default_tag() == wanted:
                    return image
            except InvalidArgument:
                continue
    raise NotFound(f"No such image in {path}: {name}")
