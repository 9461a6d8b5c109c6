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
    fields = _plain_fields(body)
    if fields is not None and all(_has_text(row, fields[1::2]) for row in rows):
        lines = [_fill(fields, row) + "\n" for row in rows]
        header = _fill(fields, _Headers(headers or {})) + "\n"
    else:
        from .template import compile_template  # its parser loads ``re``: only when needed

        template = compile_template(body)
        lines = [template.render(row) + "\n" for row in rows]
        header = template.render(_Headers(headers or {})) + "\n"
    if not is_table:
        return "".join(lines)
    return tabwrite([header, *lines])


def _plain_fields(body: str) -> list[str] | None:
    """``[text, field, text, field, …, text]`` when every action of ``body`` is a plain
    ``{{.Field}}`` (the default tables and most user formats); None for anything else, which the
    template engine renders. For string values both ways print the same."""
    parts: list[str] = []
    rest = body
    while True:
        start = rest.find("{{")
        if start < 0:
            if "}}" in rest:
                return None
            parts.append(rest)
            return parts
        end = rest.find("}}", start)
        name = rest[start + 2 : end] if end >= 0 else ""
        if "}}" in rest[:start] or not (name.startswith(".") and name[1:].isidentifier()):
            return None
        parts += [rest[:start], name[1:]]
        rest = rest[end + 2 :]


def _has_text(row, names: list[str]) -> bool:
    return isinstance(row, dict) and all(isinstance(row.get(name), str) for name in names)


def _fill(parts: list[str], row) -> str:
    return "".join(part if i % 2 == 0 else row[part] for i, part in enumerate(parts))
