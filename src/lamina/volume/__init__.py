"""Volumes: docker's local driver layout (``volumes/<name>/_data``), ``engine.volumes``, and the
seam containers use to turn a volume mount into a host directory (``resolve_for_container``)."""

from .local import remove_anonymous, remove_anonymous_for_container, resolve_for_container

__all__ = ["resolve_for_container", "remove_anonymous", "remove_anonymous_for_container"]
