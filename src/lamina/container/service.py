"""``engine.containers``: docker-py's ``client.containers`` over lamina's data root.

``create``/``run``/``get``/``list``/``prune`` on the collection; each ``ContainerHandle`` has
docker-py's methods (``start``, ``stop``, ``kill``, ``restart``, ``pause``, ``unpause``,
``wait``, ``remove``, ``logs``, ``exec_run``, ``top``, ``stats``, ``rename``, ``update``) and
``attrs`` (``container inspect``'s document). Running is the runtime package's job
(``lamina.runtime``); this module decides what to do and keeps docker's files right.
"""

from __future__ import annotations

import os
import time

from ..errors import Conflict, InvalidArgument, NotFound
from ..value import Value
from .model import ZERO_TIME, Container, parse_rfc3339
from .store import ContainerStore

# the lean commands (cli/lean: ps, stop, rm, …) use this service on a ``store.StoreView``:
# what only create needs (options, networks, the image store) is imported there
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only (typing costs start-up time: lamina.value says why)
    from collections.abc import Iterable
    from typing import Any

    from ..image.service import ImageService
    from ..store.store import Store
    from .options import ContainerSpec

LIST_FILTERS = ("status", "name", "ancestor", "label", "exited", "id", "before", "since")
STATUSES = ("created", "restarting", "running", "removing", "paused", "exited", "dead")


class PruneReport(Value):
    __slots__ = ("deleted", "space_reclaimed")

    def __init__(self, deleted: list[str], space_reclaimed: int) -> None:
        self._init(deleted=deleted, space_reclaimed=space_reclaimed)


class ContainerService:
    def __init__(self, store: Store, images: ImageService) -> None:
        self.store = store
        self.images = images
        self.records = ContainerStore(store)

    # the collection ----------------------------------------------------------------------
    def create(self, image: str, command: list[str] | str | None = None, *, pull: str = "never",
               **kwargs: Any) -> ContainerHandle:
        """docker-py's ``containers.create``: kwargs are ``ContainerSpec``'s fields; ``pull`` is
        docker's ``--pull`` (docker-py's create does not pull: "never")."""
        from .options import ContainerSpec

        if isinstance(command, str):
            import shlex

            command = shlex.split(command)
        spec = ContainerSpec(image=image, command=command, **kwargs)
        return self.create_from_spec(spec, pull=pull)

    def create_from_spec(self, spec: ContainerSpec, pull: str = "never", progress=None,
                         on_missing=None) -> ContainerHandle:
        """A container from ``spec``; its image is found or pulled under ``pull`` (docker's
        ``--pull``: missing, always, never) by ``ImageService.resolve_or_pull``, which says what
        ``progress`` and ``on_missing`` hear."""
        from ..image.pullpolicy import check_pull_policy
        from .options import build_config, build_host_config, check_spec

        check_pull_policy(pull)
        check_spec(spec)
        from ..network.containers import check_network_mode, endpoint_config, network_name

        check_network_mode(self.store, spec.network_mode, bool(spec.publish or spec.publish_all_ports),
                           bool(spec.network_aliases), spec.ip)
        from ..oci import chain_ids

        image_id = self.images.resolve_or_pull(spec.image, pull, progress=progress, on_missing=on_missing)
        image_config = self.store.images.get(image_id)
        config = build_config(spec, dict(image_config.config or {}), hostname="")
        entrypoint = config.get("Entrypoint") or []
        cmd = config.get("Cmd") or []
        argv = list(entrypoint) + list(cmd)
        if not argv:
            raise InvalidArgument("no command specified")
        from ..runtime.select import choose_runtime

        runtime = choose_runtime(spec.runtime or None).name
        host_config = build_host_config(spec, runtime)
        mount_points = self._mount_points(spec, (image_config.config or {}).get("Volumes"))
        chains = chain_ids(list(image_config.diff_ids))
        record = self.records.create(
            config, host_config, image_id, chains[-1] if chains else None, spec.name,
            argv[0], argv[1:], mount_points,
        )
        if spec.network_aliases or spec.ip or spec.mac_address:
            asked = endpoint_config(spec.network_aliases, spec.ip, spec.mac_address)

            def endpoint(rec: Container) -> None:
                settings = rec.network_settings.setdefault("Networks", {})
                settings.setdefault(network_name(spec.network_mode), {}).update(asked)

            record = self.records.update(record.id, endpoint)
        if spec.cidfile:
            _write_cidfile(spec.cidfile, record.id)
        return ContainerHandle(self, record)

    def _mount_points(self, spec: ContainerSpec, image_volumes: Any = None) -> dict[str, Any]:
        """MountPoints of config.v2.json: binds, named and anonymous volumes (``lamina.volume``),
        and an anonymous volume for each of the image's VOLUME paths."""
        from .mounts import mount_points

        return mount_points(self.store, spec, image_volumes)

    def run(self, image: str, command: list[str] | str | None = None, *, pull: str = "missing",
            **kwargs: Any) -> ContainerHandle:
        """Create and start, pulling a missing image as docker-py's ``run`` does; with
        ``detach=False`` wait for the exit (docker-py returns the logs, lamina returns the
        handle: ``handle.wait()`` and ``handle.logs()`` give both)."""
        handle = self.create(image, command, pull=pull, **kwargs)
        handle.start()
        if not kwargs.get("detach"):
            handle.wait()
        return handle

    def get(self, ref: str) -> ContainerHandle:
        return ContainerHandle(self, self.refresh(self.records.resolve(ref)))

    def list(self, all: bool = False, filters: dict[str, list[str]] | None = None, limit: int = -1,
             latest: bool = False) -> list[ContainerHandle]:
        records = [self.refresh(c) for c in self.records.list()]
        records.sort(key=lambda c: c.created, reverse=True)
        filters = filters or {}
        if latest:
            limit = 1
        if not all and limit <= 0 and "status" not in filters and "exited" not in filters:
            records = [c for c in records if c.state.running]
        records = [c for c in records if _matches(c, filters, self)]
        if limit > 0:
            records = records[:limit]
        return [ContainerHandle(self, c) for c in records]

    def prune(self, filters: dict[str, list[str]] | None = None) -> PruneReport:
        deleted, space = [], 0
        for handle in self.list(all=True, filters=filters):
            if handle.record.state.running or handle.record.state.status not in ("created", "exited", "dead"):
                continue
            space += handle.size_rw()
            try:
                handle.remove()
            except (Conflict, NotFound):
                continue
            deleted.append(handle.id)
        return PruneReport(deleted, space)

    # state -------------------------------------------------------------------------------
    def refresh(self, container: Container) -> Container:
        """The container with a dead monitor's "running" corrected (a killed monitor or a
        reboot): docker's daemon does the same on restart, marking it exited."""
        if not self.monitor_lost(container):
            return container
        return self.records.update(container.id, mark_lost)

    def monitor_lost(self, container: Container) -> bool:
        """Whether ``container`` says it runs while neither its monitor nor its process lives."""
        if not container.state.running:
            return False
        from ..runtime.execroot import alive

        return not (alive(self.records.exec_root, container.id) or _pid_alive(container.state.pid))


def mark_lost(container: Container) -> None:
    """Record a container whose monitor died as exited (docker's daemon does so on restart)."""
    from .model import rfc3339nano

    if not container.state.running:
        return
    container.state.running = False
    container.state.paused = False
    container.state.restarting = False
    container.state.pid = 0
    container.state.exit_code = container.state.exit_code or 255
    container.state.finished_at = rfc3339nano()
    container.state.error = "the container's monitor exited unexpectedly"


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie or a reused pid is not our container: check it is not a zombie at least
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def _write_cidfile(path: str, container_id: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    except FileExistsError:
        raise InvalidArgument(f"container ID file found, make sure the other container isn't running or delete {path}") from None
    with os.fdopen(fd, "w") as f:
        f.write(container_id)


def _matches(c: Container, filters: dict[str, list[str]], service: ContainerService) -> bool:
    for key, values in filters.items():
        if key not in LIST_FILTERS:
            raise InvalidArgument(f"invalid filter '{key}'")
        if key == "status":
            for v in values:
                if v not in STATUSES:
                    raise InvalidArgument(f"invalid filter 'status={v}'")
            if c.state.status not in values:
                return False
        elif key == "name":
            if not any(_name_matches(c.bare_name, v) for v in values):
                return False
        elif key == "id":
            if not any(c.id.startswith(v) for v in values):
                return False
        elif key == "exited":
            try:
                codes = {int(v) for v in values}
            except ValueError:
                raise InvalidArgument(f"invalid filter 'exited={values[0]}'") from None
            if c.state.status != "exited" or c.state.exit_code not in codes:
                return False
        elif key == "label":
            labels = c.labels
            for v in values:
                k, sep, want = v.partition("=")
                if k not in labels or (sep and labels[k] != want):
                    return False
        elif key == "ancestor":
            if not any(_is_ancestor(c, v, service) for v in values):
                return False
        elif key in ("before", "since"):
            other = service.records.resolve(values[0])
            if key == "before" and not c.created < other.created:
                return False
            if key == "since" and not c.created > other.created:
                return False
    return True


def _name_matches(name: str, pattern: str) -> bool:
    import re

    try:
        return re.search(pattern, name) is not None
    except re.error:
        return pattern in name


def _is_ancestor(c: Container, value: str, service: ContainerService) -> bool:
    try:
        image_id = service.images.resolve(value)
    except (NotFound, InvalidArgument):
        return False
    if str(image_id) == c.image:
        return True
    # an image built on the wanted one: walk the container image's parents
    from ..digest import Digest

    current: Any = Digest.parse(c.image) if c.image.startswith("sha256:") else None
    seen = set()
    while current is not None and current not in seen:
        seen.add(current)
        if current == image_id:
            return True
        current = service.store.images.get_parent(current) if hasattr(service.store.images, "get_parent") else None
    return False


class ContainerHandle:
    """One container, docker-py style. ``record`` is the last state read; ``reload()`` reads again."""

    def __init__(self, service: ContainerService, record: Container) -> None:
        self.service = service
        self.record = record

    def __repr__(self) -> str:
        return f"<Container: {self.short_id}>"

    @property
    def id(self) -> str:
        return self.record.id

    @property
    def short_id(self) -> str:
        return self.record.short_id

    @property
    def name(self) -> str:
        return self.record.bare_name

    @property
    def status(self) -> str:
        return self.record.state.status

    @property
    def labels(self) -> dict[str, str]:
        return self.record.labels

    @property
    def attrs(self) -> dict[str, Any]:
        return self.inspect()

    def reload(self) -> ContainerHandle:
        self.record = self.service.refresh(self.service.records.load(self.id))
        return self

    # inspect -----------------------------------------------------------------------------
    def inspect(self, size: bool = False) -> dict[str, Any]:
        c = self.record
        doc: dict[str, Any] = {
            "Id": c.id,
            "Created": c.created,
            "Path": c.path,
            "Args": c.args,
            "State": c.state.inspect(),
            "Image": c.image,
            "ResolvConfPath": c.resolv_conf_path,
            "HostnamePath": c.hostname_path,
            "HostsPath": c.hosts_path,
            "LogPath": c.log_path,
            "Name": c.name,
            "RestartCount": c.restart_count,
            "Driver": c.driver,
            "Platform": c.os,
            "MountLabel": c.mount_label,
            "ProcessLabel": c.process_label,
            "AppArmorProfile": c.app_armor_profile,
            "ExecIDs": None,
            "HostConfig": c.host_config,
            "GraphDriver": self.service.records.graph_driver(c.id),
        }
        if size:
            doc["SizeRw"] = self.size_rw()
            doc["SizeRootFs"] = self.size_root_fs()
        doc["Mounts"] = [_inspect_mount(m) for m in c.mount_points.values()]
        doc["Config"] = c.config
        doc["NetworkSettings"] = c.network_settings
        return doc

    def size_rw(self) -> int:
        from ..store.store import tree_size

        try:
            mount_id, _ = self.service.records.layer_ids(self.id)
        except Exception:
            return 0
        return tree_size(self.service.store.driver.diff_dir(mount_id))

    def size_root_fs(self) -> int:
        from ..digest import Digest

        try:
            image = self.service.store.image_size(Digest.parse(self.record.image))
        except Exception:
            image = 0
        return image + self.size_rw()

    # lifecycle ---------------------------------------------------------------------------
    def start(self, attach: Any = None, fork: bool = False) -> None:
        """Start it; ``fork``: the monitor is a fork of this process (``lifecycle.spawn_monitor``)."""
        from ..runtime import lifecycle

        lifecycle.start(self, attach, fork)
        self.reload()

    def stop(self, timeout: int | None = None) -> None:
        from ..runtime import lifecycle

        lifecycle.stop(self, timeout)
        self.reload()

    def kill(self, signal: str | int = "KILL") -> None:
        from ..runtime import lifecycle

        lifecycle.kill(self, signal)
        self.reload()

    def restart(self, timeout: int | None = None) -> None:
        self.reload()
        if self.record.state.running:
            self.stop(timeout)
        self.start()

    def pause(self) -> None:
        from ..runtime import lifecycle

        lifecycle.pause(self, True)
        self.reload()

    def unpause(self) -> None:
        from ..runtime import lifecycle

        lifecycle.pause(self, False)
        self.reload()

    def wait(self, condition: str = "not-running", timeout: float | None = None) -> dict[str, Any]:
        """Block until the container stops; docker-py's ``{"StatusCode": N, "Error": None}``."""
        deadline = None if timeout is None else time.monotonic() + timeout
        delay = 0.01
        while True:
            self.reload()
            state = self.record.state
            if condition == "not-running" and not state.running:
                break
            if condition == "next-exit" and not state.running and state.finished_at != ZERO_TIME:
                break
            if deadline is not None and time.monotonic() > deadline:
                raise TimeoutError(f"container {self.short_id} still running")
            time.sleep(delay)
            delay = min(delay * 2, 0.2)
        return {"StatusCode": self.record.state.exit_code, "Error": None}

    def remove(self, force: bool = False, v: bool = False) -> None:
        from ..runtime import lifecycle

        lifecycle.remove(self, force=force, volumes=v)

    def rename(self, name: str) -> None:
        self.record = self.service.records.rename(self.id, name)

    def logs(self, stdout: bool = True, stderr: bool = True, timestamps: bool = False, tail: int | str = "all",
             since: float | None = None, until: float | None = None, follow: bool = False) -> Iterable[tuple[str, bytes]]:
        """(stream, line) pairs from the json-file log; ``follow`` keeps reading while it runs."""
        from ..runtime import logs

        return logs.read(self, stdout=stdout, stderr=stderr, timestamps=timestamps, tail=tail,
                         since=since, until=until, follow=follow)

    def exec_run(self, cmd: list[str] | str, **kwargs: Any) -> int:
        from ..runtime import lifecycle

        if isinstance(cmd, str):
            import shlex

            cmd = shlex.split(cmd)
        return lifecycle.exec_process(self, cmd, **kwargs)

    def top(self) -> dict[str, Any]:
        from ..runtime import lifecycle

        return lifecycle.top(self)

    def stats(self) -> dict[str, Any]:
        from ..runtime import lifecycle

        return lifecycle.stats(self)

    def update(self, **kwargs: Any) -> None:
        from ..runtime import lifecycle

        lifecycle.update(self, **kwargs)
        self.reload()

    # ps row ------------------------------------------------------------------------------
    def status_text(self, now: float | None = None) -> str:
        return status_text(self.record, now)


def status_text(c: Container, now: float | None = None) -> str:
    """docker's STATUS column: "Up 13 seconds", "Exited (0) 5 seconds ago", "Created", …"""
    from ..format.humanize import human_duration

    now = time.time() if now is None else now
    s = c.state
    if s.running:
        if s.paused:
            return f"Up {human_duration(now - parse_rfc3339(s.started_at))} (Paused)"
        if s.restarting:
            return f"Restarting ({s.exit_code}) {human_duration(now - parse_rfc3339(s.finished_at))} ago"
        return f"Up {human_duration(now - parse_rfc3339(s.started_at))}"
    if s.removal_in_progress:
        return "Removal In Progress"
    if s.dead:
        return "Dead"
    if s.started_at == ZERO_TIME or not s.started_at:
        return "Created"
    if s.finished_at == ZERO_TIME or not s.finished_at:
        return ""
    return f"Exited ({s.exit_code}) {human_duration(now - parse_rfc3339(s.finished_at))} ago"


def _inspect_mount(point: dict[str, Any]) -> dict[str, Any]:
    doc: dict[str, Any] = {"Type": point.get("Type", "")}
    if point.get("Name"):
        doc["Name"] = point["Name"]
    doc["Source"] = point.get("Source", "")
    doc["Destination"] = point.get("Destination", "")
    if point.get("Driver"):
        doc["Driver"] = point["Driver"]
    doc["Mode"] = point.get("Mode", point.get("Relabel", ""))
    doc["RW"] = point.get("RW", True)
    doc["Propagation"] = point.get("Propagation", "")
    return doc
