"""Graph drivers: where layer directories live and how a stack of them becomes a root fs.

Two real drivers: ``overlay2`` (kernel overlayfs; the default) and ``vfs`` (full copies, for
hosts or filesystems where overlayfs cannot be mounted). Drivers create and remove layer
directories and *return* Mount values; they never decide when to mount.
"""

__all__ = ["GraphDriver", "DriverChoice", "select_driver", "Overlay2Driver", "VfsDriver"]

#: loaded on first use: importing ``graphdriver.base`` runs this package first, and a command
#: that only reads layer records needs neither driver nor the interface (``typing``)
_WHERE = {
    "GraphDriver": ".interface",
    "DriverChoice": ".base",
    "select_driver": ".base",
    "Overlay2Driver": ".overlay2",
    "VfsDriver": ".vfs",
}


def __getattr__(name: str):
    if name in _WHERE:
        return getattr(__import__(f"{__name__}{_WHERE[name]}", fromlist=("__name__",)), name)
    raise AttributeError(f"module 'lamina.graphdriver' has no attribute {name!r}")
