"""The Dockerfile parser: text in, a list of instruction nodes out (pure, no I/O).

It follows BuildKit's ``frontend/dockerfile/parser`` (which docker's classic builder also
uses), so a Dockerfile means the same thing to lamina as to docker:

* parser directives (``# escape=`` and ``# syntax=``; ``# check=`` is accepted) are read only
  from the top of the file, before the first comment, blank line or instruction;
* a line ending in the escape character (``\\`` or, with ``# escape=```, a backtick) followed
  only by blanks continues on the next line; comment lines and empty lines inside a
  continuation are dropped (docker warns about the empty ones: so do we);
* the instruction word is case-insensitive; ``--flag=value`` words right after it are flags;
* arguments are split per instruction: JSON arrays (exec form) or a string (shell form) for
  RUN/CMD/ENTRYPOINT/SHELL, name/value pairs in both forms for ENV and LABEL, etc.;
* heredocs (``RUN <<EOF``, ``COPY <<EOF /file``) take the lines up to their terminator.

Variables are *not* expanded here: that happens at dispatch time (``lamina.build.shell``),
because their values depend on the ARG/ENV instructions before them.
"""

from __future__ import annotations

import json
import re

from ..errors import InvalidArgument
from ..value import Value

__all__ = ["Heredoc", "Node", "Dockerfile", "DockerfileError", "parse"]

#: every instruction the parser knows, in docker's spelling (lower case)
INSTRUCTIONS = frozenset(
    "add arg cmd copy entrypoint env expose from healthcheck label maintainer onbuild run "
    "shell stopsignal user volume workdir".split()
)
_HEREDOC_INSTRUCTIONS = frozenset({"run", "copy", "add"})
_DIRECTIVE = re.compile(r"^#[ \t]*([a-zA-Z][a-zA-Z0-9]*)[ \t]*=[ \t]*(.+?)[ \t]*$")
_KNOWN_DIRECTIVES = ("escape", "syntax", "check")
_COMMENT = re.compile(r"^\s*#")
_HEREDOC_WORD = re.compile(r"^<<(-?)(?:\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_.\-]+))$")


class DockerfileError(InvalidArgument):
    """A Dockerfile that does not parse; the message names the file and line."""


class Heredoc(Value):
    __slots__ = ("name", "content", "expand")
    name: str
    content: str
    #: a quoted terminator (``<<"EOF"``) turns variable expansion off, as in the shell
    expand: bool

    def __init__(self, name: str, content: str, expand: bool = True) -> None:
        self._init(name=name, content=content, expand=expand)


class Node:
    """One instruction as written: the parse tree docker's builder dispatches from.

    (Plain classes here, not dataclasses: ``build`` is on the lean command path, and
    ``lamina.value`` says what ``import dataclasses`` costs each command.)"""

    __slots__ = ("instruction", "args", "flags", "json", "original", "start_line", "end_line", "heredocs", "next")

    def __init__(
        self,
        instruction: str,
        args: list[str],
        flags: list[str],
        json: bool,
        original: str,
        start_line: int,
        end_line: int,
        heredocs: list[Heredoc] | None = None,
        next: Node | None = None,
    ) -> None:
        self.instruction = instruction  # lower case: "run", "copy", ...
        #: the arguments as the instruction's line parser split them (before expansion)
        self.args = args
        self.flags = flags
        #: True when the arguments came from a JSON array (exec form)
        self.json = json
        self.original = original  # the logical line as written, continuations joined
        self.start_line = start_line
        self.end_line = end_line
        self.heredocs = [] if heredocs is None else heredocs
        #: ONBUILD's trigger, parsed as an instruction of its own
        self.next = next

    @property
    def keyword(self) -> str:
        return self.instruction.upper()

    def __repr__(self) -> str:
        return f"Node({self.instruction!r}, {self.args!r}, line {self.start_line})"


class Dockerfile:
    __slots__ = ("nodes", "escape", "syntax", "warnings", "filename")

    def __init__(
        self,
        nodes: list[Node],
        escape: str = "\\",
        syntax: str | None = None,
        warnings: list[str] | None = None,
        filename: str = "Dockerfile",
    ) -> None:
        self.nodes = nodes
        self.escape = escape
        self.syntax = syntax
        self.warnings = [] if warnings is None else warnings
        self.filename = filename


class _Directives:
    def __init__(self) -> None:
        self.escape = "\\"
        self.seen: dict[str, str] = {}
        self.done = False

    def consider(self, line: str, lineno: int, filename: str) -> None:
        if self.done:
            return
        match = _DIRECTIVE.match(line)
        if not match or match.group(1).lower() not in _KNOWN_DIRECTIVES:
            self.done = True
            return
        key, value = match.group(1).lower(), match.group(2)
        if key in self.seen:
            raise DockerfileError(
                f"{filename}:{lineno}: only one {key} parser directive can be used"
            )
        if key == "escape":
            if value not in ("\\", "`"):
                raise DockerfileError(
                    f"{filename}:{lineno}: invalid escape token '{value}' does not match ` or \\"
                )
            self.escape = value
        self.seen[key] = value

    def continuation(self) -> re.Pattern[str]:
        return re.compile(re.escape(self.escape) + r"[ \t]*$")


def parse(text: str | bytes, filename: str = "Dockerfile") -> Dockerfile:
    """Parse a whole Dockerfile. Raises DockerfileError naming ``filename`` and the line."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise DockerfileError(f"{filename}: not UTF-8 text ({exc.reason})") from None
    text = text.removeprefix("\ufeff")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    lines = [ln.removesuffix("\r") for ln in lines]
    directives = _Directives()
    warnings: list[str] = []
    nodes: list[Node] = []
    i = 0
    while i < len(lines):
        raw = lines[i]
        directives.consider(raw.lstrip(), i + 1, filename)
        i += 1
        start = i
        stripped = raw.lstrip()
        if _COMMENT.match(stripped):
            continue
        cont = directives.continuation()
        line, more = _trim_continuation(stripped, cont)
        if not more and line.strip() == "":
            continue
        empty_continuation = False
        while more and i < len(lines):
            nxt = lines[i]
            i += 1
            if _COMMENT.match(nxt):
                continue
            if nxt.strip() == "":
                empty_continuation = True
                continue
            piece, more = _trim_continuation(nxt, cont)
            line += piece
        if empty_continuation:
            warnings.append(f"{filename}:{start}: empty continuation line (docker deprecates these)")
        node = _node_from_line(line, directives.escape, filename, start, i)
        original = line
        if node.instruction in _HEREDOC_INSTRUCTIONS:
            names = _heredoc_names(node)
            for name, strip_tabs, expand in names:
                content, i = _read_heredoc(lines, i, name, strip_tabs, filename, start)
                node.heredocs.append(Heredoc(name, content, expand))
                original += "\n" + content + name
        node.original = original
        node.end_line = i
        nodes.append(node)
    syntax = directives.seen.get("syntax")
    return Dockerfile(nodes, directives.escape, syntax, warnings, filename)


def _trim_continuation(line: str, cont: re.Pattern[str]) -> tuple[str, bool]:
    match = cont.search(line)
    if match:
        return line[: match.start()], True
    return line, False


def _node_from_line(line: str, escape: str, filename: str, start: int, end: int) -> Node:
    parts = line.strip().split(None, 1)
    word = parts[0].lower()
    rest = parts[1] if len(parts) > 1 else ""
    where = f"{filename}:{start}"
    if word not in INSTRUCTIONS:
        raise DockerfileError(f"{where}: unknown instruction: {parts[0].upper()}")
    flags, rest = extract_flags(rest)
    node = Node(word, [], flags, False, line, start, end)
    try:
        _LINE_PARSERS[word](node, rest, escape, filename, start)
    except DockerfileError:
        raise
    except ValueError as exc:
        raise DockerfileError(f"{where}: {exc}") from None
    return node


def extract_flags(line: str) -> tuple[list[str], str]:
    """Split the leading ``--name=value`` words from the arguments (BuildKit's
    extractBuilderFlags: quotes and backslashes inside a flag are honoured, ``--`` ends them)."""
    words: list[str] = []
    pos = 0
    n = len(line)
    while True:
        while pos < n and line[pos].isspace():
            pos += 1
        if not line.startswith("--", pos):
            return words, line[pos:]
        word = []
        quote = ""
        blank_ok = False
        while pos < n:
            ch = line[pos]
            if quote:
                if ch == quote:
                    quote = ""
                elif ch == "\\" and pos + 1 < n:
                    pos += 1
                    word.append(line[pos])
                else:
                    word.append(ch)
                pos += 1
                continue
            if ch.isspace():
                break
            if ch in "'\"":
                quote, blank_ok = ch, True
            elif ch == "\\":
                if pos + 1 < n:
                    pos += 1
                    word.append(line[pos])
            else:
                word.append(ch)
            pos += 1
        text = "".join(word)
        if text == "--":
            return words, line[pos:].lstrip()
        if text or blank_ok:
            words.append(text)
        if pos >= n:
            return words, ""


def parse_words(rest: str, escape: str) -> list[str]:
    """Split on blanks outside quotes, keeping quotes and escapes in the words (BuildKit's
    parseWords): the shell lexer removes them later, when the words are expanded."""
    words: list[str] = []
    word = ""
    quote = ""
    blank_ok = False
    in_word = False
    i = 0
    n = len(rest)
    while i < n:
        ch = rest[i]
        if not in_word:
            if ch.isspace():
                i += 1
                continue
            in_word = True
        if quote:
            if ch == quote:
                quote = ""
            if ch == escape and quote != "'" and quote:
                if i + 1 == n:
                    i += 1
                    continue
                word += ch
                i += 1
                ch = rest[i]
            word += ch
            i += 1
            continue
        if ch.isspace():
            if blank_ok or word:
                words.append(word)
            word, blank_ok, in_word = "", False, False
            i += 1
            continue
        if ch in "'\"":
            quote, blank_ok = ch, True
        if ch == escape:
            if i + 1 == n:
                i += 1
                continue
            word += ch
            i += 1
            ch = rest[i]
        word += ch
        i += 1
    if in_word and (blank_ok or word):
        words.append(word)
    return words


# line parsers: each fills node.args (and node.json) from the text after the flags ----------


def _json_array(rest: str) -> list[str] | None:
    """The strings of a JSON array, None when ``rest`` is not one (shell form); a JSON array
    holding anything but strings is an error, as in docker."""
    if not rest.startswith("["):
        return None
    try:
        value = json.loads(rest)
    except ValueError:
        return None
    if not isinstance(value, list):
        return None
    if not all(isinstance(v, str) for v in value):
        raise ValueError("JSON arguments must be an array of strings")
    return value


def _maybe_json(node: Node, rest: str, escape: str, filename: str, line: int) -> None:
    rest = rest.strip()
    if not rest:
        return
    values = _json_array(rest)
    if values is not None:
        node.args, node.json = values, True
    else:
        node.args = [rest]


def _maybe_json_to_list(node: Node, rest: str, escape: str, filename: str, line: int) -> None:
    rest = rest.strip()
    values = _json_array(rest)
    if values is not None:
        node.args, node.json = values, True
    elif rest:
        node.args = rest.split()


def _whitespace_delimited(node: Node, rest: str, escape: str, filename: str, line: int) -> None:
    node.args = rest.split()


def _string(node: Node, rest: str, escape: str, filename: str, line: int) -> None:
    rest = rest.strip()
    node.args = [rest] if rest else []


def _name_val(node: Node, rest: str, escape: str, filename: str, line: int) -> None:
    """ENV/LABEL: ``KEY name value`` (old form: value is the rest of the line) or
    ``KEY a=b c="d e"``; args become [name, value, name, value, ...]."""
    key = node.keyword
    words = parse_words(rest, escape)
    if not words:
        raise ValueError(f"{key} must have two arguments")
    if "=" not in words[0]:
        parts = rest.strip().split(None, 1)
        if len(parts) < 2:
            raise ValueError(f"{key} must have two arguments")
        node.args = [parts[0], parts[1]]
        return
    args: list[str] = []
    for word in words:
        if "=" not in word:
            raise ValueError(
                f"Syntax error - can't find = in {word!r}. Must be of the form: name=value"
            )
        name, value = word.split("=", 1)
        if not name:
            raise ValueError(f"{key} names can not be blank")
        args += [name, value]
    node.args = args


def _name_or_name_val(node: Node, rest: str, escape: str, filename: str, line: int) -> None:
    """ARG: one or more ``name`` or ``name=value`` words (args keep them whole)."""
    words = parse_words(rest, escape)
    if not words:
        raise ValueError("ARG requires at least one argument")
    for word in words:
        if word.startswith("="):
            raise ValueError(f"ARG names can not be blank: {word!r}")
    node.args = words


def _healthcheck(node: Node, rest: str, escape: str, filename: str, line: int) -> None:
    parts = rest.strip().split(None, 1)
    if not parts:
        node.args = []
        return
    kind = parts[0]
    node.args = [kind]
    if len(parts) > 1:
        tail = Node("cmd", [], [], False, "", line, line)
        _maybe_json(tail, parts[1], escape, filename, line)
        node.args += tail.args
        node.json = tail.json


def _onbuild(node: Node, rest: str, escape: str, filename: str, line: int) -> None:
    rest = rest.strip()
    if not rest:
        raise ValueError("ONBUILD requires at least one argument")
    word = rest.split(None, 1)[0].upper()
    if word == "ONBUILD":
        raise ValueError("Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed")
    if word in ("FROM", "MAINTAINER"):
        raise ValueError(f"{word} isn't allowed as an ONBUILD trigger")
    node.next = _node_from_line(rest, escape, filename, line, line)
    node.args = [rest]


_LINE_PARSERS = {
    "add": _maybe_json_to_list,
    "arg": _name_or_name_val,
    "cmd": _maybe_json,
    "copy": _maybe_json_to_list,
    "entrypoint": _maybe_json,
    "env": _name_val,
    "expose": _whitespace_delimited,
    "from": _whitespace_delimited,
    "healthcheck": _healthcheck,
    "label": _name_val,
    "maintainer": _string,
    "onbuild": _onbuild,
    "run": _maybe_json,
    "shell": _maybe_json,
    "stopsignal": _string,
    "user": _string,
    "volume": _maybe_json_to_list,
    "workdir": _string,
}


# heredocs ---------------------------------------------------------------------------------


def _heredoc_names(node: Node) -> list[tuple[str, bool, bool]]:
    """The heredocs a RUN/COPY/ADD line opens, in order: (terminator, strip tabs, expand)."""
    if node.json:
        return []
    found = []
    words = node.args if node.instruction != "run" else (node.args[0].split() if node.args else [])
    for word in words:
        match = _HEREDOC_WORD.match(word)
        if not match:
            # ``cat <<EOF>/file``: a redirection glued to the marker
            head = re.match(r"^<<(-?)(\"[^\"]*\"|'[^']*'|[A-Za-z0-9_.\-]+)", word)
            if not head or node.instruction != "run":
                continue
            match = _HEREDOC_WORD.match(head.group(0))
            if not match:
                continue
        name = match.group(2) if match.group(2) is not None else match.group(3)
        quoted = name is not None
        if name is None:
            name = match.group(4)
        found.append((name, match.group(1) == "-", not quoted))
    return found


def _read_heredoc(
    lines: list[str], i: int, name: str, strip_tabs: bool, filename: str, start: int
) -> tuple[str, int]:
    body: list[str] = []
    while i < len(lines):
        text = lines[i]
        i += 1
        candidate = text.lstrip("\t") if strip_tabs else text
        if candidate == name:
            return "".join(line + "\n" for line in body), i
        body.append(candidate)
    raise DockerfileError(f"{filename}:{start}: unterminated heredoc {name!r}")


def is_heredoc_word(word: str) -> bool:
    return _HEREDOC_WORD.match(word) is not None


def heredoc_name(word: str) -> str | None:
    match = _HEREDOC_WORD.match(word)
    if not match:
        return None
    for group in (2, 3, 4):
        if match.group(group) is not None:
            return match.group(group)
    return None
