"""Which modules a ``lamina`` command loads, for the tests that hold each command to a budget.

The command runs as the launcher starts it (``python3 -S``, lamina after the standard library;
``lamina.cli.launcher``) and the loaded module names are written to a file when it ends, so the
check is deterministic: a change that pulls a new module into a command fails its test, not a
benchmark later."""

from __future__ import annotations

import os
import subprocess
import sys

__all__ = ["loaded_modules"]

_PROBE = """
import sys
sys.path[0:1] = []
sys.path.append({src!r})
try:
    from lamina.cli.entry import main
    main({argv!r})
finally:
    with open({out!r}, "w") as f:
        f.write("\\n".join(sorted(sys.modules)))
"""

_SRC = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def loaded_modules(argv: list[str], workdir: str, env: dict | None = None,
                   timeout: float | None = None) -> tuple[set[str], subprocess.CompletedProcess]:
    """(the modules ``lamina ARGV`` loaded, its finished process); ``workdir`` holds the list."""
    out = os.path.join(str(workdir), "modules.txt")
    script = _PROBE.format(src=_SRC, argv=list(argv), out=out)
    proc = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, env=env,
                          timeout=timeout)
    with open(out) as f:
        return set(f.read().split("\n")), proc
