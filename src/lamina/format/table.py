"""docker's ``--format``: plain templates per row, or ``table …`` with a header and columns.

Docker (cli/command/formatter) turns the two-character escapes ``\\t`` and ``\\n`` in a
format into real tabs and newlines, renders the template once per row followed by a newline,
and for a ``table`` format renders a header row first and aligns the ``\\t``-separated cells
with Go's text/tabwriter. The seeds' real outputs (seed 001's ``docker image ls`` and
``docker container ls``) show the classic configuration ``NewWriter(out, 20, 1, 3, ' ', 0)``:
columns at least 20 wide, three spaces after the widest cell; lamina uses that.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from .template import compile_template

__all__ = ["render", "tabwrite", "TABLE_PREFIX"]

TABLE_PREFIX = "table"


class _Headers(dict):
    """Data for the header row: any field name renders as its header (default: upper case)."""

    def __missing__(self, key: str) -> str:
        return key.upper()

    def get(self, key, default=None):  # template field lookups go through get()
        return self[key]


def _prepare(fmt: str) -> tuple[bool, str]:
    is_table = fmt.startswith(TABLE_PREFIX)
    if is_table:
        fmt = fmt[len(TABLE_PREFIX) :]
    fmt = fmt.strip(" ").replace("\\t", "\t").replace("\\n", "\n")
    return is_table, fmt


def render(
    fmt: str | None,
    rows: Sequence[Any],
    default_format: str,
    headers: Mapping[str, str] | None = None,
) -> str:
    """The whole output for ``rows`` under ``fmt`` (or ``default_format`` when none is given).

    ``--format json`` is docker's (23+) shorthand for ``{{json .}}``: one JSON object per line.
    """
    if fmt is not None and fmt.strip() == "json":
        fmt = "{{json .}}"
    is_table, body = _prepare(fmt or default_format)
    if is_table and not body:  # "--format table": the default columns
        body = _prepare(default_format)[1]
    template = compile_template(body)
    lines = [template.render(row) + "\n" for row in rows]
    if not is_table:
        return "".join(lines)
    header = template.render(_Headers(headers or {})) + "\n"
    return tabwrite([header, *lines])


MIN_WIDTH = 20
PADDING = 3


def tabwrite(chunks: Sequence[str], minwidth: int = MIN_WIDTH, tabwidth: int = 1, padding: int = PADDING) -> str:
    """Go's text/tabwriter (padchar ' ', no flags) over the concatenation of ``chunks``."""
    text = "".join(chunks)
    lines = [line.split("\t") for line in text.split("\n")]
    out: list[str] = []
    widths: list[int] = []

    def write_lines(line0: int, line1: int) -> None:
        for i in range(line0, line1):
            cells = lines[i]
            for j, cell in enumerate(cells):
                out.append(cell)
                if j < len(widths) and j < len(cells) - 1:
                    out.append(" " * (widths[j] - len(cell)))
            if i < len(lines) - 1:
                out.append("\n")

    def format_block(line0: int, line1: int) -> None:
        column = len(widths)
        this = line0
        while this < line1:
            if column >= len(lines[this]) - 1:
                this += 1
                continue
            write_lines(line0, this)
            line0 = this
            width = minwidth
            while this < line1 and column < len(lines[this]) - 1:
                width = max(width, len(lines[this][column]) + padding)
                this += 1
            widths.append(width)
            format_block(line0, this)
            widths.pop()
            line0 = this
        write_lines(line0, line1)

    format_block(0, len(lines))
    return "".join(out)
