"""JSON through CPython's own C accelerator (``_json``), without importing ``json``.

``import json`` compiles regular expressions at import (``json.decoder``, ``json.encoder``), which
loads ``re`` and ``enum``: ~10 ms of every command that reads a JSON file, more than docker's
whole ``docker ps``. The parsing itself is ``_json``'s C scanner either way; this module calls
it directly, so the commands on the lean path (``ps``, ``logs``, the lifecycle commands read
containers' config.v2.json) pay only for the parse. Errors are ``ValueError`` as in ``json``
(the C scanner imports ``json.decoder`` to raise its ``JSONDecodeError``, on failure only).

Where ``_json`` is missing (another Python), ``json`` does the work.
"""

__all__ = ["loads", "quote"]

try:
    import _json
except ImportError:  # pragma: no cover - CPython always has it
    _json = None

_WHITESPACE = " \t\n\r"


class _Context:
    """What ``_json.make_scanner`` reads from a ``json.JSONDecoder``: its default settings."""

    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int

    @staticmethod
    def parse_constant(name: str) -> float:
        return {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}[name]


_scan = _json.make_scanner(_Context()) if _json is not None else None


def loads(data: bytes | str):
    """``json.loads``: one JSON document (UTF-8 when given bytes), whitespace around it allowed."""
    text = data.decode("utf-8") if isinstance(data, bytes | bytearray) else data
    if _scan is None:  # pragma: no cover
        import json

        return json.loads(text)
    start = _skip(text, 0)
    try:
        value, end = _scan(text, start)
    except StopIteration:
        raise ValueError(f"Expecting value: char {start}") from None
    if _skip(text, end) != len(text):
        raise ValueError(f"Extra data: char {end}")
    return value


def quote(text: str) -> str:
    """``json.dumps(text, ensure_ascii=False)`` of a string: the same C function."""
    if _json is None:  # pragma: no cover
        import json

        return json.dumps(text, ensure_ascii=False)
    return _json.encode_basestring(text)


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in _WHITESPACE:
        index += 1
    return index
