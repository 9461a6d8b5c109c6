"""Go's text/template, as docker's ``--format`` uses it.

Docker users write Go templates (``{{range .RepoTags}}{{.}} {{end}}``, ``{{json .Config}}``,
``table {{.ID}}\\t{{.Size}}``), so lamina parses and runs the same language: actions with trim
markers, comments, pipelines, variables with block scoping, ``if``/``else if``/``with``/``range``
(with ``$i, $v :=`` and ``else``), ``break``/``continue``, parenthesised commands and Go's
built-in functions plus docker's (``json``, ``join``, ``split``, ``lower``, ``upper``, ``title``,
``pad``, ``truncate``).

Data is plain Python (decoded JSON): ``.Name`` on a dict looks the key up (a missing key is
Go's "<no value>", as docker's raw-JSON fallback prints it), on other objects it reads the
attribute. Errors at parse or execution time raise InvalidArgument with Go's wording.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from ..errors import InvalidArgument

TYPE_CHECKING = False  # not typing's: importing typing costs the fast CLI path ~3 ms
if TYPE_CHECKING:
    from typing import Any

__all__ = ["Template", "compile_template", "go_print", "MISSING"]


class _Missing:
    """Go's invalid reflect.Value: what a missing map key or a nil interface evaluates to."""

    def __repr__(self) -> str:
        return "<no value>"

    def __bool__(self) -> bool:
        return False


MISSING = _Missing()


class TemplateError(InvalidArgument):
    pass


# lexing ----------------------------------------------------------------------------------
_TOKEN_RE = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<declare>:=)
  | (?P<assign>=)
  | (?P<pipe>\|)
  | (?P<lparen>\()
  | (?P<rparen>\))
  | (?P<comma>,)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<char>'(?:[^'\\\n]|\\.)+')
  | (?P<number>[+-]?(?:0[xX][0-9a-fA-F_]+|(?:\d[\d_]*\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))
  | (?P<variable>\$[A-Za-z0-9_]*)
  | (?P<field>(?:\.[A-Za-z_][A-Za-z0-9_]*)+)
  | (?P<dot>\.)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)

_KEYWORDS = {"if", "else", "end", "range", "with", "define", "template", "block", "break", "continue"}


class _Tok:
    __slots__ = ("kind", "text", "fieldchain")

    def __init__(self, kind: str, text: str, fieldchain: tuple[str, ...] = ()) -> None:
        self.kind, self.text, self.fieldchain = kind, text, fieldchain


def _lex_action(text: str, line: int) -> list[_Tok]:
    toks: list[_Tok] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if m is None:
            raise TemplateError(f"template: :{line}: unexpected {text[pos]!r} in command")
        kind, value = m.lastgroup, m.group()
        pos = m.end()
        if kind == "space":
            continue
        # a field chain may follow a variable or a closing paren directly: $x.Name, (index . 0).Name
        if kind == "field" and toks and toks[-1].kind in ("variable", "rparen") and text[m.start() - 1] not in " \t\n":
            toks[-1].fieldchain = tuple(value[1:].split("."))
            continue
        toks.append(_Tok(kind, value))
    return toks


# nodes -----------------------------------------------------------------------------------
# Plain slotted classes, not dataclasses: ``lamina images --format`` and ``inspect -f`` load this
# module on the fast CLI path, where importing ``dataclasses`` (and with it ``inspect`` and
# ``ast``) would cost more than the rest of the command.
class _Text:
    __slots__ = ("text",)

    def __init__(self, text: str) -> None:
        self.text = text


class _Operand:
    __slots__ = ("kind", "value", "chain")

    def __init__(self, kind: str, value: Any = None, chain: tuple[str, ...] = ()) -> None:
        self.kind = kind  # field|variable|dot|literal|ident|pipeline|nil
        self.value = value
        self.chain = chain


class _Command:
    __slots__ = ("args",)

    def __init__(self, args: list[_Operand]) -> None:
        self.args = args


class _Pipeline:
    __slots__ = ("decl", "is_assign", "cmds")

    def __init__(self, decl: list[str] | None = None, is_assign: bool = False, cmds: list[_Command] | None = None) -> None:
        self.decl = decl if decl is not None else []
        self.is_assign = is_assign
        self.cmds = cmds if cmds is not None else []


class _Action:
    __slots__ = ("pipe", "line")

    def __init__(self, pipe: _Pipeline, line: int) -> None:
        self.pipe, self.line = pipe, line


class _Branch:
    __slots__ = ("kind", "pipe", "body", "else_body", "line")

    def __init__(self, kind: str, pipe: _Pipeline, body: list, else_body: list | None, line: int) -> None:
        self.kind = kind  # if|with|range
        self.pipe, self.body, self.else_body, self.line = pipe, body, else_body, line


class _Control:
    __slots__ = ("kind",)

    def __init__(self, kind: str) -> None:
        self.kind = kind  # break|continue


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


# parsing ---------------------------------------------------------------------------------
_ACTION_RE = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.DOTALL)


def _split(text: str) -> list[tuple[str, str, int]]:
    """Text and action pieces with trim markers applied: [(kind, content, line)]."""
    out: list[tuple[str, str, int]] = []
    pos = 0
    while True:
        start = text.find("{{", pos)
        if start < 0:
            out.append(("text", text[pos:], text.count("\n", 0, pos) + 1))
            break
        line = text.count("\n", 0, start) + 1
        comment = re.match(r"\{\{(-\s)?/\*", text[start:])
        if comment:
            end_comment = text.find("*/", start)
            if end_comment < 0:
                raise TemplateError(f"template: :{line}: unclosed comment")
            close = re.match(r"(\s-)?\}\}", text[end_comment + 2 :])
            if close is None:
                raise TemplateError(f"template: :{line}: comment ends before closing delimiter")
            pre = text[pos:start]
            if comment.group(1):
                pre = pre.rstrip()
            out.append(("text", pre, line))
            pos = end_comment + 2 + close.end()
            if close.group(1):
                rest = text[pos:]
                pos += len(rest) - len(rest.lstrip())
            continue
        # "}}" may appear inside a string literal of the action; find the real end
        end = _action_end(text, start + 2, line)
        inner = text[start + 2 : end]
        trim_left = inner.startswith("- ") or inner.startswith("-\t") or inner.startswith("-\n") or inner == "-"
        trim_right = inner.endswith(" -") or inner.endswith("\t-") or inner.endswith("\n-")
        pre = text[pos:start]
        if trim_left:
            pre = pre.rstrip()
            inner = inner[1:]
        if trim_right:
            inner = inner[:-1]
        out.append(("text", pre, line))
        out.append(("action", inner, line))
        pos = end + 2
        if trim_right:
            rest = text[pos:]
            pos += len(rest) - len(rest.lstrip())
    return [piece for piece in out if piece[0] == "action" or piece[1]]


def _action_end(text: str, pos: int, line: int) -> int:
    quote = None
    i = pos
    while i < len(text):
        ch = text[i]
        if quote:
            if ch == "\\" and quote != "`":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "\"'`":
            quote = ch
        elif text.startswith("}}", i):
            return i
        i += 1
    raise TemplateError(f"template: :{line}: unclosed action")


class _Parser:
    def __init__(self, text: str, funcs: Mapping[str, Callable]) -> None:
        self.pieces = _split(text)
        self.i = 0
        self.funcs = funcs
        self.scopes: list[set[str]] = [{"$"}]

    def parse(self) -> list:
        body, stop = self._list(())
        if stop is not None:
            raise TemplateError(f"template: :{stop[1]}: unexpected {{{{{stop[0]}}}}}")
        return body

    def _list(self, stops: tuple[str, ...]):
        nodes: list = []
        while self.i < len(self.pieces):
            kind, content, line = self.pieces[self.i]
            self.i += 1
            if kind == "text":
                nodes.append(_Text(content))
                continue
            toks = _lex_action(content, line)
            if not toks:
                raise TemplateError(f"template: :{line}: missing value for command")
            head = toks[0]
            word = head.text if head.kind == "ident" else None
            if word in ("end", "else"):
                if word not in stops:
                    raise TemplateError(f"template: :{line}: unexpected {{{{{word}}}}}")
                return nodes, (word, line, toks[1:])
            if word in ("if", "with", "range"):
                nodes.append(self._branch(word, toks[1:], line))
            elif word in ("break", "continue"):
                nodes.append(_Control(word))
            elif word in ("define", "template", "block"):
                raise TemplateError(f"template: :{line}: {{{{{word}}}}} is not supported in --format")
            else:
                nodes.append(_Action(self._pipeline(toks, line, decl_ok=True), line))
        return nodes, None

    def _branch(self, kind: str, toks: list[_Tok], line: int) -> _Branch:
        self.scopes.append(set())
        pipe = self._pipeline(toks, line, decl_ok=True, range_decl=kind == "range")
        body, stop = self._list(("end", "else"))
        self.scopes.pop()
        if stop is None:
            raise TemplateError(f"template: :{line}: unexpected EOF")
        else_body = None
        if stop[0] == "else":
            rest = stop[2]
            if rest and rest[0].kind == "ident" and rest[0].text in ("if", "with"):
                # {{else if ...}} / {{else with ...}}: a nested branch that shares our {{end}}
                else_body = [self._branch(rest[0].text, rest[1:], stop[1])]
            else:
                self.scopes.append(set())
                else_body, stop2 = self._list(("end",))
                self.scopes.pop()
                if stop2 is None:
                    raise TemplateError(f"template: :{line}: unexpected EOF")
        return _Branch(kind, pipe, body, else_body, line)

    def _declared(self, name: str) -> bool:
        return any(name in scope for scope in self.scopes)

    def _pipeline(self, toks: list[_Tok], line: int, decl_ok: bool, range_decl: bool = False) -> _Pipeline:
        pipe = _Pipeline()
        # declarations: $x := ..., $i, $v := ..., $x = ...
        j = 0
        names = []
        while j < len(toks) and toks[j].kind == "variable" and not toks[j].fieldchain:
            names.append(toks[j].text)
            if j + 1 < len(toks) and toks[j + 1].kind == "comma" and range_decl and len(names) < 2:
                j += 2
                continue
            break
        if names and len(toks) > len(names) * 2 - 1 and toks[len(names) * 2 - 1].kind in ("declare", "assign"):
            op = toks[len(names) * 2 - 1]
            if op.kind == "assign":
                for n in names:
                    if not self._declared(n):
                        raise TemplateError(f"template: :{line}: undefined variable \"{n}\"")
                pipe.is_assign = True
            pipe.decl = names
            toks = toks[len(names) * 2 :]
        pipe.cmds = self._commands(toks, line)
        for n in pipe.decl:
            if not pipe.is_assign:
                self.scopes[-1].add(n)
        return pipe

    def _commands(self, toks: list[_Tok], line: int) -> list[_Command]:
        cmds: list[_Command] = []
        current: list[_Operand] = []
        k = 0
        while k < len(toks):
            tok = toks[k]
            if tok.kind == "pipe":
                if not current:
                    raise TemplateError(f"template: :{line}: missing command")
                cmds.append(_Command(current))
                current = []
                k += 1
                continue
            if tok.kind == "lparen":
                depth, end = 1, k + 1
                while end < len(toks) and depth:
                    depth += {"lparen": 1, "rparen": -1}.get(toks[end].kind, 0)
                    end += 1
                if depth:
                    raise TemplateError(f"template: :{line}: unclosed left paren")
                inner = _Pipeline(cmds=self._commands(toks[k + 1 : end - 1], line))
                current.append(_Operand("pipeline", inner, toks[end - 1].fieldchain))
                k = end
                continue
            if tok.kind == "rparen":
                raise TemplateError(f"template: :{line}: unexpected right paren")
            current.append(self._operand(tok, line))
            k += 1
        if not current:
            raise TemplateError(f"template: :{line}: missing value for command")
        cmds.append(_Command(current))
        return cmds

    def _operand(self, tok: _Tok, line: int) -> _Operand:
        kind, text = tok.kind, tok.text
        if kind == "field":
            return _Operand("field", None, tuple(text[1:].split(".")))
        if kind == "dot":
            return _Operand("dot")
        if kind == "variable":
            if not self._declared(text):
                raise TemplateError(f"template: :{line}: undefined variable \"{text}\"")
            return _Operand("variable", text, tok.fieldchain)
        if kind == "string":
            return _Operand("literal", _unquote(text, line))
        if kind == "raw":
            return _Operand("literal", text[1:-1])
        if kind == "char":
            return _Operand("literal", ord(_unquote('"' + text[1:-1] + '"', line)))
        if kind == "number":
            return _Operand("literal", _number(text, line))
        if kind == "ident":
            if text in ("true", "false"):
                return _Operand("literal", text == "true")
            if text == "nil":
                return _Operand("nil")
            if text in _KEYWORDS:
                raise TemplateError(f"template: :{line}: unexpected <{text}> in command")
            if text not in self.funcs:
                raise TemplateError(f"template: :{line}: function \"{text}\" not defined")
            return _Operand("ident", text)
        raise TemplateError(f"template: :{line}: unexpected {text!r} in command")


def _unquote(text: str, line: int) -> str:
    try:
        import json

        return json.loads(text) if "\\x" not in text and "\\'" not in text else bytes(text[1:-1], "utf-8").decode("unicode_escape")
    except (ValueError, UnicodeDecodeError):
        raise TemplateError(f"template: :{line}: bad string syntax: {text}") from None


def _number(text: str, line: int) -> int | float:
    clean = text.replace("_", "")
    try:
        if clean.lower().lstrip("+-").startswith("0x"):
            return int(clean, 16)
        if re.fullmatch(r"[+-]?\d+", clean):
            return int(clean)
        return float(clean)
    except ValueError:
        raise TemplateError(f"template: :{line}: bad number syntax: {text!r}") from None


# values ----------------------------------------------------------------------------------
def truth(value: Any) -> bool:
    if value is MISSING or value is None:
        return False
    if isinstance(value, (bool, int, float, str, list, tuple, dict, set)):
        return bool(value)
    return True


def go_print(value: Any) -> str:
    """Go's fmt %v of a value (what an action prints)."""
    if value is MISSING:
        return "<no value>"
    if value is None:
        return "<nil>"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _go_float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, (list, tuple)):
        return "[" + " ".join(go_print(v) for v in value) + "]"
    if isinstance(value, dict):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        # docker's sets (ExposedPorts, Volumes) are map[string]struct{}: an empty member is {}
        return "map[" + " ".join(f"{go_print(k)}:{'{}' if v == {} else go_print(v)}" for k, v in items) + "]"
    if _is_dataclass_instance(value):
        from dataclasses import fields  # loaded already: the value's class came from it

        return "{" + " ".join(go_print(getattr(value, f.name)) for f in fields(value)) + "}"
    return str(value)


def _is_dataclass_instance(value: Any) -> bool:
    return hasattr(type(value), "__dataclass_fields__")


def _action_print(value: Any) -> str:
    # an action printing a nil value shows "<no value>" (Go: invalid reflect.Value)
    if value is None:
        return "<no value>"
    return go_print(value)


def _go_float(value: float) -> str:
    """strconv.FormatFloat(v, 'g', -1, 64) as %v uses it: shortest digits, %e from 1e21."""
    if value != value:
        return "NaN"
    if value in (float("inf"), float("-inf")):
        return "+Inf" if value > 0 else "-Inf"
    from decimal import Decimal

    exact = Decimal(repr(value))
    exponent = exact.adjusted()
    if -4 <= exponent < 21:
        text = format(exact, "f")
        return text.rstrip("0").rstrip(".") if "." in text else text
    digits = exact.normalize().as_tuple().digits
    mantissa = str(digits[0]) + ("." + "".join(map(str, digits[1:])) if len(digits) > 1 else "")
    sign = "-" if value < 0 else ""
    return f"{sign}{mantissa}e{exponent:+03d}"


def _field(value: Any, name: str, where: str) -> Any:
    if value is MISSING or value is None:
        raise _ExecError(f"nil pointer evaluating interface {{}}.{name}", where)
    if isinstance(value, Mapping):
        return value.get(name, MISSING)
    if isinstance(value, (str, int, float, bool, list, tuple)):
        raise _ExecError(f"can't evaluate field {name} in type {_go_type(value)}", where)
    if hasattr(value, name):
        attr = getattr(value, name)
        return attr() if callable(attr) else attr
    raise _ExecError(f"can't evaluate field {name} in type {type(value).__name__}", where)


def _go_type(value: Any) -> str:
    return {str: "string", int: "int", float: "float64", bool: "bool", list: "[]interface {}", tuple: "[]interface {}"}.get(
        type(value), type(value).__name__
    )


class _ExecError(Exception):
    def __init__(self, message: str, where: str = "") -> None:
        super().__init__(message)
        self.where = where


# functions -------------------------------------------------------------------------------
def _json(value: Any) -> str:
    # docker: json.Encoder with SetEscapeHTML(false), trailing newline trimmed
    import json

    if value is MISSING:
        value = None
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=_json_default)


def _json_default(value: Any) -> Any:
    if _is_dataclass_instance(value):
        from dataclasses import fields

        return {f.name: getattr(value, f.name) for f in fields(value)}
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    return str(value)


def _len(value: Any) -> int:
    if isinstance(value, (str, list, tuple, dict)):
        return len(value)
    raise _ExecError(f"error calling len: len of type {_go_type(value) if value is not None else '<nil>'}")


def _index(item: Any, *keys: Any) -> Any:
    for key in keys:
        if isinstance(item, Mapping):
            item = item.get(key, MISSING)
        elif isinstance(item, (list, tuple, str)):
            if not isinstance(key, int) or isinstance(key, bool):
                raise _ExecError(f"error calling index: cannot index slice/array with type {_go_type(key)}")
            if not 0 <= key < len(item):
                raise _ExecError(f"error calling index: index out of range: {key}")
            item = item[key] if not isinstance(item, str) else ord(item[key])
        elif item is None or item is MISSING:
            raise _ExecError("error calling index: index of untyped nil")
        else:
            raise _ExecError(f"error calling index: can't index item of type {_go_type(item)}")
    return item


def _slice(item: Any, *idx: int) -> Any:
    if not isinstance(item, (str, list, tuple)):
        raise _ExecError(f"error calling slice: can't slice item of type {_go_type(item)}")
    if len(idx) > 2:
        idx = idx[:2]
    start = idx[0] if idx else 0
    end = idx[1] if len(idx) > 1 else len(item)
    if not 0 <= start <= end <= len(item):
        raise _ExecError(f"error calling slice: index out of range: {end}")
    return item[start:end]


def _eq(a: Any, *others: Any) -> bool:
    if not others:
        raise _ExecError("error calling eq: missing argument for comparison")
    return any(_basic(a) == _basic(b) for b in others)


def _basic(value: Any) -> Any:
    if value is MISSING:
        return None
    if isinstance(value, (list, dict)):
        raise _ExecError("error calling eq: non-comparable type")
    return value


def _compare(op: Callable[[Any, Any], bool], name: str) -> Callable[[Any, Any], bool]:
    def fn(a: Any, b: Any) -> bool:
        if isinstance(a, bool) or isinstance(b, bool) or type(a) is not type(b) and not (
            isinstance(a, (int, float)) and isinstance(b, (int, float))
        ):
            raise _ExecError(f"error calling {name}: incompatible types for comparison")
        return op(a, b)

    return fn


def _and(*args: Any) -> Any:
    for a in args:
        if not truth(a):
            return a
    return args[-1]


def _or(*args: Any) -> Any:
    for a in args:
        if truth(a):
            return a
    return args[-1]


def _print(*args: Any) -> str:
    # Go's fmt.Sprint: a space between operands when neither is a string
    out = ""
    for i, a in enumerate(args):
        if i and not isinstance(a, str) and not isinstance(args[i - 1], str):
            out += " "
        out += go_print(a)
    return out


def _println(*args: Any) -> str:
    return " ".join(go_print(a) for a in args) + "\n"


_VERB_RE = re.compile(r"%([-+# 0]*)(\d+|\*)?(?:\.(\d+|\*)?)?([a-zA-Z%])")


def sprintf(fmt: str, *args: Any) -> str:
    """Go's fmt.Sprintf for the verbs templates use."""
    out, pos, argi = [], 0, 0
    for m in _VERB_RE.finditer(fmt):
        out.append(fmt[pos : m.start()])
        pos = m.end()
        flags, width, prec, verb = m.group(1), m.group(2), m.group(3), m.group(4)
        if verb == "%":
            out.append("%")
            continue
        if argi >= len(args):
            out.append(f"%!{verb}(MISSING)")
            continue
        arg = args[argi]
        argi += 1
        out.append(_pad(_verb(verb, arg, prec), flags, width))
    out.append(fmt[pos:])
    if argi < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{_go_type(a)}={go_print(a)}" for a in args[argi:]) + ")")
    return "".join(out)


def _verb(verb: str, arg: Any, prec: str | None) -> str:
    import json

    if verb in ("v", "s"):
        text = go_print(arg) if arg is not MISSING else "<nil>"
        if verb == "s" and prec is not None:
            text = text[: int(prec)]
        return text
    if verb == "q":
        return json.dumps(arg if isinstance(arg, str) else go_print(arg), ensure_ascii=False)
    if verb == "d" and isinstance(arg, int) and not isinstance(arg, bool):
        return str(arg)
    if verb in ("x", "X"):
        if isinstance(arg, int):
            text = format(arg, "x")
        else:
            text = (arg if isinstance(arg, str) else go_print(arg)).encode().hex()
        return text.upper() if verb == "X" else text
    if verb in ("f", "F", "e", "g") and isinstance(arg, (int, float)) and not isinstance(arg, bool):
        spec = f".{prec}{verb.lower()}" if prec is not None else ("f" if verb in "fF" else verb)
        return format(float(arg), spec) if verb != "g" or prec is not None else _go_float(float(arg))
    if verb == "t" and isinstance(arg, bool):
        return "true" if arg else "false"
    return f"%!{verb}({_go_type(arg)}={go_print(arg)})"


def _pad(text: str, flags: str, width: str | None) -> str:
    if not width or width == "*":
        return text
    n = int(width)
    if "-" in flags:
        return text.ljust(n)
    if "0" in flags and text.lstrip("-").replace(".", "").isdigit():
        sign = "-" if text.startswith("-") else ""
        return sign + text.lstrip("-").rjust(n - len(sign), "0")
    return text.rjust(n)


def _title(text: str) -> str:
    # strings.Title: upper-case the first letter of each word, leave the rest alone
    return re.sub(r"(^|[^\w'])(\w)", lambda m: m.group(1) + m.group(2).upper(), text)


def _pad_with_space(text: str, prefix: int, suffix: int) -> str:
    return " " * prefix + text + " " * suffix if text else text


def _truncate(text: str, length: int) -> str:
    return text[:length] if len(text) > length else text


def _join(items: Any, sep: str) -> str:
    if not isinstance(items, (list, tuple)):
        raise _ExecError(f"wrong type for value; expected []string; got {_go_type(items)}")
    return sep.join(go_print(i) for i in items)


def _js(*args: Any) -> str:
    import json

    text = _print(*args)
    return json.dumps(text)[1:-1].replace("'", "\\'").replace("<", "\\u003C").replace(">", "\\u003E")


def _html_escape(text: str) -> str:
    import html  # rare in templates; not worth loading at every start

    return html.escape(text).replace("&#x27;", "&#39;")


def _url_query(text: str) -> str:
    import urllib.parse

    return urllib.parse.quote_plus(text)


BUILTINS: dict[str, Callable[..., Any]] = {
    "and": _and,
    "or": _or,
    "not": lambda a: not truth(a),
    "len": _len,
    "index": _index,
    "slice": _slice,
    "print": _print,
    "printf": lambda fmt, *a: sprintf(fmt, *a),
    "println": _println,
    "eq": _eq,
    "ne": lambda a, b: not _eq(a, b),
    "lt": _compare(lambda a, b: a < b, "lt"),
    "le": _compare(lambda a, b: a <= b, "le"),
    "gt": _compare(lambda a, b: a > b, "gt"),
    "ge": _compare(lambda a, b: a >= b, "ge"),
    "html": lambda *a: _html_escape(_print(*a)),
    "js": _js,
    "urlquery": lambda *a: _url_query(_print(*a)),
    "call": lambda fn, *a: fn(*a),
    # docker's additions (cli/templates/templates.go)
    "json": _json,
    "split": lambda s, sep: s.split(sep) if sep else list(s),
    "join": _join,
    "title": _title,
    "lower": lambda s: s.lower(),
    "upper": lambda s: s.upper(),
    "pad": _pad_with_space,
    "truncate": _truncate,
}


# execution -------------------------------------------------------------------------------
class _State:
    def __init__(self, root: Any, funcs: Mapping[str, Callable]) -> None:
        self.vars: list[tuple[str, Any]] = [("$", root)]
        self.funcs = funcs
        self.out: list[str] = []

    def lookup(self, name: str) -> Any:
        for var, value in reversed(self.vars):
            if var == name:
                return value
        raise _ExecError(f"undefined variable: {name}")

    def assign(self, name: str, value: Any) -> None:
        for i in range(len(self.vars) - 1, -1, -1):
            if self.vars[i][0] == name:
                self.vars[i] = (name, value)
                return

    def walk(self, dot: Any, nodes: list) -> None:
        for node in nodes:
            if isinstance(node, _Text):
                self.out.append(node.text)
            elif isinstance(node, _Action):
                value = self.pipeline(dot, node.pipe, node.line)
                if not node.pipe.decl:
                    self.out.append(_action_print(value))
            elif isinstance(node, _Branch):
                self.branch(dot, node)
            elif isinstance(node, _Control):
                raise _Break() if node.kind == "break" else _Continue()

    def scoped(self, dot: Any, nodes: list) -> None:
        mark = len(self.vars)
        try:
            self.walk(dot, nodes)
        finally:
            del self.vars[mark:]

    def branch(self, dot: Any, node: _Branch) -> None:
        mark = len(self.vars)
        try:
            if node.kind == "range":
                self.range(dot, node, mark)
                return
            value = self.pipeline(dot, node.pipe, node.line)
            if truth(value):
                self.scoped(value if node.kind == "with" else dot, node.body)
            elif node.else_body is not None:
                self.scoped(dot, node.else_body)
        finally:
            del self.vars[mark:]

    def range(self, dot: Any, node: _Branch, mark: int) -> None:
        decl, node.pipe.decl = node.pipe.decl, []
        try:
            value = self.pipeline(dot, node.pipe, node.line)
        finally:
            node.pipe.decl = decl
        if isinstance(value, Mapping):
            items = [(k, value[k]) for k in sorted(value, key=str)]
        elif isinstance(value, (list, tuple)):
            items = list(enumerate(value))
        elif isinstance(value, int) and not isinstance(value, bool):
            items = [(i, i) for i in range(value)]
        elif value is None or value is MISSING:
            items = []
        else:
            raise _ExecError(f"range can't iterate over {go_print(value)}", "")
        if not items:
            if node.else_body is not None:
                self.scoped(dot, node.else_body)
            return
        for key, elem in items:
            del self.vars[mark:]
            if len(decl) == 1:
                self.vars.append((decl[0], elem))
            elif len(decl) == 2:
                self.vars.append((decl[0], key))
                self.vars.append((decl[1], elem))
            try:
                self.scoped(elem, node.body)
            except _Continue:
                continue
            except _Break:
                break

    def pipeline(self, dot: Any, pipe: _Pipeline, line: int) -> Any:
        value: Any = MISSING
        first = True
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, None if first else value, not first, line)
            first = False
        if pipe.decl:
            if pipe.is_assign:
                self.assign(pipe.decl[0], value)
            else:
                self.vars.append((pipe.decl[0], value))
        return value

    def command(self, dot: Any, cmd: _Command, piped: Any, has_piped: bool, line: int) -> Any:
        head = cmd.args[0]
        if head.kind == "ident":
            fn = self.funcs[head.value]
            args = [self.operand(dot, a, line) for a in cmd.args[1:]]
            if has_piped:
                args.append(piped)
            try:
                return fn(*args)
            except _ExecError:
                raise
            except TypeError:
                raise _ExecError(f"wrong number of args for {head.value}: got {len(args)}", f"<{head.value}>") from None
            except (AttributeError, ValueError, KeyError) as exc:
                raise _ExecError(f"error calling {head.value}: {exc}", f"<{head.value}>") from None
        if len(cmd.args) > 1 or has_piped:
            what = {"field": "." + ".".join(head.chain), "dot": "."}.get(head.kind, go_print(head.value))
            if head.kind == "field":
                raise _ExecError(f"can't evaluate field {head.chain[-1]} in type", f"<{what}>")
            raise _ExecError(f"can't give argument to non-function {what}", f"<{what}>")
        return self.operand(dot, head, line)

    def operand(self, dot: Any, op: _Operand, line: int) -> Any:
        if op.kind == "literal":
            return op.value
        if op.kind == "nil":
            return None
        if op.kind == "dot":
            return dot
        if op.kind == "ident":
            return self.funcs[op.value]()
        if op.kind == "field":
            base = dot
        elif op.kind == "variable":
            base = self.lookup(op.value)
        else:  # parenthesised pipeline
            base = self.pipeline(dot, op.value, line)
        where = "<." + ".".join(op.chain) + ">" if op.chain else ""
        for name in op.chain:
            base = _field(base, name, where)
        return base


class Template:
    """A parsed template; ``render(data)`` runs it."""

    __slots__ = ("source", "_nodes", "_funcs")

    def __init__(self, source: str, nodes: list, funcs: Mapping[str, Callable]) -> None:
        self.source, self._nodes, self._funcs = source, nodes, funcs

    def render(self, data: Any) -> str:
        state = _State(data, self._funcs)
        try:
            state.walk(data, self._nodes)
        except _ExecError as exc:
            at = f" at {exc.where}" if exc.where else ""
            raise TemplateError(f'template: :1: executing ""{at}: {exc}') from None
        except (_Break, _Continue):
            raise TemplateError("template: :1: {{break}} or {{continue}} outside {{range}}") from None
        except RecursionError:
            raise TemplateError("template: :1: exceeded maximum template depth") from None
        return "".join(state.out)


def compile_template(text: str, funcs: Mapping[str, Callable] | None = None) -> Template:
    """Parse ``text``; parse errors raise InvalidArgument ("template parsing error: …")."""
    table = dict(BUILTINS)
    if funcs:
        table.update(funcs)
    try:
        nodes = _Parser(text, table).parse()
    except TemplateError as exc:
        raise TemplateError(f"template parsing error: {exc}") from None
    return Template(text, nodes, table)
