"""Storage for the registry: a driver interface, the filesystem driver, the path layout."""

from .driver import FileInfo, PathNotFound, StorageDriver
from .filesystem import FilesystemDriver

__all__ = ["StorageDriver", "FileInfo", "PathNotFound", "FilesystemDriver"]
