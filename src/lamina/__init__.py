"""lamina: a container engine in Python.

The public API is what ``__all__`` names; everything else is internal and may change.
"""

from . import errors
from .digest import Digest
from .errors import (
    Conflict,
    DigestMismatch,
    InvalidArgument,
    InvalidReference,
    LaminaError,
    NotFound,
    StoreCorrupt,
    UnsafeArchive,
    Unsupported,
)
from .reference import Reference

__version__ = "0.1.0"

__all__ = [
    "__version__",
    "Engine",
    "errors",
    "Digest",
    "Reference",
    "LaminaError",
    "NotFound",
    "Conflict",
    "InvalidArgument",
    "InvalidReference",
    "DigestMismatch",
    "UnsafeArchive",
    "Unsupported",
    "StoreCorrupt",
]


def __getattr__(name: str):
    # The engine pulls in the store, drivers and codecs; import it only when asked, so that
    # ``import lamina`` (and every CLI start) stays fast.
    if name == "Engine":
        from .engine import Engine

        return Engine
    raise AttributeError(f"module 'lamina' has no attribute {name!r}")
