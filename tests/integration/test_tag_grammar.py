"""One ASCII tag grammar for the CLI and the registry server: docker refuses ``bb:é``."""

from __future__ import annotations

import pytest


@pytest.mark.parametrize("target", ["bb:é", "bb:١٢٣", "bb:" + "a" * 129, "bb:.x"])
def test_tag_refuses_non_ascii_and_malformed_tags(lamina, busybox_tar, target):
    lamina.run("import", busybox_tar, "busybox")
    proc = lamina.run("tag", "busybox", target, check=False)
    assert proc.returncode == 125, proc.err
    assert proc.err.startswith("Error: ") and "invalid reference format" in proc.err
    assert len(proc.err.strip().splitlines()) == 1
    assert target not in lamina.run("images", "--format", "{{.Repository}}:{{.Tag}}").out
    lamina.run("tag", "busybox", "bb:v1.0_rc-2")  # the ASCII grammar still accepts what docker does
