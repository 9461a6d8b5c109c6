"""RUN: the command in a real container of the step's image, its upper directory the new layer.

As docker's classic builder: the container gets the image's config with the command replaced
(no entrypoint), the build args in its environment, the build's network (host by default, so
``apt-get install`` reaches the mirror; ``--network none`` cuts it off). Its output goes to the
build's output as it comes. After a successful step the container is removed (``--rm``, the
default) with the anonymous volumes an image's VOLUME gave it (docker's builder removes them
too: what a step writes below a VOLUME is not kept); after a failed one only with
``--force-rm``, so it can be inspected. A heredoc
script that starts with ``#!`` is bound into the container at ``/dev/pipes/<name>`` and run as a
file, by its own interpreter (BuildKit's rule); other heredocs run through the shell.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, BinaryIO

from ..digest import Digest
from ..errors import Unsupported

if TYPE_CHECKING:
    from ..engine import Engine


@dataclass
class RunResult:
    exit_code: int
    upper_dir: str
    handle: Any
    emit: Callable[[str], None]
    remove: bool
    force_remove: bool

    def __enter__(self) -> RunResult:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        failed = exc_type is not None or self.exit_code != 0
        if self.force_remove or (self.remove and not failed):
            self.emit(f"Removing intermediate container {self.handle.short_id}")
            self.handle.remove(force=True, v=True)  # its anonymous volumes too, as docker's builder


def _attached(handle, output: BinaryIO | None) -> int:
    """Start the container with its stdout and stderr on a pipe of ours, copy what comes to
    ``output`` as it comes, and return the exit code the monitor reports once the container is
    gone and its root unmounted (as ``run`` in the foreground does: no polling of the state
    or the log file)."""
    from ..errors import RuntimeFailure
    from ..runtime.lifecycle import Attach, start

    read_end, write_end = os.pipe()
    try:
        # the monitor as a fork of the builder (as the lean ``run`` has it): no second
        # interpreter start-up per step; it lives only as long as the step's container, and a
        # builder with threads (an API server) still gets a fresh one (``lifecycle._may_fork``)
        channel = start(handle, Attach(stdout=write_end, stderr=write_end), fork=True)
    except BaseException:
        os.close(read_end)
        raise
    finally:
        os.close(write_end)  # the monitor holds its own copies until the container exits
    with os.fdopen(read_end, "rb", buffering=0) as pipe:
        while chunk := pipe.read(65536):
            if output is not None:
                output.write(chunk)
                output.flush()
    if channel is None:  # it was running already: cannot happen to a new step container
        return int(handle.wait()["StatusCode"])
    try:
        kind, value, message = channel.next()
        while kind == "started":
            kind, value, message = channel.next()
    finally:
        channel.close()
    if kind != "exit":
        raise RuntimeFailure(message or f"the step's container did not report its exit ({kind})")
    return value


def _upper_dir(engine: Engine, container_id: str) -> str:
    """The container's read-write layer: docker's layerdb/mounts/<id>/mount-id names it."""
    mount_id_path = os.path.join(engine.store.paths.layerdb_mounts(), container_id, "mount-id")
    with open(mount_id_path, encoding="utf-8") as f:
        mount_id = f.read().strip()
    return engine.store.driver.diff_dir(mount_id)


def run_step(
    engine: Engine,
    *,
    image_id: Digest,
    config: dict[str, Any],
    cmd: list[str],
    env: list[str],
    network: str,
    emit: Callable[[str], None],
    output: BinaryIO | None,
    remove: bool,
    force_remove: bool,
    script: tuple[str, str] | None = None,
) -> RunResult:
    containers = getattr(engine, "containers", None)
    if containers is None:
        raise Unsupported("RUN needs containers (engine.containers), which this lamina does not have yet")
    mounts = []
    script_file = None
    if script is not None:
        # a heredoc with a shebang: bound read-only at /dev/pipes/<name> (in the container's
        # /dev tmpfs, so nothing of it lands in the layer) and executed, as BuildKit does
        name, content = script
        fd, script_file = tempfile.mkstemp(prefix="run-script-", dir=engine.store.paths.tmp())
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(content)
        os.chmod(script_file, 0o755)
        target = f"/dev/pipes/{name}"
        mounts.append({"Type": "bind", "Source": script_file, "Target": target, "ReadOnly": True})
        cmd = [target]
    try:
        handle = containers.create(
            str(image_id),
            command=list(cmd),
            entrypoint=[],
            environment=list(env),
            working_dir=config.get("WorkingDir") or "",
            user=config.get("User") or "",
            network_mode=network,
            mounts=mounts,
        )
    except BaseException:
        if script_file:
            os.unlink(script_file)
        raise
    emit(f" ---> Running in {handle.short_id}")
    try:
        status = _attached(handle, output)
        upper = _upper_dir(engine, handle.id)
    except BaseException:
        if script_file:
            os.unlink(script_file)
        if force_remove or remove:
            try:
                handle.remove(force=True, v=True)
            except Exception:  # noqa: BLE001 - the first error is the one to report
                pass
        raise
    if script_file:
        os.unlink(script_file)
    return RunResult(int(status), upper, handle, emit, remove, force_remove)
