import pytest

from lamina import reference
from lamina.errors import InvalidReference

HEX = "a" * 64


@pytest.mark.parametrize(
    "text,name,tag,familiar",
    [
        ("ubuntu", "docker.io/library/ubuntu", None, "ubuntu"),
        ("ubuntu:14.04", "docker.io/library/ubuntu", "14.04", "ubuntu:14.04"),
        ("bobsmith/ubuntu", "docker.io/bobsmith/ubuntu", None, "bobsmith/ubuntu"),
        ("library/ubuntu", "docker.io/library/ubuntu", None, "ubuntu"),
        ("docker.io/ubuntu", "docker.io/library/ubuntu", None, "ubuntu"),
        ("index.docker.io/library/ubuntu", "docker.io/library/ubuntu", None, "ubuntu"),
        ("localhost/app", "localhost/app", None, "localhost/app"),
        ("localhost:5000/a/b/c:v1", "localhost:5000/a/b/c", "v1", "localhost:5000/a/b/c:v1"),
        ("reg.example.com/x", "reg.example.com/x", None, "reg.example.com/x"),
        ("host:5000/x:y", "host:5000/x", "y", "host:5000/x:y"),
        ("a/b/c/d", "docker.io/a/b/c/d", None, "a/b/c/d"),
        ("foo_bar.baz-qux__1", "docker.io/library/foo_bar.baz-qux__1", None, "foo_bar.baz-qux__1"),
        ("[::1]:5000/x", "[::1]:5000/x", None, "[::1]:5000/x"),
        ("x:" + "T" * 128, "docker.io/library/x", "T" * 128, "x:" + "T" * 128),
    ],
)
def test_parse_and_familiar(text, name, tag, familiar):
    ref = reference.parse(text)
    assert ref.name == name
    assert ref.tag == tag
    assert ref.familiar() == familiar


def test_default_tag_and_digest():
    ref = reference.parse("busybox")
    assert str(ref.with_default_tag()) == "docker.io/library/busybox:latest"
    pinned = reference.parse(f"busybox@sha256:{HEX}")
    assert pinned.tag is None and str(pinned.digest) == f"sha256:{HEX}"
    assert pinned.with_default_tag() is pinned
    both = reference.parse(f"busybox:1@sha256:{HEX}")
    assert both.tag == "1" and both.digest is not None
    assert both.familiar() == f"busybox:1@sha256:{HEX}"


@pytest.mark.parametrize(
    "bad",
    [
        "",
        "UPPER",
        "ubuntu:",
        ":tag",
        "a//b",
        "a/",
        "/a",
        "-a",
        "a-",
        "a..b",
        "x:" + "t" * 129,
        "x:.tag",
        "x@sha256:abc",
        "x@md5:" + "a" * 32,
        HEX,
        "a" * 256,
        "ubuntu:14.04:extra",
        "a b",
    ],
)
def test_invalid(bad):
    with pytest.raises(InvalidReference):
        reference.parse(bad)


def test_uppercase_message():
    with pytest.raises(InvalidReference, match="must be lowercase"):
        reference.parse("Ubuntu")


def test_parse_repository_refuses_tag():
    assert reference.parse_repository("a/b").path == "a/b"
    with pytest.raises(InvalidReference):
        reference.parse_repository("a/b:1")


def test_helpers():
    assert reference.is_valid_repository_path("library/ubuntu")
    assert not reference.is_valid_repository_path("Library/ubuntu")
    assert reference.is_valid_tag("v1.0-rc_2")
    assert not reference.is_valid_tag("-v1")
