"""Issue 14's "done": seed 000's table (each Dockerfile line, its layer, the layer's diff dir)
out of one command for an image ``lamina build`` made from a multi-step Dockerfile, each row's
``diff/`` directory really holding the file that row's instruction put there."""

from __future__ import annotations

import json
import os

import pytest

DOCKERFILE = """\
FROM explorer/base:v1
COPY docker-php-source /usr/local/bin/
ENV PHP_VERSION=8.3.0

COPY php.tar.xz /usr/src/
COPY docker-php-entrypoint \\
     /usr/local/bin/
CMD ["php", "-a"]
"""
#: Dockerfile line -> the file its layer adds (seed 000: "copied in the 6th layer" ...)
ADDED = {2: "/usr/local/bin/docker-php-source", 5: "/usr/src/php.tar.xz", 6: "/usr/local/bin/docker-php-entrypoint"}


@pytest.fixture
def built(lamina, busybox_tar, tmp_path):
    if lamina.run("build", "--help", check=False).returncode != 0:
        pytest.skip("lamina build is not here yet")
    lamina.run("import", busybox_tar, "explorer/base:v1")
    context = tmp_path / "ctx"
    context.mkdir()
    (context / "Dockerfile").write_text(DOCKERFILE)
    (context / "docker-php-source").write_text("#!/bin/sh\necho source\n")
    (context / "php.tar.xz").write_bytes(os.urandom(4096))
    (context / "docker-php-entrypoint").write_text("#!/bin/sh\nexec \"$@\"\n")
    lamina.run("build", "-t", "explorer/php:built", str(context))
    return "explorer/php:built"


def test_seed_000_table_from_one_command(built, lamina):
    rows = [json.loads(x) for x in lamina.run("image", "layers", "--format", "json", built).out.splitlines()]
    by_line = {int(r["Source"].split(":")[1]): r for r in rows if r["Source"]}
    assert set(by_line) == {2, 3, 5, 6, 8}
    assert by_line[3]["Index"] is None and by_line[8]["Index"] is None  # ENV and CMD: metadata only
    assert by_line[6]["CreatedBy"].startswith("COPY docker-php-entrypoint")
    for line, path in ADDED.items():
        row = by_line[line]
        assert row["Index"] is not None and row["Dir"].endswith("/diff")
        assert os.path.isfile(row["Dir"] + path), (line, row["Dir"], path)
        # and no other layer's diff dir holds it (seed 000: "it cannot be found in the 1st layer")
        for other in rows:
            if other["Dir"] and other is not row:
                assert not os.path.exists(other["Dir"] + path)
        blame = lamina.run("image", "blame", built, path).out.splitlines()
        assert blame[0] == f"{path}: added in layer {row['Index']} ({row['CreatedBy']}, Dockerfile:{line})"
    table = lamina.run("image", "layers", built).out
    assert "DOCKERFILE" in table.splitlines()[0] and "Dockerfile:6" in table
