"""json-file lines as dockerd writes them: the same bytes, so a dockerd on a lamina data root (and
anything that reads docker's logs) sees no difference."""

from __future__ import annotations

import json

from lamina.runtime.jsonlog import log_entry, rfc3339nano


def test_a_line_is_dockerds_bytes():
    # dockerd 20.10's line for: printf '<a&b> \303\251 \377 tab\there\n' (recorded from a run here)
    line = log_entry(b"<a&b> \xc3\xa9 \xff tab\there\n", "stdout", "2026-12-03T09:10:14.365178624Z")
    assert line.encode() == (b'{"log":"\\u003ca\\u0026b\\u003e \xc3\xa9 \\ufffd tab\\u0009here\\n",'
                             b'"stream":"stdout","time":"2026-12-03T09:10:14.365178624Z"}\n')


def test_every_escape_round_trips():
    raw = bytes(range(0x20)) + b'"\\<>&\x7f' + "\u2028\u2029é".encode()
    line = log_entry(raw, "stderr", "t")
    assert json.loads(line) == {"log": raw.decode(), "stream": "stderr", "time": "t"}
    assert "\\n" in line and "\\r" in line and "\\u0000" in line and "\\u2028" in line


def test_timestamps_trim_trailing_zeros_as_go_does():
    assert rfc3339nano(1_700_000_000_120_000_000) == "2023-11-14T22:13:20.12Z"
    assert rfc3339nano(1_700_000_000_000_000_000) == "2023-11-14T22:13:20Z"
