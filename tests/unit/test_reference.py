import os

import pytest

import lamina
from lamina import reference
from lamina import reference as refs
from lamina.errors import InvalidReference

SRC = os.path.dirname(os.path.dirname(os.path.abspath(lamina.__file__)))

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


def _regex_parse(text: str):
    """``parse`` as the regular expressions alone decide (the re-free path switched off)."""
    original = refs._parse_plain
    refs._parse_plain = lambda text: None
    try:
        return refs.parse(text)
    except InvalidReference as exc:
        return str(exc)
    finally:
        refs._parse_plain = original


def _generated(count: int) -> list[str]:
    """Reference-like text: the grammar's characters, separators and their edge cases."""
    import random

    rng = random.Random(11)
    atoms = ["a", "b", "z", "0", "9", "A", "Q", ".", "_", "__", "-", "--", ":", "/", "5000", "localhost",
             "docker.io", "index.docker.io", "library", "x.y", "é", "[::1]", "@", "sha256:" + "a" * 64]
    out = ["a" * 200 + "/" + "b" * 60, "a" * 64, "f" * 64 + ":1", "a:" + "t" * 128, "a:" + "t" * 129]
    for _ in range(count):
        out.append("".join(rng.choice(atoms) for _ in range(rng.randint(1, 7))))
    return out


def test_plain_parser_agrees_with_the_grammar():
    """The re-free parser (the lean ``tag``/``rmi`` path) accepts only what the regular
    expressions accept, and reads it the same way; everything else is theirs to word."""
    accepted = 0
    for text in _generated(20000):
        plain = refs._parse_plain(text)
        expected = _regex_parse(text)
        if plain is not None:
            accepted += 1
            assert plain == expected, text
        if not isinstance(expected, str):
            assert refs.parse(text) == expected, text
    assert accepted > 1000  # the common spellings really take the plain path
    for text in ("busybox", "busybox:latest", "team/app:1", "localhost:5000/x/y:z", "Foo.com/a_b:T-1"):
        assert refs._parse_plain(text) == _regex_parse(text), text


def test_parse_does_not_load_re():
    import subprocess
    import sys

    script = (f"import sys; sys.path.append({SRC!r}); import lamina.reference as r; "
              "r.parse('localhost:5000/a/b:1'); print('re' in sys.modules)")
    out = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, check=True).stdout
    assert out == "False\n"
