"""``stats``: docker's columns from the container's cgroup counters (two samples for CPU %)."""

from __future__ import annotations

import time
from typing import Any

from ..system.info import mem_total


def _sample(handle) -> dict[str, Any]:
    return handle.stats().get("data") or {}


def stats_rows(handles, trunc: bool = True, interval: float = 0.5) -> list[dict[str, str]]:
    from ..format.humanize import bytes_size, human_size

    first = {h.id: _sample(h) for h in handles if h.record.state.running}
    t0 = time.monotonic()
    if first:
        time.sleep(interval)
    elapsed = time.monotonic() - t0
    ncpu = __import__("os").cpu_count() or 1
    rows = []
    for h in handles:
        running = h.id in first
        data = _sample(h) if running else {}
        before = first.get(h.id, {})
        cpu_now = ((data.get("cpu") or {}).get("usage") or {}).get("total", 0)
        cpu_then = ((before.get("cpu") or {}).get("usage") or {}).get("total", 0)
        cpu = (cpu_now - cpu_then) / (elapsed * 1e9) * 100 if running and elapsed > 0 else 0.0
        mem = (data.get("memory") or {}).get("usage") or {}
        usage = mem.get("usage", 0) - ((data.get("memory") or {}).get("raw") or {}).get("total_inactive_file", 0)
        limit = mem.get("limit", 0)
        if not limit or limit > (1 << 62):
            limit = mem_total()
        pids = (data.get("pids") or {}).get("current", 0)
        blk = (data.get("blkio") or {}).get("ioServiceBytesRecursive") or []
        read = sum(e.get("value", 0) for e in blk if e.get("op", "").lower() == "read")
        write = sum(e.get("value", 0) for e in blk if e.get("op", "").lower() == "write")
        rows.append({
            "ID": h.short_id if trunc else h.id,
            "Container": h.short_id if trunc else h.id,
            "Name": h.name,
            "CPUPerc": f"{min(cpu, ncpu * 100):.2f}%",
            "MemUsage": f"{bytes_size(max(usage, 0)).replace(' ', '')} / {bytes_size(limit).replace(' ', '')}" if running else "0B / 0B",
            "MemPerc": f"{(usage / limit * 100) if running and limit else 0:.2f}%",
            "NetIO": "0B / 0B",
            "BlockIO": f"{human_size(read).replace(' ', '')} / {human_size(write).replace(' ', '')}",
            "PIDs": str(pids),
        })
    return rows
