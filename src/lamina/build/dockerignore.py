""".dockerignore: which context paths a build may not read (moby/patternmatcher's rules).

Each line is a pattern in Go's ``filepath.Match`` syntax (``*`` and ``?`` never cross ``/``,
``[a-z]`` classes, ``\\`` escapes) plus ``**``, which crosses any number of directories. Lines
starting with ``#`` are comments; a leading ``!`` makes an exception; patterns are cleaned
(``./a/../b`` is ``b``, a leading ``/`` is dropped). The last pattern that matches a path
decides, and a pattern that matches a directory matches everything below it, so
``!dir/keep`` re-includes one file of an excluded ``dir``.
"""

from __future__ import annotations

import posixpath
import re

from ..value import Value

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable

__all__ = ["IgnorePattern", "IgnoreMatcher", "read_dockerignore"]

_REGEX_META = set(".+()|{}$^")


class IgnorePattern(Value):
    __slots__ = ("text", "exclusion", "regex")
    text: str  # cleaned, without the '!'
    exclusion: bool
    regex: re.Pattern[str]

    def __init__(self, text: str, exclusion: bool, regex: re.Pattern[str]) -> None:
        self._init(text=text, exclusion=exclusion, regex=regex)

    def matches(self, path: str) -> bool:
        return self.regex.match(path) is not None


def _compile(pattern: str) -> re.Pattern[str]:
    out = ["^"]
    i = 0
    n = len(pattern)
    while i < n:
        ch = pattern[i]
        i += 1
        if ch == "*":
            if i < n and pattern[i] == "*":
                i += 1
                if i < n and pattern[i] == "/":
                    i += 1
                out.append(".*" if i >= n else "(.*/)?")
            else:
                out.append("[^/]*")
        elif ch == "?":
            out.append("[^/]")
        elif ch == "\\":
            if i < n:
                out.append(re.escape(pattern[i]))
                i += 1
            else:
                out.append(r"\\")
        elif ch == "[":
            # a character class, as filepath.Match writes it ('^' or '!' negates)
            end = pattern.find("]", i + 1 if i < n and pattern[i] in "!^" else i)
            if end == -1:
                out.append(r"\[")
                continue
            body = pattern[i:end]
            if body[:1] in ("!", "^"):
                body = "^" + body[1:]
            out.append("[" + body.replace("\\", "\\\\") + "]")
            i = end + 1
        elif ch in _REGEX_META or ch == "]":
            out.append("\\" + ch)
        else:
            out.append(ch)
    out.append("$")
    return re.compile("".join(out), re.DOTALL)


def _clean(pattern: str) -> str:
    pattern = posixpath.normpath(pattern)
    if len(pattern) > 1 and pattern.startswith("/"):
        pattern = pattern.lstrip("/") or "/"
    return pattern


class IgnoreMatcher:
    def __init__(self, patterns: Iterable[str] = ()) -> None:
        self.patterns: list[IgnorePattern] = []
        for raw in patterns:
            text = raw.strip()
            if not text:
                continue
            exclusion = text.startswith("!")
            if exclusion:
                text = text[1:].strip()
                if not text:
                    raise ValueError("illegal exclusion pattern: \"!\"")
            text = _clean(text)
            self.patterns.append(IgnorePattern(text, exclusion, _compile(text)))

    def __bool__(self) -> bool:
        return bool(self.patterns)

    def ignored(self, path: str) -> bool:
        """Is ``path`` (relative to the context, ``/``-separated) excluded?"""
        path = posixpath.normpath(path).lstrip("/")
        parent = posixpath.dirname(path)
        parents = parent.split("/") if parent else []
        matched = False
        for pattern in self.patterns:
            if pattern.exclusion != matched:
                continue
            hit = pattern.matches(path)
            if not hit:
                for depth in range(1, len(parents) + 1):
                    if pattern.matches("/".join(parents[:depth])):
                        hit = True
                        break
            if hit:
                matched = not pattern.exclusion
        return matched

    def may_hold_included(self, directory: str) -> bool:
        """Could an exception re-include something below the ignored ``directory``? Then the
        walk must go into it (docker's walker does the same check)."""
        prefix = directory.rstrip("/") + "/"
        for pattern in self.patterns:
            if not pattern.exclusion:
                continue
            if pattern.text.startswith(prefix) or any(c in pattern.text for c in "*?["):
                return True
        return False


def read_dockerignore(text: str) -> IgnoreMatcher:
    lines = []
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        lines.append(line)
    return IgnoreMatcher(lines)
