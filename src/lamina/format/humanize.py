"""go-units' human sizes and durations, docker's CreatedAt: arithmetic and ``time`` only, so
the fast CLI path can use them.

This module imports nothing at load (``units`` re-exports it); see ``units`` for the seeds' size style.
"""

__all__ = ["human_size", "compact_size", "bytes_size", "human_duration", "format_time_created_at"]

_DECIMAL = ["B", "kB", "MB", "GB", "TB", "PB", "EB", "ZB", "YB"]
_BINARY = ["B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB", "YiB"]


def _go_g4(value: float) -> str:
    """Go's %.4g: 4 significant digits, no trailing zeros, exponent only when huge."""
    text = f"{value:.4g}"
    if "e" in text:
        mantissa, exp = text.split("e")
        text = f"{mantissa}e{int(exp):+03d}"
    return text


def _custom_size(size: float, base: float, units: list[str], sep: str) -> str:
    i = 0
    while size >= base and i < len(units) - 1:
        size /= base
        i += 1
    return f"{_go_g4(size)}{sep}{units[i]}"


def human_size(size: float) -> str:
    """go-units HumanSize in the seeds' style: ``193 MB``, ``1.84 kB``, ``0 B``."""
    return _custom_size(float(size), 1000.0, _DECIMAL, " ")


def compact_size(size: float) -> str:
    """go-units HumanSize as docker's progress bars print it: ``3.146MB``, no space."""
    return _custom_size(float(size), 1000.0, _DECIMAL, "")


def bytes_size(size: float) -> str:
    """go-units BytesSize: binary units, ``1.5 GiB``."""
    return _custom_size(float(size), 1024.0, _BINARY, " ")


def human_duration(seconds: float) -> str:
    """go-units HumanDuration, thresholds and wording exactly."""
    secs = int(seconds)
    if secs < 1:
        return "Less than a second"
    if secs == 1:
        return "1 second"
    if secs < 60:
        return f"{secs} seconds"
    minutes = int(seconds / 60)
    if minutes == 1:
        return "About a minute"
    if minutes < 60:
        return f"{minutes} minutes"
    hours = int(seconds / 3600 + 0.5)
    if hours == 1:
        return "About an hour"
    if hours < 48:
        return f"{hours} hours"
    if hours < 24 * 7 * 2:
        return f"{hours // 24} days"
    if hours < 24 * 30 * 2:
        return f"{hours // 24 // 7} weeks"
    if hours < 24 * 365 * 2:
        return f"{hours // 24 // 30} months"
    return f"{int(seconds / 3600) // 24 // 365} years"


def format_time_created_at(timestamp: float) -> str:
    """docker's CreatedAt: Go's Time.String() of the whole second, in local time
    (``2024-01-01 00:01:40 +0000 UTC``), from Unix seconds."""
    import time

    moment = time.localtime(timestamp // 1)
    return time.strftime("%Y-%m-%d %H:%M:%S %z ", moment) + (moment.tm_zone or time.strftime("%Z"))
