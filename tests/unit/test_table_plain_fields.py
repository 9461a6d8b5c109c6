"""``format.table.render`` fills plain ``{{.Field}}`` formats without the template engine (the
default tables of ``history``, ``system df``, ``ps``, …); it must print what the engine prints."""

from __future__ import annotations

import pytest

from lamina.format import table
from lamina.format.tabwriter import tabwrite
from lamina.format.template import compile_template

ROWS = [
    {"ID": "abc", "Size": "1 MB", "CreatedBy": "/bin/sh -c echo {{x}}", "Empty": ""},
    {"ID": "def\tg", "Size": "", "CreatedBy": "a…b", "Empty": ""},
]
HEADERS = {"ID": "IMAGE", "Size": "SIZE"}


def _by_template(fmt: str, rows) -> str:
    is_table, body = table._prepare(fmt)
    template = compile_template(body)
    lines = [template.render(row) + "\n" for row in rows]
    if not is_table:
        return "".join(lines)
    return tabwrite([template.render(table._Headers(HEADERS)) + "\n", *lines])


@pytest.mark.parametrize("fmt", [
    "table {{.ID}}\\t{{.Size}}\\t{{.CreatedBy}}",
    "table {{.ID}}\t{{.Empty}}\t{{.CreatedBy}}",
    "{{.ID}}: {{.Size}}",
    "{{.ID}}{{.Size}}",
    "plain text",
    "table {{.ID}} | {{.Size}} |",
])
def test_plain_fields_print_what_the_template_engine_prints(fmt):
    assert table._plain_fields(table._prepare(fmt)[1]) is not None
    assert table.render(fmt, ROWS, "unused", HEADERS) == _by_template(fmt, ROWS)


@pytest.mark.parametrize("fmt", [
    "{{json .}}", "{{.ID | printf \"%s\"}}", "{{- .ID}}", "{{ .ID }}", "{{.ID.Deeper}}", "{{if .ID}}x{{end}}", "a }} b",
])
def test_anything_else_goes_to_the_template_engine(fmt):
    assert table._plain_fields(table._prepare(fmt)[1]) is None


def test_values_that_are_not_text_go_to_the_template_engine():
    rows = [{"ID": 5, "Size": None}]
    assert table.render("{{.ID}} {{.Size}}", rows, "x") == _by_template("{{.ID}} {{.Size}}", rows)
    assert table.render("{{.Missing}}", [{"ID": "a"}], "x") == _by_template("{{.Missing}}", [{"ID": "a"}])
