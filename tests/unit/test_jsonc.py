"""``lamina.jsonc`` writes what ``json`` writes, byte for byte (repositories.json, config.json
and the inspect documents are compared with files docker and lamina's older code wrote)."""

import json

import pytest

from lamina import jsonc

DOCS = [
    {"Repositories": {"busybox": {"busybox:latest": "sha256:" + "a" * 64, "busybox@sha256:" + "b" * 64: "x"}}},
    {"a": [1, 2.5, -3, None, True, False, "é\u2028\"\\", {"b": []}, {}], "": {"nested": {"deep": [[]]}}},
    [],
    "text",
    {"Repositories": {}},
]


@pytest.mark.parametrize("doc", DOCS)
def test_dumps_match_json(doc):
    assert jsonc.dumps(doc) == json.dumps(doc)
    assert jsonc.dumps_compact(doc) == json.dumps(doc, separators=(",", ":"))
    assert jsonc.dumps_indented(doc, 4, ensure_ascii=False) == json.dumps(doc, indent=4, ensure_ascii=False)
    assert jsonc.loads(jsonc.dumps(doc).encode()) == doc

