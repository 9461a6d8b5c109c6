"""Lean commands: the ``lamina`` commands that do little work, run before click or ``site`` load.

Each module here is one command (docker's aliases share it), declared to the dispatcher in
``lamina.cli.fast.LEAN`` and shaped the same way:

- ``SPEC``: its options and arguments (``args.Spec``), the same ones its click command takes;
- ``run(ctx, opts, args) -> int | None``: do the command and return the exit code, or return
  ``None`` (or raise ``args.Decline``) *before printing or changing anything* to leave the
  whole command line to the full CLI, which then does exactly what it always did.

A module imports at its top only what every run needs, the library lazily inside ``run``, and
never click: ``tests/unit/test_cli_lean.py`` runs each command and checks which modules it
loaded. Output goes through ``ctx.write`` and the library's errors are raised, not printed: the
dispatcher words them as the full CLI does (``lamina.cli.errors``).
"""

import posix
import sys

__all__ = ["Context"]


class Context:
    """What a lean command gets from the dispatcher: the global settings and the output."""

    __slots__ = ("data_root", "_engine", "_containers")

    def __init__(self, data_root: str) -> None:
        self.data_root = data_root
        self._engine = None
        self._containers = None

    def engine(self):
        """The ``Engine`` the full CLI would build for the same global options."""
        if self._engine is None:
            from ...engine import Engine

            self._engine = Engine(self.data_root)
        return self._engine

    def catalog(self):
        """The image catalog (``store.catalog``) if it is there and current, else None: the
        full CLI (or the engine) then rebuilds it. Read with nothing but built-in modules."""
        driver = self.driver()
        if driver is None:
            return None
        from ...store import catalog as catalogs

        return catalogs.read(self.data_root, catalogs.join(self.data_root, "image", driver), lazy=True)

    def driver(self) -> str | None:
        """The storage driver of the image store under a normal absolute data root (the one
        ``graphdriver.select_driver`` would pick there), or None: no store, or a spelling of the
        data root that only the full CLI normalises."""
        if not _is_normal_absolute(self.data_root):
            return None  # the store names itself by os.path.abspath; leave other spellings to it
        for driver in _DRIVERS:
            try:
                if posix.stat(f"{self.data_root}/image/{driver}/layerdb").st_mode & 0o170000 == 0o040000:
                    return driver
            except OSError:
                continue
        return None

    def store_view(self):
        """``container.store.StoreView`` of the data root if a store is there (whichever driver
        the store would pick), else None: then only the full CLI (which makes one) answers."""
        if not _is_normal_absolute(self.data_root):
            return None
        from ...container.store import StoreView

        for driver in _DRIVERS:
            try:
                posix.stat(f"{self.data_root}/image/{driver}/layerdb")
            except OSError:
                continue
            return StoreView(self.data_root, driver)
        return None

    def containers(self):
        """``engine.containers`` without the image store: a ``ContainerService`` on the
        ``store_view``, or None where there is no store yet. What needs images (``create``,
        ``ps -s``, the ``ancestor`` filter) asks ``engine().containers`` instead."""
        if self._containers is None:
            view = self.store_view()
            if view is None:
                return None
            from ...container.service import ContainerService

            self._containers = ContainerService(view, None)
        return self._containers

    @staticmethod
    def write(text: str) -> None:
        sys.stdout.write(text)

    @staticmethod
    def say(text: str) -> None:
        """Write and flush: a line the user should see now (``stop`` names each container as it
        stops, not when the last one has)."""
        sys.stdout.write(text)
        sys.stdout.flush()

    @staticmethod
    def error(text: str) -> None:
        sys.stdout.flush()
        sys.stderr.write(text)
        sys.stderr.flush()


_DRIVERS = ("overlay2", "vfs")  # the order select_driver looks for an existing store


def _is_normal_absolute(path: str) -> bool:
    """True only when ``os.path.abspath(path) == path`` (checked without ``os``; ``//x``, which
    abspath keeps, is left to the full CLI)."""
    if not path.startswith("/") or path == "/":
        return path == "/"
    parts = path[1:].split("/")
    return all(part not in ("", ".", "..") for part in parts)


def env(name: str) -> str | None:
    """An environment variable without loading ``os`` (empty counts as unset, as in click)."""
    value = posix.environ.get(name.encode())
    return value.decode(sys.getfilesystemencoding(), "surrogateescape") if value else None
