"""A tiny command-line parser for the lean path: the common spellings, exactly as click reads
them, and ``Decline`` for everything else.

The full CLI (click) owns help, usage errors and their exit codes. This parser never words an
error: whatever it is not sure click would accept the same way (an unknown option, a missing
value, a wrong number of arguments, ``--``, ``-h``/``--help``) raises ``Decline``, and the
dispatcher hands the whole command line to click, which prints what it always printed.

What it accepts, as click does: boolean flags (``-a``, ``--all``), options with a value
(``--format X``, ``--format=X``, ``-fX``, ``-f X``; the last one wins, or every one is kept for
a ``multiple`` option), clusters of short flags (``-aq``, ending in at most one value option:
``-af X``), and positional arguments anywhere between options. A lone ``-`` is an argument.
"""

__all__ = ["Decline", "Spec", "parse"]

HELP = ("-h", "--help")


class Decline(Exception):
    """What the lean path leaves to the full CLI (raised before anything is printed or changed)."""


class Spec:
    """A command's options and arguments, as its click command declares them.

    ``flags`` and ``values`` map every spelling (``-a``, ``--all``) to the name of the click
    parameter it sets (a test parses the same words with both and compares); ``multiple`` names
    the value options that collect a list; ``ints`` the value options click reads as integers
    (``type=int``), with their click defaults in ``defaults``; ``nargs`` is the (least, most)
    number of positional arguments, ``None`` for no upper bound.
    """

    __slots__ = ("flags", "values", "multiple", "ints", "fixed", "nargs")

    def __init__(self, flags=None, values=None, multiple=(), nargs=(0, 0), ints=(), defaults=None) -> None:
        self.flags = flags or {}
        self.values = values or {}
        self.multiple = frozenset(multiple)
        self.ints = frozenset(ints)
        self.fixed = defaults or {}
        self.nargs = nargs

    def defaults(self) -> dict:
        opts = {name: False for name in self.flags.values()}
        for name in self.values.values():
            opts[name] = [] if name in self.multiple else self.fixed.get(name)
        return opts


def parse(spec: Spec, argv: list[str]) -> tuple[dict, list[str]]:
    """(options by name, positional arguments), or ``Decline``."""
    opts = spec.defaults()
    args: list[str] = []
    words = iter(argv)
    for word in words:
        if word in HELP or word == "--":
            raise Decline
        if word.startswith("--"):
            name, eq, value = word.partition("=")
            if name in spec.flags and not eq:
                opts[spec.flags[name]] = True
            elif name in spec.values:
                _set(spec, opts, spec.values[name], value if eq else _next(words))
            else:
                raise Decline
        elif word.startswith("-") and word != "-":
            _short(spec, opts, word, words)
        else:
            args.append(word)
    least, most = spec.nargs
    if len(args) < least or (most is not None and len(args) > most):
        raise Decline
    return opts, args


def _short(spec: Spec, opts: dict, word: str, words) -> None:
    """``-a``, ``-aq``, ``-fX``, ``-af X``: flags until a value option, which takes the rest
    of the word or, if none is left, the next word."""
    for index in range(1, len(word)):
        option = "-" + word[index]
        if option in spec.flags:
            opts[spec.flags[option]] = True
        elif option in spec.values:
            rest = word[index + 1:]
            _set(spec, opts, spec.values[option], rest if rest else _next(words))
            return
        else:
            raise Decline


def _next(words) -> str:
    value = next(words, None)
    if value is None:
        raise Decline  # click: "Option '--format' requires an argument."
    return value


def _set(spec: Spec, opts: dict, name: str, value: str) -> None:
    if name in spec.ints:
        digits = value[1:] if value.startswith("-") else value
        if not (digits.isascii() and digits.isdigit()):
            raise Decline  # click's words for "x", or its reading of " 7" and "+7"
        value = int(value)
    if name in spec.multiple:
        opts[name].append(value)
    else:
        opts[name] = value
