"""docker's json-file log: one ``{"log": …, "stream": …, "time": …}`` object per line of output.

Written by the monitor (``runtime.monitor``) and by its idle form (``runtime.waiter``), which
must load next to nothing: so this module imports only ``os`` and ``time``, and keeps its own
copy of the timestamp format. Lines are dockerd's own bytes (``tests/interop`` compares them).
"""

import os
import time

__all__ = ["JsonLog", "LOG_LINE_MAX", "rfc3339nano"]

#: docker splits longer lines into partial entries of this size
LOG_LINE_MAX = 16 * 1024


def _escapes() -> dict[int, str]:
    """docker's string escaping in json-file lines (its jsonlog writer, not Go's encoder): ``"``
    and ``\\`` backslashed, ``\\n`` and ``\\r`` as such, every other control character and
    ``<``, ``>``, ``&`` as ``\\u00XX``, U+2028/U+2029 escaped, an invalid byte as ``\\ufffd``,
    the rest of UTF-8 as it is."""
    table = {c: f"\\u{c:04x}" for c in range(0x20)}
    table.update({ord("\n"): "\\n", ord("\r"): "\\r", ord('"'): '\\"', ord("\\"): "\\\\"})
    table.update({ord(c): f"\\u{ord(c):04x}" for c in "<>&\u2028\u2029\ufffd"})
    return table


_ESCAPES = _escapes()


def rfc3339nano(ns: int | None = None) -> str:
    """Go's RFC3339Nano in UTC (``container.model.rfc3339nano``'s twin: the idle monitor must
    not load the container model to stamp a log line)."""
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    digits = f"{frac:09d}".rstrip("0")
    return f"{base}.{digits}Z" if digits else f"{base}Z"


def log_entry(data: bytes, stream: str, stamp: str) -> str:
    """One json-file line, byte for byte as dockerd writes it (compact, its escaping)."""
    text = data.decode("utf-8", "replace").translate(_ESCAPES)
    return f'{{"log":"{text}","stream":"{stream}","time":"{stamp}"}}\n'


class JsonLog:
    """The container's ``<id>-json.log``, appended line by line; output that has not ended its
    line yet waits in ``partial`` (handed over whole when the monitor changes form)."""

    def __init__(self, path: str = "", fd: int = -1, partial: dict[str, bytes] | None = None) -> None:
        self.fd = fd if fd >= 0 else os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o640)
        self.partial = partial if partial is not None else {"stdout": b"", "stderr": b""}

    def write(self, stream: str, data: bytes) -> None:
        buf = self.partial[stream] + data
        out = []
        while True:
            nl = buf.find(b"\n")
            if nl < 0:
                if len(buf) >= LOG_LINE_MAX:
                    out.append(buf[:LOG_LINE_MAX])
                    buf = buf[LOG_LINE_MAX:]
                    continue
                break
            out.append(buf[: nl + 1])
            buf = buf[nl + 1:]
        self.partial[stream] = buf
        if out:
            stamp = rfc3339nano()
            os.write(self.fd, "".join(log_entry(line, stream, stamp) for line in out).encode())

    def flush(self) -> None:
        """Output that ended without a newline is logged as it is (docker's partial entry)."""
        for stream, rest in list(self.partial.items()):
            if rest:
                self.partial[stream] = b""
                os.write(self.fd, log_entry(rest, stream, rfc3339nano()).encode())

    def close(self) -> None:
        self.flush()
        os.close(self.fd)
