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
    parameter it sets (a test parses the same words with both and compares); ``multiple`` names the value options that collect a list; ``nargs`` is the
    (least, most) number of positional arguments, ``None`` for no upper bound.
    """

    __slots__ = ("flags", "values", "multiple", "nargs", "default", "types", "interspersed")

    def __init__(self, flags=None, values=None, multiple=(), nargs=(0, 0), default=None, types=None,
                 interspersed=True) -> None:
        self.flags = flags or {}
        self.values = values or {}
        self.multiple = frozenset(multiple)
        self.nargs = nargs
        self.default = default or {}  # click's defaults where they are not False / None / []
        self.types = types or {}  # name -> a converter (``int``); a value it refuses is click's to word
        self.interspersed = interspersed  # False: options end at the first argument (``run IMAGE CMD…``)

    def defaults(self) -> dict:
        opts = {name: False for name in self.flags.values()}
        for name in self.values.values():
            opts[name] = [] if name in self.multiple else None
        opts.update(self.default)
        return opts


def parse(spec: Spec, argv: list[str]) -> tuple[dict, list[str]]:
    """(options by name, positional arguments), or ``Decline``."""
    opts = spec.defaults()
    args: list[str] = []
    words = iter(argv)
    for word in words:
        if args and not spec.interspersed:
            args.append(word)  # the command after the image, as it is
            continue
        if (word in HELP and word not in spec.flags and word not in spec.values) or word == "--":
            raise Decline  # (``run -h`` is ``--hostname``: click gives up a help name an option takes)
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
    convert = spec.types.get(name)
    if convert is not None:
        try:
            value = convert(value)
        except ValueError:
            raise Decline from None  # click: "'x' is not a valid integer."
    if name in spec.multiple:
        opts[name].append(value)
    else:
        opts[name] = value
