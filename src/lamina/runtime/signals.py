"""Signal names as docker takes them (``KILL``, ``SIGTERM``, ``9``, ``SIGRTMIN+3``)."""

from __future__ import annotations

from ..errors import InvalidArgument


def parse_signal(text: str | int) -> int:
    try:
        import _signal as signal  # the numbers without ``signal``'s enums (enum: ~3 ms of ``stop``)
    except ImportError:  # pragma: no cover - CPython has it
        import signal

    if isinstance(text, int):
        return text
    value = text.strip()
    if value.isdigit():
        number = int(value)
        if number <= 0 or number > 64:
            raise InvalidArgument(f"Invalid signal: {text}")
        return number
    name = value.upper()
    if not name.startswith("SIG"):
        name = "SIG" + name
    if name.startswith("SIGRTMIN+") or name.startswith("SIGRTMAX-"):
        try:
            offset = int(name[9:])
        except ValueError:
            raise InvalidArgument(f"Invalid signal: {text}") from None
        base = signal.SIGRTMIN + offset if name.startswith("SIGRTMIN") else signal.SIGRTMAX - offset
        return int(base)
    number = getattr(signal, name, None) if not name.startswith("SIG_") else None
    if not isinstance(number, int):
        raise InvalidArgument(f"Invalid signal: {text}")
    return int(number)
