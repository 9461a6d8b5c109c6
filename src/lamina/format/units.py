"""docker's go-units and time formatting: sizes, durations, timestamps.

Sizes follow the seeds: ``docker image ls`` there prints ``166 MB``, ``1.84 kB``, ``289.1 MB``
— go-units' HumanSize of that era, ``"%.4g %s"`` in decimal units (newer docker dropped the
space; lamina keeps what the seeds show).
"""

from __future__ import annotations

from ..errors import InvalidArgument
from .humanize import bytes_size, format_time_created_at, human_duration, human_size

TYPE_CHECKING = False  # ``datetime`` loads where a function needs it: not on ``run``'s path (sizes)
if TYPE_CHECKING:
    from datetime import datetime

__all__ = [
    "human_size",
    "bytes_size",
    "parse_size",
    "human_duration",
    "created_since",
    "parse_time",
    "format_time_created_at",
    "format_rfc3339nano",
]

_COMPILED: dict = {}


def _rx(pattern: str, flags: int = 0):
    """``re.compile``, at first use: ``run`` imports this module for ``parse_size``, and ``re``
    (with ``enum``) costs ~4 ms of its start-up; a size without a unit needs no regex at all."""
    compiled = _COMPILED.get((pattern, flags))
    if compiled is None:
        import re

        compiled = _COMPILED[(pattern, flags)] = re.compile(pattern, flags)
    return compiled


_SIZE_RE = r"^(\d+(?:\.\d+)*) ?([kKmMgGtTpP])?[iI]?[bB]?$"
_MULTIPLIER = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40, "p": 1 << 50}


def parse_size(text: str) -> int:
    """go-units RAMInBytes: ``512k``, ``10m``, ``1.5GB`` (binary multiples), ``100``."""
    m = _rx(_SIZE_RE).match(text.strip())
    if m is None:
        raise InvalidArgument(f"invalid size: '{text}'")
    return int(float(m.group(1)) * _MULTIPLIER[(m.group(2) or "").lower()])


def created_since(created: datetime, now: datetime | None = None) -> str:
    """docker's CreatedSince: ``2 weeks ago``."""
    from datetime import UTC, datetime

    now = now or datetime.now(UTC)
    return human_duration((now - created).total_seconds()) + " ago"


_TIME_RE = r"^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|z|[+-]\d{2}:\d{2})$"


_DIGITS = frozenset("0123456789")


def _plain_time(text: str) -> tuple | None:
    """The fields ``_TIME_RE`` reads from ``text`` (stripped), for ASCII text in the common
    shape (``2020-05-05T05:05:05.123456789Z``), without ``re`` (``history`` on the lean CLI
    path); None for anything else: the pattern then decides."""
    if len(text) < 20 or text[4] != "-" or text[7] != "-" or text[10] not in "Tt " or text[13] != ":" or text[16] != ":":
        return None
    fields = (text[0:4], text[5:7], text[8:10], text[11:13], text[14:16], text[17:19])
    if not all(_DIGITS.issuperset(field) for field in fields):
        return None
    rest, frac = text[19:], None
    if rest.startswith("."):
        end = 1
        while end < len(rest) and rest[end] in _DIGITS:
            end += 1
        if not 1 < end <= 10:
            return None
        frac, rest = rest[1:end], rest[end:]
    if rest not in ("Z", "z") and not (
        len(rest) == 6 and rest[0] in "+-" and rest[3] == ":" and _DIGITS.issuperset(rest[1:3] + rest[4:6])
    ):
        return None
    return (*fields, frac, rest)


def parse_time(text: str) -> datetime:
    """An RFC 3339 timestamp with up to nanoseconds (image configs) → aware datetime (µs)."""
    from datetime import UTC, datetime, timedelta, timezone

    groups = _plain_time(text.strip()) if isinstance(text, str) else None
    if groups is None:
        m = _rx(_TIME_RE).match(text.strip()) if isinstance(text, str) else None
        if m is None:
            raise InvalidArgument(f"invalid timestamp {text!r}: want RFC 3339, e.g. 2006-01-02T15:04:05Z")
        groups = m.groups()
    year, month, day, hour, minute, second, frac, zone = groups
    micro = int((frac or "0").ljust(9, "0")[:6])
    if zone in ("Z", "z"):
        tz = UTC
    else:
        sign = 1 if zone[0] == "+" else -1
        tz = timezone(sign * timedelta(hours=int(zone[1:3]), minutes=int(zone[4:6])))
    try:
        return datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro, tz)
    except ValueError as exc:
        raise InvalidArgument(f"invalid timestamp {text!r}: {exc}") from None


_DURATION_PART = r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)"
_DURATION_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "ms": 1e-3, "s": 1, "m": 60, "h": 3600}


def parse_go_duration(text: str) -> float:
    """Go's time.ParseDuration (``1h30m``, ``10m``, ``1.5s``) → seconds."""
    body = text.strip()
    sign = -1 if body.startswith("-") else 1
    body = body.lstrip("+-")
    if body == "0":
        return 0.0
    pos, total = 0, 0.0
    for m in _rx(_DURATION_PART).finditer(body):
        if m.start() != pos:
            break
        total += float(m.group(1)) * _DURATION_UNITS[m.group(2)]
        pos = m.end()
    if not body or pos != len(body):
        raise InvalidArgument(f"invalid duration {text!r}: want e.g. 10m, 1h30m")
    return sign * total


def parse_timestamp_filter(text: str, now: datetime | None = None) -> float:
    """docker's timetypes.GetTimestamp, for ``until``/``since`` filters → Unix seconds: a Go
    duration back from now (``24h``), a Unix time (``1700000000.5``), or an RFC 3339 date,
    date-time or date-only (the last two in local time when they carry no zone)."""
    from datetime import UTC, datetime

    value = text.strip()
    now = now or datetime.now(UTC)
    if _rx(r"-?\d+(\.\d+)?").fullmatch(value):
        return float(value)
    try:
        return now.timestamp() - parse_go_duration(value)
    except InvalidArgument:
        pass
    try:
        return parse_time(value).timestamp()
    except InvalidArgument:
        pass
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d"):
        try:
            return datetime.strptime(value, pattern).astimezone().timestamp()
        except ValueError:
            continue
    raise InvalidArgument(f"invalid timestamp {text!r}: want a duration (24h), a Unix time or an RFC 3339 date")


def format_rfc3339nano(moment: datetime) -> str:
    """Go's RFC3339Nano: fraction without trailing zeros, ``Z`` for UTC."""
    from datetime import timedelta

    base = moment.strftime("%Y-%m-%dT%H:%M:%S")
    frac = f"{moment.microsecond:06d}".rstrip("0")
    offset = moment.utcoffset()
    if offset is None or offset == timedelta(0):
        zone = "Z"
    else:
        total = int(offset.total_seconds() // 60)
        sign = "+" if total >= 0 else "-"
        zone = f"{sign}{abs(total) // 60:02d}:{abs(total) % 60:02d}"
    return f"{base}{'.' + frac if frac else ''}{zone}"
