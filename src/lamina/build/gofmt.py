"""Go's ``%q`` and ``time.Duration`` printing, for history lines in docker's exact form
(``CMD ["/bin/sh" "-c" "figlet"]``, ``HEALTHCHECK &{["CMD-SHELL" "curl …"] "5m0s" …}``)."""

from __future__ import annotations

__all__ = ["go_quote", "go_quote_list", "go_duration", "parse_go_duration_ns"]


def go_quote(text: str) -> str:
    out = ['"']
    for ch in text:
        code = ord(ch)
        if ch == '"':
            out.append('\\"')
        elif ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ch == "\r":
            out.append("\\r")
        elif code < 0x20 or code == 0x7F:
            out.append(f"\\x{code:02x}")
        else:
            out.append(ch)
    out.append('"')
    return "".join(out)


def go_quote_list(items: list[str]) -> str:
    return "[" + " ".join(go_quote(i) for i in items) + "]"


_UNITS = {"ns": 1, "us": 1_000, "µs": 1_000, "ms": 1_000_000, "s": 1_000_000_000, "m": 60_000_000_000, "h": 3_600_000_000_000}


def parse_go_duration_ns(text: str) -> int:
    """Go's time.ParseDuration, in nanoseconds (``5m``, ``1h30m``, ``1.5s``, ``300ms``)."""
    import re

    if text in ("0", ""):
        return 0
    parts = re.findall(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)", text)
    if not parts or "".join(a + b for a, b in parts) != text.lstrip("+"):
        raise ValueError(f"time: invalid duration {text!r}")
    return int(sum(float(num) * _UNITS[unit] for num, unit in parts))


def go_duration(ns: int) -> str:
    """Go's Duration.String: ``5m0s``, ``3s``, ``1.5s``, ``300ms``, ``0s``."""
    if ns == 0:
        return "0s"
    if ns < 1_000_000_000:
        for unit, size in (("ms", 1_000_000), ("µs", 1_000), ("ns", 1)):
            if ns >= size:
                return _trim(ns / size) + unit
    hours, rem = divmod(ns, 3_600_000_000_000)
    minutes, rem = divmod(rem, 60_000_000_000)
    seconds = _trim(rem / 1_000_000_000) + "s"
    if hours:
        return f"{hours}h{minutes}m{seconds}"
    if minutes:
        return f"{minutes}m{seconds}"
    return seconds


def _trim(value: float) -> str:
    text = f"{value:.9f}".rstrip("0").rstrip(".")
    return text
