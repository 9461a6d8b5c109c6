"""Docker's progress display for pull and push (its jsonmessage stream, as the CLI draws it).

With a terminal, each layer keeps one line that is redrawn in place (cursor up, clear, write,
cursor down), with a 50-column bar for Downloading/Extracting/Pushing. Without one, bars are
left out and every other message is one line, ``id: status``, as ``docker pull | cat`` prints.
"""

from __future__ import annotations

import sys
import threading
from typing import TextIO

from ..format.humanize import compact_size

BAR_WIDTH = 50


def bar(current: int, total: int) -> str:
    """docker's JSONProgress.String(): ``[=====>     ]  1.2MB/2.5MB``."""
    if total <= 0:
        return f"{compact_size(current):>8}"
    filled = min(int(current / total * 100) // 2, BAR_WIDTH)
    box = "[" + "=" * filled + ">" + " " * (BAR_WIDTH - filled) + "] "
    return box + f"{compact_size(current):>8}/{compact_size(total)}"


class ProgressDisplay:
    """Receives ``Progress`` values (from any thread) and writes them to ``out``."""

    def __init__(self, out: TextIO | None = None, terminal: bool | None = None, quiet: bool = False) -> None:
        self.out = out or sys.stdout
        self.terminal = self.out.isatty() if terminal is None else terminal
        self.quiet = quiet
        self._rows: dict[str, int] = {}
        self._written = 0
        self._lock = threading.Lock()

    def __call__(self, message) -> None:
        if self.quiet:
            return
        with self._lock:
            if message.has_bar and not self.terminal:
                return
            text = message.text
            if message.has_bar:
                text += " " + bar(message.current, message.total)
            if not self.terminal or not message.id:
                self.line(text)
                return
            row = self._rows.get(message.id)
            if row is None:
                self._rows[message.id] = self._written
                self.line(text)
                return
            up = self._written - row
            self.out.write(f"\x1b[{up}A\r\x1b[2K{text}\r\x1b[{up}B")
            self.out.flush()

    def line(self, text: str) -> None:
        """A whole line below everything drawn so far (none when quiet)."""
        if self.quiet:
            return
        self.out.write(text + "\n")
        self.out.flush()
        self._written += 1
