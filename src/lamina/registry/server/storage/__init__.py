"""Storage for the registry: a driver interface, the filesystem and S3 drivers."""

from .driver import FileInfo, FileWriter, PathNotFound, StorageDriver
from .filesystem import FilesystemDriver

__all__ = ["StorageDriver", "FileInfo", "FileWriter", "PathNotFound", "FilesystemDriver", "driver_from_config"]


def driver_from_config(config) -> StorageDriver:
    """The driver ``config`` names (boto3 is imported only for S3)."""
    if config.storage_driver == "s3":
        from .s3 import S3Driver

        return S3Driver(config.storage_params)
    return FilesystemDriver(config.root)
