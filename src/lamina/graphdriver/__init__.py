"""Graph drivers: where layer directories live and how a stack of them becomes a root fs.

Two real drivers: ``overlay2`` (kernel overlayfs; the default) and ``vfs`` (full copies, for
hosts or filesystems where overlayfs cannot be mounted). Drivers create and remove layer
directories and *return* Mount values; they never decide when to mount.
"""

from .base import DriverChoice, GraphDriver, select_driver
from .overlay2 import Overlay2Driver
from .vfs import VfsDriver

__all__ = ["GraphDriver", "DriverChoice", "select_driver", "Overlay2Driver", "VfsDriver"]
