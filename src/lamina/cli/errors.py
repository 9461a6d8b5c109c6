"""The one table from lamina's exceptions to process exit codes (docker's conventions)."""

from __future__ import annotations

from .. import errors as e

#: docker exits 125 when the engine itself fails; 1 is used for "not found" by inspect etc.
EXIT_CODES: list[tuple[type[BaseException], int]] = [
    (e.NotFound, 1),
    (e.Unauthorized, 1),
    (e.InvalidArgument, 125),
    (e.Conflict, 1),
    (e.Unsupported, 125),
    (e.StoreCorrupt, 125),
    (e.RuntimeFailure, 125),
    (e.LaminaError, 125),
]

USAGE_EXIT = 125


def exit_code_for(exc: BaseException) -> int:
    for cls, code in EXIT_CODES:
        if isinstance(exc, cls):
            return code
    return 125
