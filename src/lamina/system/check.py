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

        out.extend(self._file_indexes(records))

        known_cache_ids = {r.cache_id for r in records} | mount_cache_ids | pending
        for cache_id in s.driver.list_ids():
            if cache_id not in known_cache_ids:
                out.append(Finding("orphaned layer directory", os.path.join(s.driver.home, cache_id if s.driver.name == "overlay2" else f"dir/{cache_id}")))

        for name in _listdir(s.paths.layerdb_tmp()):
            if name.startswith("write-set-") and name[len("write-set-"):] in pending:
                continue
            if name.startswith(("mount-", "remove-mount-")) and name.rpartition("-")[2] in pending:
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

        out.extend(self._stale_mounts(pending))
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
        from ..store.ingest import Ingest

        for path in Ingest(s.paths.ingest()).stale():
            out.append(Finding("abandoned partial download", path))
        out.extend(self._container_debris(pending))
        return out

    def _container_debris(self, pending: set[str]) -> list[Finding]:
        """What killed container commands left: layers of a container never published, a
        half-made or half-removed container directory, a "running" container whose monitor
        died, a ``--rm`` container whose ``run`` was killed before it started."""
        from ..container.service import _pid_alive
        from ..container.store import ContainerStore
        from ..runtime import monitor as monitors

        s = self.store
        records = ContainerStore(s)
        out: list[Finding] = []
        containers = set(records.ids())
        for name in _listdir(s.paths.layerdb_mounts()):
            if name not in containers and name not in pending:
                out.append(Finding("container layer without container", os.path.join(s.paths.layerdb_mounts(), name)))
        for name in _listdir(s.paths.containers()):
            if name.startswith(".tmp-create-") and name[len(".tmp-create-"):] not in pending:
                out.append(Finding("unfinished container", os.path.join(s.paths.containers(), name)))
        for name in _listdir(s.paths.tmp()):
            if name.startswith("removing-container-") and name[len("removing-container-"):] not in pending:
                out.append(Finding("unfinished container", os.path.join(s.paths.tmp(), name)))
        out.extend(_runtime_debris(records, containers, pending))
        now = time.time()
        for c in records.list():
            path = s.paths.container(c.id)
            if c.state.running and not monitors.alive(records.exec_root, c.id) and not _pid_alive(c.state.pid):
                out.append(Finding("container whose monitor died", path, c.bare_name))
            elif (c.host_config.get("AutoRemove") and c.state.status == "created" and c.id not in pending
                  and now - _created(c.created) > 60):
                out.append(Finding("--rm container left by a killed run", path, c.bare_name))
        return out

    def _file_indexes(self, records) -> list[Finding]:
        """Damaged layer file indexes (rebuilt by repair; a missing one is built on first
        use) and the temporary files of a killed index writer inside layerdb entries."""
        from ..store import fileindexes

        out = []
        for record in records:
            entry = self.store.paths.layer(record.chain_id)
            why = fileindexes.problem(self.store, record)
            if why is not None:
                out.append(Finding("damaged file index", os.path.join(entry, fileindexes.FILE_INDEX), why))
            for name in _listdir(entry):
                path = os.path.join(entry, name)
                if name.startswith(TMP_PREFIX) and _stale_tmp(name, path):
                    out.append(Finding("temporary file", path))
        return out

    def _stale_mounts(self, pending: set[str] = frozenset()) -> list[Finding]:
        """Mounts lamina made (a layer's or a probe's ``merged``) that no running container
        owns: left by a process killed between mount and unmount. A layer a live lease lists
        as pending is not stale (a ``--rm`` container's monitor unmounts it while removing)."""
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
            if (leaf == "merged" and os.path.dirname(parent) in layer_parents
                    and os.path.basename(parent) not in owned and os.path.basename(parent) not in pending):
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
        elif finding.kind == "damaged file index":
            from ..store import fileindexes

            chain = Digest("sha256", os.path.basename(os.path.dirname(finding.path)))
            fileindexes.repair(s, s.layers.get(chain))
        elif finding.kind == "orphaned layer directory":
            s.driver.remove(os.path.basename(finding.path))
        elif finding.kind == "tag of a missing image":
            from .. import reference as refs

            s.repositories.delete(refs.parse(finding.path))
        elif finding.kind in ("unfinished layer metadata", "temporary file", "dead lease", "abandoned partial download"):
            if os.path.isdir(finding.path) and not os.path.islink(finding.path):
                shutil.rmtree(finding.path, ignore_errors=True)
            else:
                unlink_quietly(finding.path)
        elif finding.kind == "dangling layer link":
            unlink_quietly(finding.path)
        elif finding.kind == "runtime state of a removed container":
            self._clear_runtime_state(finding.path)
        elif finding.kind in ("container layer without container", "unfinished container",
                              "container whose monitor died", "--rm container left by a killed run"):
            self._repair_container(finding)
        # "image with missing layers", "corrupt image", "layer with missing data": reported only;
        # removing them would lose the user's image names. `image rm -f` is the user's call.


    def _repair_container(self, finding: Finding) -> None:
        from ..container.store import ContainerStore

        s = self.store
        records = ContainerStore(s)
        name = os.path.basename(finding.path)
        if finding.kind == "container layer without container":
            for fname in ("mount-id", "init-id"):
                try:
                    with open(os.path.join(finding.path, fname)) as f:
                        cache_id = f.read().strip()
                    s.driver.remove(cache_id)
                except (OSError, LaminaError):
                    pass
            shutil.rmtree(finding.path, ignore_errors=True)
        elif finding.kind == "unfinished container":
            shutil.rmtree(finding.path, ignore_errors=True)
        elif finding.kind == "container whose monitor died":
            from ..container.service import mark_lost

            records.update(name, mark_lost)
            self._clear_runtime(records, name)
            if records.load(name).host_config.get("AutoRemove"):
                records.remove(name)
        elif finding.kind == "--rm container left by a killed run":
            self._clear_runtime(records, name)
            records.remove(name)

    @staticmethod
    def _clear_runtime_state(path: str) -> None:
        parent, name = os.path.split(path)
        if os.path.basename(parent) == "runc":
            import subprocess

            subprocess.run(["runc", "--root", parent, "delete", "--force", name], capture_output=True)
            shutil.rmtree(path, ignore_errors=True)  # a runtime that refused: its state is all there is
        elif os.path.isdir(path) and not os.path.islink(path):
            shutil.rmtree(path, ignore_errors=True)
        else:
            unlink_quietly(path)

    @staticmethod
    def _clear_runtime(records, container_id: str) -> None:
        """runc's state and the root mount a dead monitor left."""
        from ..mount import is_mountpoint, unmount

        try:
            _, merged, _ = records.rootfs(container_id)
            if os.path.isdir(merged) and is_mountpoint(merged):
                unmount(merged, detach=True)
        except LaminaError:
            pass
        state = os.path.join(records.exec_root, "runc", container_id)
        if os.path.isdir(state):
            import subprocess

            subprocess.run(["runc", "--root", os.path.dirname(state), "delete", "--force", container_id], capture_output=True)


def _runtime_debris(records, containers: set[str], pending: set[str]) -> list[Finding]:
    """What the exec root still holds for a container that is gone, with no live monitor:
    runc's state (its cgroups with it), the bundle, the monitor's lock file. A ``run --rm``
    monitor deletes the runtime's state after its client has heard the exit: one killed just
    then leaves it here (and a store from before that cleanup left bundles and locks)."""
    from ..runtime.execroot import alive

    root = records.exec_root
    out = []
    for name in _listdir(root):
        cid = name.rsplit(".", 1)[0] if name.endswith((".monitor", ".lock")) else name
        if len(cid) == 64 and cid not in containers and cid not in pending and not alive(root, cid):
            out.append(Finding("runtime state of a removed container", os.path.join(root, name)))
    for cid in _listdir(os.path.join(root, "runc")):
        if len(cid) == 64 and cid not in containers and cid not in pending and not alive(root, cid):
            out.append(Finding("runtime state of a removed container", os.path.join(root, "runc", cid)))
    return out


def _created(text: str) -> float:
    from ..container.model import parse_rfc3339

    try:
        return parse_rfc3339(text)
    except (ValueError, IndexError):
        return 0.0


def _listdir(path: str) -> list[str]:
    try:
        return sorted(os.listdir(path))
    except FileNotFoundError:
        return []
