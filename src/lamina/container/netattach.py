"""The network step of a container's start, between ``runc create`` and ``runc start``.

At that moment the container's process exists (its network namespace is ``/proc/<pid>/ns/net``)
but has not run a line of the user's program, so interfaces, addresses and routes set up here
are there from its first instruction. ``none`` and ``host`` need nothing (a namespace with only
loopback, or the host's own), so the monitor starts those with one ``runc run --detach``
(``needs_attach``). Every other mode is the networks package's: it provides
``lamina.network.attach_container(store, container, netns_path) -> dict`` (the NetworkSettings
to record) and ``lamina.network.detach_container(store, container)``; until it exists, ``create``
refuses those modes (``container.options.check_spec``).
"""

from __future__ import annotations

TYPE_CHECKING = False  # annotations only (the monitor imports this module at every start)
if TYPE_CHECKING:
    from typing import Any

LOCAL_MODES = ("none", "host")


def needs_attach(container: Any) -> bool:
    """Whether the start needs the network step between ``runc create`` and ``runc start``."""
    return (container.host_config.get("NetworkMode") or "none") not in LOCAL_MODES


def attach(store: Any, container: Any, pid: int) -> dict[str, Any] | None:
    """Connect the container's network namespace; the NetworkSettings to record, or None."""
    mode = container.host_config.get("NetworkMode") or "none"
    if mode in LOCAL_MODES:
        return None
    from .. import network  # type: ignore[attr-defined]

    return network.attach_container(store, container, f"/proc/{pid}/ns/net")


def detach(store: Any, container: Any) -> None:
    mode = container.host_config.get("NetworkMode") or "none"
    if mode in LOCAL_MODES:
        return
    from .. import network  # type: ignore[attr-defined]

    network.detach_container(store, container)
