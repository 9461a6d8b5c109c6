"""JSON through CPython's own C accelerator (``_json``), without importing ``json``.

``import json`` compiles regular expressions at import (``json.decoder``, ``json.encoder``), which
loads ``re`` and ``enum``: ~10 ms of every command that reads a JSON file, more than docker's
whole ``docker ps``. The parsing itself is ``_json``'s C scanner either way; this module calls
it directly, so the commands on the lean path (``ps``, ``logs``, the lifecycle commands read
containers' config.v2.json) pay only for the parse. Errors are ``ValueError`` as in ``json``
(the C scanner imports ``json.decoder`` to raise its ``JSONDecodeError``, on failure only).

Where ``_json`` is missing (another Python), ``json`` does the work.
"""

__all__ = ["loads", "quote", "dumps", "dumps_compact", "dumps_indented"]

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


def dumps_compact(value) -> str:
    """``json.dumps(value, separators=(",", ":"))``: json's own C encoder, as ``json.dumps``
    itself calls it when there is no indent (what config.v2.json is written with)."""
    if _json is None:  # pragma: no cover
        import json

        return json.dumps(value, separators=(",", ":"))
    return _encode_flat(value, ":", ",")


def dumps(value) -> str:
    """``json.dumps(value)`` with its default separators (what repositories.json is written
    with, as docker's Go encoder does not care), through the same C encoder."""
    if _json is None:  # pragma: no cover
        import json

        return json.dumps(value)
    return _encode_flat(value, ": ", ", ")


def _encode_flat(value, key_separator: str, item_separator: str) -> str:
    encode = _json.make_encoder({}, _unserialisable, _json.encode_basestring_ascii, None, key_separator,
                                item_separator, False, False, True)
    return "".join(encode(value, 0))


def _unserialisable(value):
    raise TypeError(f"Object of type {value.__class__.__name__} is not JSON serializable")


def dumps_indented(value, indent: int | str = 4, ensure_ascii: bool = True) -> str:
    """``json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)``, byte for byte, for the
    documents ``inspect`` prints and docker's config.json (dicts with string keys, lists,
    strings, numbers, booleans, None; ``indent`` a count of spaces or the string itself);
    anything else goes to ``json`` itself."""
    if _json is None:  # pragma: no cover
        import json

        return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)
    quote_string = _json.encode_basestring_ascii if ensure_ascii else _json.encode_basestring
    parts: list[str] = []
    try:
        _encode(value, parts, quote_string, indent if isinstance(indent, str) else " " * indent, "\n")
    except _NotPlain:
        import json

        return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)
    return "".join(parts)


class _NotPlain(Exception):
    """A value json encodes in some way this module does not copy (non-string keys, floats
    that are not finite, other types): json itself does it."""


def _encode(value, parts: list[str], quote_string, step: str, newline: str) -> None:
    if isinstance(value, str):
        parts.append(quote_string(value))
    elif value is None:
        parts.append("null")
    elif value is True:
        parts.append("true")
    elif value is False:
        parts.append("false")
    elif type(value) is int:
        parts.append(int.__repr__(value))
    elif type(value) is float and value - value == 0.0:
        parts.append(float.__repr__(value))
    elif isinstance(value, list | tuple):
        if not value:
            parts.append("[]")
            return
        inner = newline + step
        parts.append("[" + inner)
        for index, item in enumerate(value):
            if index:
                parts.append("," + inner)
            _encode(item, parts, quote_string, step, inner)
        parts.append(newline + "]")
    elif isinstance(value, dict):
        if not value:
            parts.append("{}")
            return
        inner = newline + step
        parts.append("{" + inner)
        for index, (key, item) in enumerate(value.items()):
            if type(key) is not str:
                raise _NotPlain
            if index:
                parts.append("," + inner)
            parts.append(quote_string(key) + ": ")
            _encode(item, parts, quote_string, step, inner)
        parts.append(newline + "}")
    else:
        raise _NotPlain


def _skip(text: str, index: int) -> int:
    while index < len(text) and text[index] in _WHITESPACE:
        index += 1
    return index
