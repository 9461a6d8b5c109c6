"""Reading a container's json-file log (``<id>-json.log``, written by the monitor or by dockerd)."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

from ..container.model import parse_rfc3339

if TYPE_CHECKING:
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
            out.append(json.loads(line))
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
