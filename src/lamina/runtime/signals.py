"""Signal names as docker takes them (``KILL``, ``SIGTERM``, ``9``, ``SIGRTMIN+3``)."""

from __future__ import annotations

from ..errors import InvalidArgument


def parse_signal(text: str | int) -> int:
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
    member = getattr(signal.Signals, name, None) if hasattr(signal.Signals, name) else None
    if member is None:
        raise InvalidArgument(f"Invalid signal: {text}")
    return int(member)
