"""``system check``: find what crashed or killed operations left behind, and (``repair``) remove it.

Everything listed here is garbage by the store's invariants (see ``store.store``): nothing that
a committed image, tag or container refers to, and nothing a live process is still writing
(its lease lists it). So repairing is always safe, even while other lamina commands run.
"""

from __future__ import annotations

import os
import shutil
import time
from dataclasses import dataclass, field

from ..digest import Digest
from ..errors import LaminaError
from ..oci import chain_ids
from ..store import lease as leases
from ..store.atomic import TMP_PREFIX, unlink_quietly
from ..store.store import Store

STALE_TMP_SECONDS = 3600


@dataclass(frozen=True)
class Finding:
    kind: str
    path: str
    detail: str = ""

    def line(self) -> str:
        return f"{self.kind}: {self.path}" + (f" ({self.detail})" if self.detail else "")


@dataclass
class CheckReport:
    findings: list[Finding] = field(default_factory=list)
    repaired: bool = False

    @property
    def clean(self) -> bool:
        return not self.findings


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _stale_tmp(name: str, path: str) -> bool:
    # .tmp-<name>-<pid>-<rand>
    parts = name.rsplit("-", 2)
    try:
        pid = int(parts[-2])
    except (ValueError, IndexError):
        pid = -1
    if pid > 0 and not _pid_alive(pid):
        return True
    try:
        return time.time() - os.lstat(path).st_mtime > STALE_TMP_SECONDS
    except FileNotFoundError:
        return False


class StoreChecker:
    def __init__(self, store: Store) -> None:
        self.store = store

    def run(self, repair: bool = False) -> CheckReport:
        with self.store.lock():
            findings = self._find()
            if repair:
                # unmount before removing what the mounts sit in
                for finding in sorted(findings, key=lambda f: f.kind != "stale mount"):
                    self._repair(finding)
                # removing debris can expose more (a short link whose layer directory was just
                # removed): repair until a pass finds nothing new, so one --repair is enough
                for _ in range(3):
                    more = [f for f in self._find() if f not in findings]
                    if not more:
                        break
                    for finding in more:
                        self._repair(finding)
                    findings = findings + more
        return CheckReport(findings, repaired=repair)

    def _find(self) -> list[Finding]:
        s = self.store
        out: list[Finding] = []
        pending = leases.live_pending(s.paths.leases())
        pins = {Digest("sha256", h) for h in leases.live_pins(s.paths.leases())}
        records = s.layers.list()
        by_chain = {r.chain_id: r for r in records}

        # images whose layers are missing, and the layers images use
        used_chains: set[Digest] = set()
        for image_id in s.images.ids():
            try:
                chains = chain_ids(list(s.images.get(image_id).diff_ids))
            except LaminaError as exc:
                out.append(Finding("corrupt image", s.paths.image_config(image_id), str(exc)))
                continue
            missing = [c for c in chains if c not in by_chain]
            if missing:
                out.append(Finding("image with missing layers", s.paths.image_config(image_id), str(missing[0])))
            used_chains.update(chains)
        # container mounts keep their parent chain and their own driver dirs
        mount_cache_ids: set[str] = set()
        mounts_dir = s.paths.layerdb_mounts()
        for name in _listdir(mounts_dir):
            for fname in ("mount-id", "init-id"):
                try:
                    with open(os.path.join(mounts_dir, name, fname)) as f:
                        mount_cache_ids.add(f.read().strip())
                except OSError:
                    pass
        used_chains |= pins | self.store._mount_parents()
        # a used layer's parents are used
        for chain in list(used_chains):
            record = by_chain.get(chain)
            while record is not None and record.parent is not None:
                used_chains.add(record.parent)
                record = by_chain.get(record.parent)

        for record in records:
            if record.chain_id not in used_chains:
                out.append(Finding("unreferenced layer", s.paths.layer(record.chain_id), f"cache-id {record.cache_id}"))
            elif not s.driver.exists(record.cache_id):
                out.append(Finding("layer with missing data", s.paths.layer(record.chain_id), record.cache_id))

        known_cache_ids = {r.cache_id for r in records} | mount_cache_ids | pending
        for cache_id in s.driver.list_ids():
            if cache_id not in known_cache_ids:
                out.append(Finding("orphaned layer directory", os.path.join(s.driver.home, cache_id if s.driver.name == "overlay2" else f"dir/{cache_id}")))

        for name in _listdir(s.paths.layerdb_tmp()):
            if name.startswith("write-set-") and name[len("write-set-"):] in pending:
                continue
            out.append(Finding("unfinished layer metadata", os.path.join(s.paths.layerdb_tmp(), name)))

        if s.driver.name == "overlay2":
            links = os.path.join(s.driver.home, "l")
            for name in _listdir(links):
                path = os.path.join(links, name)
                if not os.path.exists(path):
                    target = os.readlink(path) if os.path.islink(path) else ""
                    parts = target.split("/")
                    if len(parts) >= 2 and parts[1] in pending:
                        continue
                    out.append(Finding("dangling layer link", path))

        for entry in s.repositories.entries():
            if not s.images.exists(entry.image_id):
                out.append(Finding("tag of a missing image", entry.reference.familiar(), str(entry.image_id)))

        out.extend(self._stale_mounts())
        if s.blobs.any():
            for path in s.blobs.orphans(s.live_diff_ids()):
                out.append(Finding("orphaned blob", path))
        home = s.driver.home
        for name in _listdir(home):
            path = os.path.join(home, name)
            # a driver probe killed before it cleaned up (a live one is younger than an hour)
            if name.startswith(".probe-") and time.time() - os.lstat(path).st_mtime > STALE_TMP_SECONDS:
                out.append(Finding("temporary file", path))

        for directory in (s.paths.imagedb_content(), s.paths.image_dir, s.paths.layerdb()):
            for name in _listdir(directory):
                path = os.path.join(directory, name)
                if name.startswith(TMP_PREFIX) and _stale_tmp(name, path):
                    out.append(Finding("temporary file", path))
        for name in _listdir(s.paths.tmp()):
            path = os.path.join(s.paths.tmp(), name)
            if name != "leases" and time.time() - os.lstat(path).st_mtime > STALE_TMP_SECONDS:
                out.append(Finding("temporary file", path))
        for path in leases.dead_leases(s.paths.leases()):
            out.append(Finding("dead lease", path))
        return out

    def _stale_mounts(self) -> list[Finding]:
        """Mounts lamina made (a layer's or a probe's ``merged``) that no running container
        owns: left by a process killed between mount and unmount."""
        from ..mount import mounts_under

        s = self.store
        home = os.path.realpath(s.driver.home)
        layer_parents = {home, os.path.join(home, "dir")}  # overlay2/<id>, vfs/dir/<id>
        owned: set[str] = set()  # driver dirs (cache ids) mounted for running containers
        for use in s.container_uses():
            if not use.running:
                continue
            try:
                with open(os.path.join(s.paths.layerdb_mounts(), use.container_id, "mount-id")) as f:
                    owned.add(f.read().strip())
            except OSError:
                continue
        out = []
        for point in mounts_under(home):
            parent, leaf = os.path.split(point)
            if leaf == "merged" and os.path.dirname(parent) in layer_parents and os.path.basename(parent) not in owned:
                out.append(Finding("stale mount", point))
        return out

    def _repair(self, finding: Finding) -> None:
        s = self.store
        if finding.kind == "stale mount":
            from ..mount import unmount

            unmount(finding.path, detach=True)
        elif finding.kind == "unreferenced layer":
            chain = Digest("sha256", os.path.basename(finding.path))
            record = s.layers.get(chain)
            s.layers.remove(chain)
            s.driver.remove(record.cache_id)
        elif finding.kind == "orphaned blob":
            s.blobs.remove(Digest("sha256", os.path.basename(finding.path)))
        elif finding.kind == "orphaned layer directory":
            s.driver.remove(os.path.basename(finding.path))
        elif finding.kind == "tag of a missing image":
            from .. import reference as refs

            s.repositories.delete(refs.parse(finding.path))
        elif finding.kind in ("unfinished layer metadata", "temporary file", "dead lease"):
            if os.path.isdir(finding.path) and not os.path.islink(finding.path):
                shutil.rmtree(finding.path, ignore_errors=True)
            else:
                unlink_quietly(finding.path)
        elif finding.kind == "dangling layer link":
            unlink_quietly(finding.path)
        # "image with missing layers", "corrupt image", "layer with missing data": reported only;
        # removing them would lose the user's image names. `image rm -f` is the user's call.


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []
