"""Entering a network namespace just long enough to open a socket there.

A socket belongs to the namespace of the thread that created it, for its whole life, so
lamina switches the calling thread into the container's namespace (``setns``), opens the
socket, and switches back: no ``ip netns exec``, no child process. Python 3.11 has no
``os.setns``, so it comes from libc.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Callable
from typing import TypeVar

CLONE_NEWNET = 0x40000000
T = TypeVar("T")


def _setns(fd: int) -> None:
    setns = getattr(os, "setns", None)
    if setns is not None:  # Python 3.12+
        setns(fd, CLONE_NEWNET)
        return
    import ctypes

    libc = ctypes.CDLL(None, use_errno=True)
    if libc.setns(fd, CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, os.strerror(err))


def inside(netns_path: str, make: Callable[[], T]) -> T:
    """Call ``make`` (which opens sockets) with this thread in ``netns_path``'s namespace."""
    own = os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    target = os.open(netns_path, os.O_RDONLY | os.O_CLOEXEC)
    try:
        _setns(target)
        try:
            return make()
        finally:
            _setns(own)
    finally:
        os.close(target)
        os.close(own)


def netlink_in(netns_path: str) -> socket.socket:
    from .netlink import NETLINK_ROUTE

    return inside(netns_path, lambda: socket.socket(socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, NETLINK_ROUTE))


def inode(netns_path: str) -> int:
    return os.stat(netns_path).st_ino
