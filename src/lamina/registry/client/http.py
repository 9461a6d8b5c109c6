"""httpx as the registry client uses it: imported without trio, and reading in 1 MiB receives.

Why not a plain ``import httpx``: httpcore probes at import for trio (and anyio) to pick its
async locks; where trio is installed, that import alone took ~0.2 s, a tenth of a whole pull.
The client is synchronous and never runs under trio, so trio is hidden from the probe (for the
probe only: a later ``import trio`` in the same process works as usual).

httpcore reads response bodies 64 KiB per receive; blob bodies in 1 MiB receives cost the
download thread a sixteenth of the h11 events and GIL hand-overs (a third less CPU for a
layer), which leaves the extracting thread the core.
"""

from __future__ import annotations

import sys

_hide = "trio" not in sys.modules
if _hide:
    sys.modules["trio"] = None  # type: ignore[assignment]  # import trio -> ImportError
try:
    import httpcore  # httpx imports it only when its first client is made
    import httpx
finally:
    if _hide:
        del sys.modules["trio"]

try:
    httpcore.HTTP11Connection.READ_NUM_BYTES = max(httpcore.HTTP11Connection.READ_NUM_BYTES, 1 << 20)
except AttributeError:  # another httpcore: its own reads, still correct
    pass

__all__ = ["httpx"]
