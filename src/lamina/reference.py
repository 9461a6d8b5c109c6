"""Image references: the Distribution grammar, normalisation and the familiar form.

Grammar (distribution/reference, as summarised in seed 002 as ``x[/y[/z]][:t][@d]``)::

    reference  := name [ ":" tag ] [ "@" digest ]
    name       := [domain "/"] path-component ["/" path-component]*
    domain     := host [":" port]        (a first component with "." or ":" or "localhost")
    path-comp  := [a-z0-9]+ ((\\.|_|__|-+)[a-z0-9]+)*
    tag        := [\\w][\\w.-]{0,127}

A reference with no domain lives on Docker Hub (``docker.io``); a one-component Hub name
lives in ``library/``. The familiar form drops both again for display, as docker does.
"""

from __future__ import annotations

from .digest import Digest
from .errors import InvalidArgument, InvalidReference
from .value import Value

__all__ = [
    "Reference",
    "parse",
    "parse_repository",
    "is_valid_repository_path",
    "is_valid_tag",
    "DEFAULT_DOMAIN",
    "DEFAULT_TAG",
    "NAME_TOTAL_LENGTH_MAX",
]

DEFAULT_DOMAIN = "docker.io"
LEGACY_DOMAIN = "index.docker.io"
OFFICIAL_PREFIX = "library/"
DEFAULT_TAG = "latest"
NAME_TOTAL_LENGTH_MAX = 255

_PATH_COMPONENT = r"[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*"
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_IPV6 = r"\[[a-fA-F0-9:]+\]"
_DOMAIN_NAME = rf"{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*"
_HOST = rf"(?:{_DOMAIN_NAME}|{_IPV6})"
_DOMAIN = rf"{_HOST}(?::[0-9]+)?"
_PATH = rf"{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*"
# ASCII only: ``\w`` would let "é" and Arabic-Indic digits through (docker refuses them); the
# registry server checks tags with this same pattern (``is_valid_tag``)
_TAG = r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}"
_DIGEST = r"[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}"

def _regexes() -> dict:
    """The grammar as regular expressions, compiled on first use: ``re`` (with ``enum``) costs
    ~8 ms of start-up, and ``tag``/``rmi`` on the lean CLI path parse the common spellings with
    ``_parse_plain`` instead. ``PATH_RE``, ``TAG_RE`` and ``DOMAIN_RE`` stay module attributes."""
    found = _COMPILED
    if not found:
        import re

        found["PATH_RE"] = re.compile(rf"{_PATH}\Z")
        found["TAG_RE"] = re.compile(rf"{_TAG}\Z")
        found["DOMAIN_RE"] = re.compile(rf"{_DOMAIN}\Z")
        found["REFERENCE_RE"] = re.compile(
            rf"(?P<name>(?:{_DOMAIN}/)?{_PATH})(?::(?P<tag>{_TAG}))?(?:@(?P<digest>{_DIGEST}))?\Z"
        )
        found["HEX_ID_RE"] = re.compile(r"[a-f0-9]{64}\Z")
    return found


_COMPILED: dict = {}


def __getattr__(name: str):
    if name in ("PATH_RE", "TAG_RE", "DOMAIN_RE"):
        return _regexes()[name]
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def is_valid_repository_path(path: str) -> bool:
    """True for a repository path without domain (``library/ubuntu``, ``a/b/c``)."""
    return len(path) <= NAME_TOTAL_LENGTH_MAX and bool(_regexes()["PATH_RE"].match(path))


def is_valid_tag(tag: str) -> bool:
    return bool(_regexes()["TAG_RE"].match(tag))


class Reference(Value):
    """A parsed, normalised reference: ``domain/path[:tag][@digest]``.

    ``tag`` is None when the user gave none; ``with_default_tag()`` adds ``latest`` as
    docker does for pull, tag and run, but never when a digest pins the image.
    """

    __slots__ = ("domain", "path", "tag", "digest")
    domain: str
    path: str
    tag: str | None
    digest: Digest | None

    def __init__(self, domain: str, path: str, tag: str | None = None, digest: Digest | None = None) -> None:
        self._init(domain=domain, path=path, tag=tag, digest=digest)

    @property
    def name(self) -> str:
        """The fully qualified repository name: ``docker.io/library/ubuntu``."""
        return f"{self.domain}/{self.path}"

    @property
    def familiar_name(self) -> str:
        """The repository as docker shows it: ``ubuntu``, ``bob/app``, ``host:5000/app``."""
        if self.domain == DEFAULT_DOMAIN:
            if self.path.startswith(OFFICIAL_PREFIX) and self.path.count("/") == 1:
                return self.path[len(OFFICIAL_PREFIX):]
            return self.path
        return self.name

    def with_default_tag(self) -> Reference:
        if self.tag is None and self.digest is None:
            return Reference(self.domain, self.path, DEFAULT_TAG, None)
        return self

    def with_tag(self, tag: str) -> Reference:
        return Reference(self.domain, self.path, tag, None)

    def with_digest(self, digest: Digest) -> Reference:
        return Reference(self.domain, self.path, None, digest)

    def repository(self) -> Reference:
        return Reference(self.domain, self.path)

    def _suffix(self) -> str:
        out = f":{self.tag}" if self.tag else ""
        return out + (f"@{self.digest}" if self.digest else "")

    def __str__(self) -> str:
        return self.name + self._suffix()

    def familiar(self) -> str:
        """The short form for display: ``ubuntu:latest``."""
        return self.familiar_name + self._suffix()


def _split_domain(name: str) -> tuple[str, str]:
    first, sep, rest = name.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost" or first != first.lower()):
        domain, path = first, rest
    else:
        domain, path = DEFAULT_DOMAIN, name
    if domain == LEGACY_DOMAIN:
        domain = DEFAULT_DOMAIN
    if domain == DEFAULT_DOMAIN and "/" not in path:
        path = OFFICIAL_PREFIX + path
    return domain, path


def parse(text: str) -> Reference:
    """Parse and normalise a user's reference; raise InvalidReference with the reason.

    ``ubuntu`` → ``docker.io/library/ubuntu``; ``localhost:5000/a/b:1`` keeps its domain.
    A 64-hex string alone is an image ID, not a name, and is refused here as docker does.
    """
    plain = _parse_plain(text) if isinstance(text, str) else None
    if plain is not None:
        return plain
    if not isinstance(text, str) or not text:
        raise InvalidReference("invalid reference format: repository name must not be empty")
    regexes = _regexes()
    if regexes["HEX_ID_RE"].match(text):
        raise InvalidReference(
            f"invalid repository name ({text}), cannot specify 64-byte hexadecimal strings"
        )
    match = regexes["REFERENCE_RE"].match(text)
    if not match:
        name_part = text.split("@", 1)[0]
        if name_part.lower() != name_part and regexes["REFERENCE_RE"].match(text.lower()):
            raise InvalidReference(
                f"invalid reference format: repository name ({name_part}) must be lowercase"
            )
        raise InvalidReference(f'invalid reference format: "{text}"')
    name = match.group("name")
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        raise InvalidReference(
            f"invalid reference format: repository name must not be more than "
            f"{NAME_TOTAL_LENGTH_MAX} characters"
        )
    domain, path = _split_domain(name)
    if not regexes["PATH_RE"].match(path):
        raise InvalidReference(
            f"invalid reference format: repository name ({path}) must be lowercase"
        )
    digest = None
    if match.group("digest"):
        try:
            digest = Digest.parse(match.group("digest"))
        except InvalidArgument as exc:
            raise InvalidReference(f"invalid reference format: {exc}") from None
    return Reference(domain, path, match.group("tag"), digest)


_LOWER_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")
_ALNUM = _LOWER_ALNUM | frozenset("ABCDEFGHIJKLMNOPQRSTUVWXYZ")
_TAG_CHARS = _ALNUM | frozenset("._-")
_DIGITS = frozenset("0123456789")
_HEX_DIGITS = frozenset("0123456789abcdef")


def _parse_plain(text: str) -> Reference | None:
    """``parse`` for a reference without digest, IPv6 host or anything unusual, without ``re``;
    None for everything else (``parse`` then runs the regular expressions, which also word the
    errors). It accepts only what the grammar accepts and splits it the same way
    (``tests/unit/test_reference.py`` compares the two on generated text)."""
    if not text or "@" in text or "[" in text or (len(text) == 64 and _HEX_DIGITS.issuperset(text)):
        return None
    name, tag = text, None
    colon = text.rfind(":")
    if colon > text.rfind("/"):
        name, tag = text[:colon], text[colon + 1:]
        if not (0 < len(tag) <= 128 and tag[0] != "." and tag[0] != "-" and _TAG_CHARS.issuperset(tag)):
            return None
    if len(name) > NAME_TOTAL_LENGTH_MAX:
        return None
    components = name.split("/")
    first = components[0]
    if len(components) > 1 and not _is_path_component(first) and not _is_domain(first):
        return None
    domain, path = _split_domain(name)
    if not all(_is_path_component(part) for part in path.split("/")):
        return None
    if len(components) > 1 and not all(_is_path_component(part) for part in components[1:]):
        return None
    return Reference(domain, path, tag, None)


def _is_path_component(part: str) -> bool:
    """``[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*``"""
    if not part or part[0] not in _LOWER_ALNUM or part[-1] not in _LOWER_ALNUM:
        return False
    separator = ""
    for char in part:
        if char in _LOWER_ALNUM:
            separator = ""
        elif char == "-" and separator in ("", "-" * len(separator)):
            separator += "-"
        elif char in "._" and separator == "":
            separator = char
        elif char == "_" and separator == "_":
            separator = "__"
        else:
            return False
    return True


def _is_domain(text: str) -> bool:
    """``host[:port]`` with a host of DNS labels (``[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?``)."""
    host, colon, port = text.partition(":")
    if colon and not (port and _DIGITS.issuperset(port)):
        return False
    for label in host.split("."):
        if not label or label[0] not in _ALNUM or label[-1] not in _ALNUM:
            return False
        if not (_ALNUM | {"-"}).issuperset(label):
            return False
    return True


def parse_repository(text: str) -> Reference:
    """Parse a name that must carry neither tag nor digest (``docker push`` targets, filters)."""
    ref = parse(text)
    if ref.tag is not None or ref.digest is not None:
        raise InvalidReference(f"invalid repository name: {text!r} has a tag or digest")
    return ref
