"""docker's ``--format``: plain templates per row, or ``table …`` with a header and columns.

Docker (cli/command/formatter) turns the two-character escapes ``\\t`` and ``\\n`` in a
format into real tabs and newlines, renders the template once per row followed by a newline,
and for a ``table`` format renders a header row first and aligns the ``\\t``-separated cells
with Go's text/tabwriter. The seeds' real outputs (seed 001's ``docker image ls`` and
``docker container ls``) show the classic configuration ``NewWriter(out, 20, 1, 3, ' ', 0)``:
columns at least 20 wide, three spaces after the widest cell; lamina uses that.
"""

from __future__ import annotations

from .tabwriter import MIN_WIDTH, PADDING, tabwrite
from .template import compile_template

TYPE_CHECKING = False  # not typing's: importing typing costs the fast CLI path ~3-10 ms
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from typing import Any

__all__ = ["render", "tabwrite", "TABLE_PREFIX", "MIN_WIDTH", "PADDING"]

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
