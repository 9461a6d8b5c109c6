"""Reading a container's json-file log (``<id>-json.log``, written by the monitor or by dockerd)."""

from __future__ import annotations

import os
import time

from .. import jsonc
from ..container.model import parse_rfc3339

# ``logs`` runs on the lean path: the log lines are parsed by json's C scanner (``lamina.jsonc``)
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only (typing costs start-up time: lamina.value says why)
    from collections.abc import Iterator

    from ..container.service import ContainerHandle


def _entries(path: str, offset: int = 0) -> tuple[list[dict], int]:
    try:
        with open(path, "rb") as f:
            f.seek(offset)
            data = f.read()
    except FileNotFoundError:
        return [], offset
    end = data.rfind(b"\n") + 1
    out = []
    for line in data[:end].splitlines():
        try:
            out.append(jsonc.loads(line))
        except ValueError:
            continue
    return out, offset + end


def read(handle: ContainerHandle, stdout: bool = True, stderr: bool = True, timestamps: bool = False,
         tail: int | str = "all", since: float | None = None, until: float | None = None,
         follow: bool = False) -> Iterator[tuple[str, bytes]]:
    path = os.path.join(handle.service.records.paths.container(handle.id), f"{handle.id}-json.log")
    entries, offset = _entries(path)

    def keep(entry: dict) -> bool:
        stream = entry.get("stream", "stdout")
        if (stream == "stdout" and not stdout) or (stream == "stderr" and not stderr):
            return False
        if since is not None or until is not None:
            moment = parse_rfc3339(entry.get("time", ""))
            if since is not None and moment < since:
                return False
            if until is not None and moment > until:
                return False
        return True

    def render(entry: dict) -> tuple[str, bytes]:
        text = entry.get("log", "")
        if timestamps:
            text = f"{entry.get('time', '')} {text}"
        return entry.get("stream", "stdout"), text.encode()

    selected = [e for e in entries if keep(e)]
    if tail != "all":
        n = int(tail)
        selected = selected[-n:] if n > 0 else []
    for entry in selected:
        yield render(entry)
    if not follow:
        return
    while True:
        handle.reload()
        running = handle.record.state.running
        more, offset = _entries(path, offset)
        for entry in more:
            if keep(entry):
                yield render(entry)
            if until is not None and parse_rfc3339(entry.get("time", "")) > until:
                return
        if not running and not more:
            return
        time.sleep(0.1)


def parse_moment(text: str | None) -> float | None:
    """docker's --since/--until: a Unix time, an RFC 3339 time, or a duration ago (10m, 1h30m)."""
    if not text:
        return None
    from ..errors import InvalidArgument

    try:
        return float(text)
    except ValueError:
        pass
    import re

    m = re.fullmatch(r"((?:\d+(?:\.\d+)?(?:h|m|s|ms))+)", text)
    if m:
        total = 0.0
        for value, unit in re.findall(r"(\d+(?:\.\d+)?)(ms|h|m|s)", text):
            total += float(value) * {"h": 3600, "m": 60, "s": 1, "ms": 0.001}[unit]
        return time.time() - total
    try:
        return parse_rfc3339(text if "T" in text else text + "T00:00:00Z")
    except (ValueError, IndexError):
        raise InvalidArgument(f"invalid value for time: {text}") from None
