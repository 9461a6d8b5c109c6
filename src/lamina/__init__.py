"""lamina: a container engine in Python.

The public API is what ``__all__`` names; everything else is internal and may change.
"""

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


#: names imported on first use: ``lamina images`` answers from the image catalog before any of
#: these load (``lamina.cli.fast``); ``reference`` alone would cost it the ``re`` module
_LAZY = {
    "Engine": ".engine",
    "Digest": ".digest",
    "Reference": ".reference",
    **{name: ".errors" for name in (
        "LaminaError", "NotFound", "Conflict", "InvalidArgument", "InvalidReference",
        "DigestMismatch", "UnsafeArchive", "Unsupported", "StoreCorrupt",
    )},
}


def __getattr__(name: str):
    if name == "errors":
        # __import__, not importlib.import_module: importlib's package loads ``warnings``
        return __import__(f"{__name__}.errors", fromlist=("__name__",))
    if name in _LAZY:
        value = getattr(__import__(f"{__name__}{_LAZY[name]}", fromlist=("__name__",)), name)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'lamina' has no attribute {name!r}")
