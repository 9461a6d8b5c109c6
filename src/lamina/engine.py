"""Engine: the one facade that the CLI (and a future API server) use.

It owns the data root and hands out the services that work on it. Creating an Engine
creates the data root's skeleton, so the CLI builds one only when a command needs it.
"""

from __future__ import annotations

import os

from .image.service import ImageService
from .store.store import Store

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only (typing costs start-up time: lamina.value says why)
    from typing import Any

    from .archive.compression import Limits
    from .build.context import BuildContext
    from .build.executor import BuildOptions, BuildResult
    from .container.files import ContainerFiles
    from .container.service import ContainerService
    from .image.explore import Explorer
    from .image.remove import ImageRemover
    from .image.transfer import ImageTransfer
    from .network.service import NetworkService
    from .system.check import CheckReport
    from .system.usage import DiskUsage
    from .volume.service import VolumeService

DEFAULT_DATA_ROOT = "/var/lib/lamina"


class cached_property:  # noqa: N801 - functools' name, for the same use
    """``functools.cached_property`` without ``functools`` (which loads ``collections``: start-up
    time of every command that builds an Engine): computed on first access, then an ordinary
    attribute of the instance."""

    def __init__(self, func) -> None:
        self.func = func
        self.name = func.__name__
        self.__doc__ = func.__doc__

    def __set_name__(self, owner, name: str) -> None:
        self.name = name

    def __get__(self, obj, owner=None):
        if obj is None:
            return self
        value = obj.__dict__[self.name] = self.func(obj)
        return value
#: docker's ``inspect`` without ``--type``: the first kind of object that has the name wins
INSPECT_ORDER = ("container", "image", "network", "volume")


class Engine:
    def __init__(
        self,
        data_root: str | None = None,
        storage_driver: str | None = None,
        limits: Limits | None = None,
    ) -> None:
        self.data_root = os.path.abspath(
            data_root or os.environ.get("LAMINA_DATA_ROOT") or DEFAULT_DATA_ROOT
        )
        self.store = Store(self.data_root, storage_driver, limits)
        self.images = ImageService(self.store)

    @cached_property
    def image_remover(self) -> ImageRemover:
        """``rmi`` and ``image prune`` (docker's untag/delete rules)."""
        from .image.remove import ImageRemover

        return ImageRemover(self.images)

    @property
    def driver_name(self) -> str:
        return self.store.driver_choice.name

    # save/load and the system commands: imported when first used, so that a command that
    # only lists images does not load the archive writers
    @cached_property
    def transfer(self) -> ImageTransfer:
        """``save`` (docker-archive or OCI layout) and ``load``."""
        from .image.transfer import ImageTransfer

        return ImageTransfer(self.images)

    @cached_property
    def networks(self) -> NetworkService:
        """Networks (``network create|ls|inspect|rm|prune``) and containers' endpoints."""
        from .network.service import NetworkService

        return NetworkService(self.store)

    @cached_property
    def containers(self) -> ContainerService:
        """docker-py's ``client.containers``: create, run, get, list, prune."""
        from .container.service import ContainerService

        return ContainerService(self.store, self.images)

    def build(self, context: BuildContext, options: BuildOptions | None = None, emit=None, output=None) -> BuildResult:
        """``build``: run a Dockerfile against a context (``lamina.build.context.open_context``).

        ``emit`` gets the classic builder's progress lines ("Step 2/5 : …", " ---> Using cache"),
        ``output`` (a binary stream) the output of RUN commands. Returns the image and the steps.
        """
        from .build.executor import BuildOptions, build

        return build(self, context, options or BuildOptions(), emit or (lambda line: None), output)

    @cached_property
    def volumes(self) -> VolumeService:
        """``volume create|ls|inspect|rm|prune`` (docker-py's ``client.volumes``)."""
        from .volume.service import VolumeService

        return VolumeService(self.store)

    @cached_property
    def container_files(self) -> ContainerFiles:
        """diff, commit, export and cp: a container's filesystem, read from docker's layout."""
        from .container.files import ContainerFiles, pauser

        return ContainerFiles(self.images, pauser(self.containers))

    @cached_property
    def explorer(self) -> Explorer:
        """The layer explorer: ``image layers|blame|diff|waste|tree`` over stored images and
        saved archives."""
        from .image.explore import Explorer

        return Explorer(self.images)

    def disk_usage(self) -> DiskUsage:
        """``system df``: per-image shared and unique bytes, each layer counted once."""
        from .system.usage import disk_usage

        return disk_usage(self.store, self.images)

    def check(self, repair: bool = False) -> CheckReport:
        """``system check``: find (and with ``repair`` remove) debris left by killed commands."""
        from .system.check import StoreChecker

        if not repair:
            report = StoreChecker(self.store).run()
        else:
            with self.images.changes():
                report = StoreChecker(self.store).run(repair=True)
        report.findings += self._network_findings(repair)
        return report

    def _network_findings(self, repair: bool) -> list:
        """What dead containers left on the host's network (needs root to see; none without)."""
        if os.geteuid() != 0 or not os.path.isdir(os.path.join(self.data_root, "network")):
            return []
        from .system.check import Finding

        found = self.networks.reconcile(repair=repair)
        return (
            [Finding("network endpoint of a dead container", e) for e in found.endpoints]
            + ([Finding("iptables rules without an owner", str(found.rules))] if found.rules else [])
            + [Finding("veth without an endpoint", name) for name in found.links]
            + [Finding("address lease without an endpoint", lease) for lease in found.leases]
            + [Finding("published port without an endpoint", port) for port in found.ports]
            + [Finding("iptables rules missing", what) for what in found.missing]
        )

    def inspect(self, name: str, kind: str | None = None, size: bool = False) -> dict[str, Any]:
        """docker's ``inspect``: the document of the container, image, network or volume called
        ``name``, the first in ``INSPECT_ORDER`` that has it, or of that ``kind`` only (its own
        "No such …" error then); ``size`` adds a container's SizeRw and SizeRootFs."""
        from .errors import InvalidArgument, NotFound

        if kind is not None and kind not in INSPECT_ORDER:
            raise InvalidArgument(f'"{kind}" is not a valid value for --type')
        for each in (kind,) if kind else INSPECT_ORDER:
            try:
                if each == "container":
                    return self.containers.get(name).inspect(size=size)
                if each == "image":
                    return self.images.inspect(name)
                if each == "network":
                    return self.networks.inspect(name)
                return self.volumes.get(name).attrs
            except (NotFound, InvalidArgument):
                if kind:
                    raise
        raise NotFound(f"No such object: {name}")

    def info(self) -> dict[str, Any]:
        """``info``: the data root, the storage driver and why it was chosen, counts."""
        from .system.info import info

        return info(self.store)
