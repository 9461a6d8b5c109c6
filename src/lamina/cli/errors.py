"""The one table from lamina's exceptions to process exit codes (docker's conventions)."""

from __future__ import annotations

from .. import errors as e

#: docker exits 125 when the engine itself fails; 1 is used for "not found" by inspect etc.
EXIT_CODES: list[tuple[type[BaseException], int]] = [
    (e.NotFound, 1),
    (e.Unauthorized, 1),
    (e.RegistryUnavailable, 1),
    (e.InvalidArgument, 125),
    (e.Conflict, 1),
    (e.Unsupported, 125),
    (e.StoreCorrupt, 125),
    (e.RuntimeFailure, 125),
    (e.LaminaError, 125),
]

USAGE_EXIT = 125


def error_line(exc: BaseException) -> str:
    """The one line on stderr for a failed command: a lamina error as it says itself, an
    ``OSError`` lamina did not foresee (a full disk, a permission) by its strerror and file."""
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"Error: {exc.strerror or exc}{where}\n"
    return f"Error: {exc}\n"


def as_run_failure(exc: BaseException) -> BaseException:
    """``exc`` marked with docker's exit status for ``run``: 125 for any failure of the engine
    itself (a name in use, a missing image, a failed pull), where other commands — ``create``
    among them — exit 1; a status the error already carries (126/127 from the runtime) is kept."""
    if not isinstance(getattr(exc, "exit_status", None), int):
        exc.exit_status = 125
    return exc


def exit_code_for(exc: BaseException) -> int:
    status = getattr(exc, "exit_status", None)
    if isinstance(status, int):
        return status
    for cls, code in EXIT_CODES:
        if isinstance(exc, cls):
            return code
    return 125
