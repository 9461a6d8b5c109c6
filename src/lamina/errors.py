"""The exception tree of lamina.

Every failure a user can cause or fix is one of these classes, with a message that says
what went wrong in the user's terms ("No such image: foo:latest"). The CLI maps classes to
exit codes in one table (``lamina.cli.errors``); the registry server maps its own errors to
HTTP statuses in one table (``lamina.registry.server.errors``). Library code never prints and
never exits: it raises one of these.
"""

from __future__ import annotations

__all__ = [
    "LaminaError",
    "NotFound",
    "Conflict",
    "InvalidArgument",
    "InvalidReference",
    "DigestMismatch",
    "UnsafeArchive",
    "Unsupported",
    "StoreCorrupt",
    "RuntimeFailure",
    "Unauthorized",
    "ContainerStartFailed",
    "RegistryUnavailable",
]


class LaminaError(Exception):
    """Base class: an error whose message is fit to show a user as is."""


class NotFound(LaminaError):
    """The thing named does not exist (image, layer, container, blob, tag)."""


class Conflict(LaminaError):
    """The operation would break something that depends on the target (an image in use)."""


class InvalidArgument(LaminaError):
    """The user's input is malformed (a flag value, a file, a document)."""


class InvalidReference(InvalidArgument):
    """An image reference or repository name that the grammar does not accept."""


class DigestMismatch(InvalidArgument):
    """Content whose hash is not the digest it was announced under."""


class UnsafeArchive(InvalidArgument):
    """A tar stream that tries to write outside its root, or a decompression bomb."""


class Unsupported(LaminaError):
    """Well-formed input that lamina does not handle (a media type, an algorithm)."""


class StoreCorrupt(LaminaError):
    """The data root holds something inconsistent; `lamina system check` can say more."""


class Unauthorized(LaminaError):
    """A registry refused the credentials (or asked for some)."""


class RuntimeFailure(LaminaError):
    """The host cannot do what was asked (mount refused, runtime missing)."""


class ContainerStartFailed(RuntimeFailure):
    """A container could not be started; ``exit_status`` is docker's for the cause (127: the
    command was not found, 126: it could not be invoked, 125: anything else)."""

    def __init__(self, message: str, exit_status: int = 125) -> None:
        super().__init__(message)
        self.exit_status = exit_status


class RegistryUnavailable(LaminaError):
    """A registry could not be reached or kept failing (network, TLS, 5xx after retries)."""
