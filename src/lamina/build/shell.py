"""Variable expansion in Dockerfile arguments: BuildKit's shell lexer (``shell/lex.go``).

Docker expands ``$name``, ``${name}``, ``${name:-word}``, ``${name:+word}``, ``${name-word}``,
``${name+word}``, ``${name:?message}`` and ``${name?message}`` in the arguments of ADD, COPY,
ENV, EXPOSE, FROM, LABEL, STOPSIGNAL, USER, VOLUME, WORKDIR and ARG (and in ONBUILD triggers of
those, when they run). Quotes are removed as the shell would: nothing is special inside single
quotes; inside double quotes only ``$`` and the escape character are (the escape character
keeps its meaning only before ``"``, ``$`` and itself). Outside quotes the escape character
makes the next character literal, so ``\\$HOME`` stays ``$HOME``. RUN, CMD and ENTRYPOINT are
left to the shell in the container.
"""

from __future__ import annotations

from collections.abc import Mapping

from ..errors import InvalidArgument

__all__ = ["ShellLex", "ExpansionError"]


class ExpansionError(InvalidArgument):
    pass


class _Scanner:
    __slots__ = ("text", "pos")

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0

    def peek(self) -> str:
        return self.text[self.pos] if self.pos < len(self.text) else ""

    def next(self) -> str:
        if self.pos >= len(self.text):
            return ""
        ch = self.text[self.pos]
        self.pos += 1
        return ch


class ShellLex:
    def __init__(self, escape: str = "\\") -> None:
        self.escape = escape

    def process_word(self, word: str, env: Mapping[str, str]) -> str:
        """Expand one word: quotes removed, variables substituted, no splitting."""
        return _Word(self.escape, env).run(word, split=False)[0]

    def process_words(self, text: str, env: Mapping[str, str]) -> list[str]:
        """Expand and split on blanks outside quotes (a variable's value is split too)."""
        return _Word(self.escape, env).run(text, split=True)[1]


class _Words:
    """Collects words as they are built; blanks coming from variable values split too."""

    def __init__(self) -> None:
        self.words: list[str] = []
        self.current = ""
        self.in_word = False

    def add_char(self, ch: str) -> None:
        if ch.isspace() and self.in_word:
            self.words.append(self.current)
            self.current, self.in_word = "", False
        elif not ch.isspace():
            self.add_raw(ch)

    def add_raw(self, text: str) -> None:
        self.current += text
        self.in_word = True

    def add_string(self, text: str) -> None:
        for ch in text:
            self.add_char(ch)

    def result(self) -> list[str]:
        if self.in_word:
            self.words.append(self.current)
            self.current, self.in_word = "", False
        return self.words


class _Word:
    def __init__(self, escape: str, env: Mapping[str, str]) -> None:
        self.escape = escape
        self.env = env
        self.sc = _Scanner("")

    def run(self, text: str, split: bool) -> tuple[str, list[str]]:
        self.sc = _Scanner(text)
        return self._until("")

    def _until(self, stop: str) -> tuple[str, list[str]]:
        out: list[str] = []
        words = _Words()
        sc = self.sc
        while sc.peek() != "":
            ch = sc.peek()
            if stop and ch == stop:
                sc.next()
                return "".join(out), words.result()
            if ch == "$":
                value = self._dollar()
                out.append(value)
                words.add_string(value)
            elif ch == "'":
                value = self._single_quote()
                out.append(value)
                words.add_raw(value)
            elif ch == '"':
                value = self._double_quote()
                out.append(value)
                words.add_raw(value)
            else:
                ch = sc.next()
                if ch == self.escape:
                    ch = sc.next()
                    if ch == "":
                        break
                    words.add_raw(ch)
                else:
                    words.add_char(ch)
                out.append(ch)
        if stop:
            raise ExpansionError(f"unexpected end of statement while looking for matching {stop}")
        return "".join(out), words.result()

    def _single_quote(self) -> str:
        sc = self.sc
        sc.next()
        out = []
        while True:
            ch = sc.next()
            if ch == "":
                raise ExpansionError("unexpected end of statement while looking for matching single-quote")
            if ch == "'":
                return "".join(out)
            out.append(ch)

    def _double_quote(self) -> str:
        sc = self.sc
        sc.next()
        out = []
        while True:
            ch = sc.peek()
            if ch == "":
                raise ExpansionError("unexpected end of statement while looking for matching double-quote")
            if ch == '"':
                sc.next()
                return "".join(out)
            if ch == "$":
                out.append(self._dollar())
                continue
            ch = sc.next()
            if ch == self.escape:
                following = sc.peek()
                if following == "":
                    continue
                if following in ('"', "$", self.escape):
                    ch = sc.next()
            out.append(ch)

    def _name(self) -> str:
        sc = self.sc
        name = []
        while sc.peek() != "":
            ch = sc.peek()
            if not name and ch.isdigit():
                while sc.peek().isdigit():
                    name.append(sc.next())
                return "".join(name)
            if not name and ch in "*#@?$!-":
                return sc.next()
            if not (ch.isalnum() or ch == "_"):
                break
            name.append(sc.next())
        return "".join(name)

    def _dollar(self) -> str:
        sc = self.sc
        sc.next()
        if sc.peek() != "{":
            name = self._name()
            if not name:
                return "$"
            return self.env.get(name, "")
        sc.next()
        ch = sc.peek()
        if ch == "":
            raise ExpansionError("syntax error: missing '}'")
        if ch in "{}:":
            raise ExpansionError("syntax error: bad substitution")
        name = self._name()
        ch = sc.next()
        if ch == "}":
            return self.env.get(name, "")
        colon = ch == ":"
        modifier = sc.next() if colon else ch
        if modifier not in ("-", "+", "?"):
            if colon:
                raise ExpansionError(f"unsupported modifier ({modifier}) in substitution")
            raise ExpansionError("missing ':' in substitution")
        try:
            word, _ = self._until("}")
        except ExpansionError:
            raise ExpansionError("syntax error: missing '}'") from None
        is_set = name in self.env
        value = self.env.get(name, "")
        # with ':' an empty value counts as unset, as in POSIX sh
        present = bool(value) if colon else is_set
        if modifier == "-":
            return value if present else word
        if modifier == "+":
            return word if present else ""
        if not present:
            raise ExpansionError(f"{name}: {word or 'is not allowed to be unset'}")
        return value
