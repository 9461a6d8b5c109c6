"""``lamina completion bash|zsh|fish``: shell completion scripts, as ``docker completion`` prints.

The script holds lamina's command tree and every command's options, read from the click
commands when it is generated, so completing a command or a flag starts no process at all.
Image names come from the store when asked: the script runs ``lamina __complete images``, a lean
command (``cli/lean/complete.py``) that reads the image catalog in ~15 ms without click.
Regenerate the script after upgrading lamina (as for any static completion script).

bash and zsh share one walker, written in the common subset of both shells (zsh runs it with
``KSH_ARRAYS``, so arrays count from 0 as in bash); fish gets ``complete`` rules of its own.
"""

from __future__ import annotations

import click

__all__ = ["command_table", "render", "SHELLS", "IMAGE_COMMANDS"]

SHELLS = ("bash", "zsh", "fish")

#: commands whose arguments are images (completed with the store's repository:tag names)
IMAGE_COMMANDS = (
    "images", "image ls", "image list", "inspect", "image inspect", "history", "image history",
    "tag", "image tag", "rmi", "image rm", "image remove", "image rmi", "save", "image save",
    "run", "create", "container run", "container create", "push", "image push",
)


class Node:
    """One command path: its help line, subcommands (for groups) and options."""

    __slots__ = ("help", "subcommands", "flags", "valued")

    def __init__(self, help: str, subcommands: list[str], flags: list[tuple[str, str]], valued: list[str]) -> None:
        self.help = help
        self.subcommands = subcommands
        self.flags = flags  # (spelling, help) of every option, -h/--help included
        self.valued = valued  # the spellings that take a value


def command_table(root: click.Group | None = None) -> dict[str, Node]:
    """Every visible command path ("" for ``lamina`` itself, "image ls", …) and its node."""
    if root is None:
        from .main import cli as root
    ctx = click.Context(root, info_name="lamina")
    table: dict[str, Node] = {}

    def visit(path: str, command: click.Command) -> None:
        subcommands = []
        if isinstance(command, click.Group):
            for name in command.list_commands(ctx):
                sub = command.get_command(ctx, name)
                if sub is not None and not sub.hidden:
                    subcommands.append(name)
                    visit(f"{path} {name}".strip(), sub)
        flags, valued = [], []
        for param in command.get_params(ctx):
            if not isinstance(param, click.Option) or param.hidden:
                continue
            for spelling in (*param.opts, *param.secondary_opts):
                flags.append((spelling, _first_line(param.help)))
                if not param.is_flag and not param.count:
                    valued.append(spelling)
        table[path] = Node(_first_line(command.get_short_help_str(80)), subcommands, flags, valued)

    visit("", root)
    return table


def _first_line(text: str | None) -> str:
    return (text or "").strip().split("\n")[0].replace("\t", " ")


def render(shell: str, table: dict[str, Node] | None = None) -> str:
    """The completion script for ``shell``."""
    table = command_table() if table is None else table
    if shell == "fish":
        return _fish(table)
    body = _walker(table)
    if shell == "zsh":
        return _ZSH_HEAD + body + _ZSH_TAIL
    return _BASH_HEAD + body + _BASH_TAIL


def _case(entries: dict[str, str]) -> str:
    """A shell ``case`` on the command path, printing one word per line."""
    arms = []
    for path, words in entries.items():
        quoted = " ".join(f"'{word}'" for word in words.split())
        arms.append(f'        "{path}") printf \'%s\\n\' {quoted} ;;')
    return "    case \"$1\" in\n" + "\n".join(arms) + "\n    esac\n"


def _walker(table: dict[str, Node]) -> str:
    subcommands = {p: " ".join(n.subcommands) for p, n in table.items() if n.subcommands}
    flags = {p: " ".join(sorted({f for f, _ in n.flags})) for p, n in table.items()}
    valued = {p: " ".join(n.valued) for p, n in table.items() if n.valued}
    images = " | ".join(f'"{p}"' for p in IMAGE_COMMANDS if p in table)
    return (
        "_lamina_subcommands() {\n" + _case(subcommands) + "}\n\n"
        "_lamina_flags() {\n" + _case(flags) + "}\n\n"
        "_lamina_valued() {\n" + _case(valued) + "}\n\n"
        "_lamina_wants_images() {\n    case \"$1\" in\n        "
        + (images or '"-"')
        + ") return 0 ;;\n    esac\n    return 1\n}\n\n" + _WALK
    )


#: the walker: (``cmdpath``, never ``path``: zsh ties ``path`` to PATH) finds the command path in COMP_WORDS[1..COMP_CWORD-1], skipping options and
#: their values, then offers flags, subcommands or image names for COMP_WORDS[COMP_CWORD]
_WALK = r'''_lamina_has() {
    # _lamina_has WORD LIST-FUNCTION PATH: is WORD one of the lines LIST-FUNCTION prints for PATH
    local line
    while IFS= read -r line; do
        [ "$line" = "$1" ] && return 0
    done <<EOF
$($2 "$3")
EOF
    return 1
}

_lamina_offer() {
    # add the lines of stdin that start with $1 to COMPREPLY (fed by <<<, not a pipe: a pipe
    # would run this in a subshell in bash, and COMPREPLY would be lost)
    local line
    while IFS= read -r line; do
        case "$line" in
            "") ;;
            "$1"*) COMPREPLY+=("$line") ;;
        esac
    done
}

_lamina_images() {
    if [ -n "$1" ]; then
        lamina --data-root "$1" __complete images 2>/dev/null
    else
        lamina __complete images 2>/dev/null
    fi
}

__lamina_walk() {
    local cur="${COMP_WORDS[COMP_CWORD]}" prev="" cmdpath="" word root="" i=1 args=0
    COMPREPLY=()
    while [ "$i" -lt "$COMP_CWORD" ]; do
        word="${COMP_WORDS[i]}"
        case "$word" in
            --data-root=*) root="${word#*=}" ;;
            -*)
                if _lamina_has "$word" _lamina_valued "$cmdpath"; then
                    [ "$cmdpath" = "" ] && [ "$word" = "--data-root" ] && root="${COMP_WORDS[i+1]}"
                    i=$((i+1))
                fi
                ;;
            *)
                if [ "$args" -eq 0 ] && _lamina_has "$word" _lamina_subcommands "$cmdpath"; then
                    cmdpath="${cmdpath:+$cmdpath }$word"
                else
                    args=$((args+1))
                fi
                ;;
        esac
        i=$((i+1))
    done
    [ "$COMP_CWORD" -gt 0 ] && prev="${COMP_WORDS[COMP_CWORD-1]}"
    case "$prev" in
        -*) _lamina_has "$prev" _lamina_valued "$cmdpath" && return 0 ;;  # an option's value: files
    esac
    case "$cur" in
        -*) _lamina_offer "$cur" <<< "$(_lamina_flags "$cmdpath")"; return 0 ;;
    esac
    if [ "$args" -eq 0 ] && [ -n "$(_lamina_subcommands "$cmdpath")" ]; then
        _lamina_offer "$cur" <<< "$(_lamina_subcommands "$cmdpath")"
    elif _lamina_wants_images "$cmdpath"; then
        _lamina_offer "$cur" <<< "$(_lamina_images "$root")"
    fi
    return 0
}
'''

_BASH_HEAD = """# bash completion for lamina (generated by `lamina completion bash`).
# Load it now with:  source <(lamina completion bash)
# or for every shell: lamina completion bash > /etc/bash_completion.d/lamina

"""
_BASH_TAIL = """
complete -o default -F __lamina_walk lamina
"""

_ZSH_HEAD = """#compdef lamina
# zsh completion for lamina (generated by `lamina completion zsh`).
# Load it now with:  source <(lamina completion zsh)
# or put it on $fpath as _lamina:  lamina completion zsh > "${fpath[1]}/_lamina"

"""
_ZSH_TAIL = """
_lamina_zsh() {
    # the walker counts words from 0, as bash does
    setopt localoptions ksharrays noshwordsplit
    local -a COMP_WORDS COMPREPLY
    local COMP_CWORD
    COMP_WORDS=("${words[@]}")
    COMP_CWORD=$((CURRENT - 1))
    __lamina_walk
    if [ "${#COMPREPLY[@]}" -gt 0 ]; then
        compadd -- "${COMPREPLY[@]}"
    else
        _files
    fi
}

compdef _lamina_zsh lamina
if [ "$funcstack[1]" = "_lamina" ]; then  # autoloaded from $fpath: complete this time too
    _lamina_zsh "$@"
fi
"""


def _fish_quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _fish(table: dict[str, Node]) -> str:
    """``complete`` rules; ``__lamina_path`` prints the command path typed so far, so each rule
    applies to exactly one path."""
    lines = [
        "# fish completion for lamina (generated by `lamina completion fish`).",
        "# Load it now with:  lamina completion fish | source",
        "# or for every shell: lamina completion fish > ~/.config/fish/completions/lamina.fish",
        "",
        "function __lamina_valued --argument-names path word",
        "    switch $path",
    ]
    for path, node in table.items():
        if node.valued:
            lines.append(f"        case {_fish_quote(path)}")
            lines.append(f"            contains -- $word {' '.join(_fish_quote(v) for v in node.valued)}")
            lines.append("            return")
    lines += [
        "    end",
        "    return 1",
        "end",
        "",
        "function __lamina_groups --argument-names path",
        "    switch $path",
    ]
    for path, node in table.items():
        if node.subcommands:
            lines.append(f"        case {_fish_quote(path)}")
            lines.append(f"            printf '%s\\n' {' '.join(_fish_quote(s) for s in node.subcommands)}")
    lines += [
        "    end",
        "end",
        "",
        "function __lamina_path",
        "    # the command path (\"image ls\") and whether an argument was given after it",
        "    set -l words (commandline -opc)",
        "    set -l cmdpath ''",
        "    set -l args 0",
        "    set -l skip 0",
        "    for word in $words[2..-1]",
        "        if test $skip -eq 1",
        "            set skip 0",
        "            continue",
        "        end",
        "        switch $word",
        "            case '-*'",
        "                if __lamina_valued \"$cmdpath\" $word; and not string match -q -- '*=*' $word",
        "                    set skip 1",
        "                end",
        "            case '*'",
        "                if test $args -eq 0; and contains -- $word (__lamina_groups \"$cmdpath\")",
        "                    set cmdpath (string trim -- \"$cmdpath $word\")",
        "                else",
        "                    set args (math $args + 1)",
        "                end",
        "        end",
        "    end",
        "    echo $cmdpath",
        "    echo $args",
        "end",
        "",
        "function __lamina_at --argument-names want",
        "    set -l state (__lamina_path)",
        "    test \"$state[1]\" = \"$want\"",
        "end",
        "",
        "function __lamina_choosing --argument-names want",
        "    # at PATH and no argument typed yet: a subcommand may follow",
        "    set -l state (__lamina_path)",
        "    test \"$state[1]\" = \"$want\"; and test \"$state[2]\" -eq 0",
        "end",
        "",
        "function __lamina_images",
        "    set -l words (commandline -opc)",
        "    set -l root",
        "    for i in (seq (count $words))",
        "        if test \"$words[$i]\" = --data-root",
        "            set root --data-root $words[(math $i + 1)]",
        "        else if string match -q -- '--data-root=*' $words[$i]",
        "            set root $words[$i]",
        "        end",
        "    end",
        "    lamina $root __complete images 2>/dev/null",
        "end",
        "",
        "complete -c lamina -e",
        "complete -c lamina -f",
    ]
    for path, node in table.items():
        for name in node.subcommands:
            help = table[f"{path} {name}".strip()].help
            lines.append(
                f"complete -c lamina -n {_fish_quote('__lamina_choosing ' + _fish_quote(path))} "
                f"-a {_fish_quote(name)} -d {_fish_quote(help)}"
            )
        condition = _fish_quote("__lamina_at " + _fish_quote(path))
        for spelling, help in node.flags:
            option = f"-l {spelling[2:]}" if spelling.startswith("--") else f"-s {spelling[1:]}"
            takes = " -r" if spelling in node.valued else ""
            lines.append(f"complete -c lamina -n {condition} {option}{takes} -d {_fish_quote(help)}")
    for path in IMAGE_COMMANDS:
        if path in table:
            lines.append(
                f"complete -c lamina -n {_fish_quote('__lamina_at ' + _fish_quote(path))} -a '(__lamina_images)'"
            )
    return "\n".join(lines) + "\n"


@click.command("completion")
@click.argument("shell", type=click.Choice(SHELLS))
def completion_cmd(shell: str) -> None:
    """Generate the autocompletion script for the specified shell."""
    click.echo(render(shell), nl=False)


@click.command("__complete", hidden=True)
@click.argument("kind")
@click.pass_context
def complete_cmd(ctx, kind: str) -> None:
    """Completion candidates, one per line (the scripts call this)."""
    from ..errors import InvalidArgument
    from .context import engine
    from .lean.complete import KINDS, candidates

    if kind not in KINDS:
        raise InvalidArgument(f"cannot complete {kind!r}: use one of {', '.join(KINDS)}")
    click.echo(candidates(engine(ctx).images.catalog(), kind), nl=False)
