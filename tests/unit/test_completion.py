"""``lamina completion bash|zsh|fish``, run in the real shells.

Each script is loaded into its shell and asked for candidates as the shell asks when Tab is
pressed: bash calls the completion function with COMP_WORDS/COMP_CWORD set, fish answers
``complete -C``, and zsh is driven interactively in tmux (its completion system only runs
inside the line editor), besides running the shared walker directly. Image names come from a
real data root through ``lamina __complete images`` on the lean path.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import pytest
from test_cli_lean import _full, _lean, _store, loaded_modules

from lamina.cli import launcher
from lamina.cli.completion import command_table, render

CASES = [
    ("lamina ima", ["image", "images"]),
    ("lamina image ", "image"),  # every subcommand of image, from the table
    ("lamina system d", ["df"]),
    ("lamina images --d", ["--digests"]),
    ("lamina images -", None),  # every flag of images, checked against the table below
    ("lamina --data-root {root} inspect b", ["busybox", "busybox:latest"]),
    ("lamina --data-root={root} tag busybox ", ["busybox", "busybox:latest", "lonely:1", "team/app:1", "team/child:1"]),
    ("lamina --data-root {root} rmi -f team/", ["team/app:1", "team/child:1"]),
    ("lamina --data-root {root} image history --format x l", ["lonely:1"]),
    ("lamina --data-root {root} images --format ", []),  # an option's value: left to the shell
    ("lamina version extra ", []),
]


@pytest.fixture(scope="module")
def env(tmp_path_factory):
    """A data root with images, and a PATH whose ``lamina`` is the launcher for this tree."""
    base = tmp_path_factory.mktemp("completion")
    root = str(base / "root")
    _store(root)
    bindir = base / "bin"
    bindir.mkdir()
    launcher.write(str(bindir / "lamina"))
    scripts = {}
    for shell in ("bash", "zsh", "fish"):
        scripts[shell] = str(base / f"lamina.{shell}")
        with open(scripts[shell], "w") as f:
            f.write(render(shell))
    environ = dict(os.environ, PATH=f"{bindir}:{os.environ['PATH']}", HOME=str(base))
    environ.pop("PYTHONPATH", None)  # the launcher finds this tree by itself
    return {"root": root, "scripts": scripts, "env": environ}


def _expected(line: str, want):
    if want is None:
        node = command_table()["images"]
        return sorted({flag for flag, _ in node.flags})
    if isinstance(want, str):
        subcommands = command_table()[want].subcommands
        assert {"ls", "inspect", "history", "rm", "tag"} <= set(subcommands)
        return sorted(subcommands)
    return sorted(want)


def _need(shell: str) -> str:
    path = shutil.which(shell)
    if path is None:
        pytest.skip(f"{shell} is not installed (install.sh installs it)")
    return path


BASH_ASK = """
source "$1"
line="$2"
read -ra COMP_WORDS <<<"$line"
[[ "$line" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
__lamina_walk
printf '%s\\n' "${COMPREPLY[@]}"
"""


@pytest.mark.parametrize("line,want", CASES, ids=[c[0] for c in CASES])
def test_bash_completes(env, line, want):
    line = line.format(root=env["root"])
    proc = subprocess.run([_need("bash"), "-c", BASH_ASK, "bash", env["scripts"]["bash"], line],
                          capture_output=True, text=True, env=env["env"], check=True)
    assert sorted(w for w in proc.stdout.split("\n") if w) == _expected(line, want)
    assert proc.stderr == ""


def test_bash_registers_the_function(env):
    proc = subprocess.run([_need("bash"), "-c", f'source {env["scripts"]["bash"]}; complete -p lamina'],
                          capture_output=True, text=True, env=env["env"], check=True)
    assert proc.stdout.strip() == "complete -o default -F __lamina_walk lamina"


ZSH_ASK = """
source "$1"
setopt ksharrays
line="$2"
COMP_WORDS=(${=line})
[[ "$line" == *" " ]] && COMP_WORDS+=("")
COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
COMPREPLY=()
__lamina_walk
print -l -- "${COMPREPLY[@]}"
"""


@pytest.mark.parametrize("line,want", CASES, ids=[c[0] for c in CASES])
def test_zsh_walker_completes(env, line, want):
    line = line.format(root=env["root"])
    script = "autoload -U compinit && compinit -u -D\n" + ZSH_ASK
    proc = subprocess.run([_need("zsh"), "-f", "-c", script, "zsh", env["scripts"]["zsh"], line],
                          capture_output=True, text=True, env=env["env"], check=True)
    assert sorted(w for w in proc.stdout.split("\n") if w) == _expected(line, want)


def test_zsh_completes_in_its_line_editor(env, tmp_path):
    """Tab in an interactive zsh (compinit, the script sourced), read back from the screen."""
    _need("zsh")
    tmux = shutil.which("tmux")
    if tmux is None:
        pytest.skip("tmux is not installed (install.sh installs it)")
    session = f"lamina-completion-{os.getpid()}"
    environ = dict(env["env"], TERM="xterm", HOME=str(tmp_path))
    subprocess.run([tmux, "new-session", "-d", "-s", session, "-x", "200", "-y", "20", "zsh -f"], env=environ, check=True)
    try:
        def keys(*words: str) -> None:
            subprocess.run([tmux, "send-keys", "-t", session, *words], check=True)

        keys(f"PS1='@@ '; autoload -U compinit && compinit -u -D && source {env['scripts']['zsh']}", "Enter")
        keys(f"lamina --data-root {env['root']} system d", "Tab")
        keys(f" ; lamina --data-root {env['root']} inspect team/ch", "Tab")
        screen = ""
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            time.sleep(0.3)
            screen = subprocess.run([tmux, "capture-pane", "-t", session, "-p"], capture_output=True, text=True).stdout
            if "team/child:1" in screen:
                break
        typed = "".join(text for text in screen.split("\n") if "compinit" not in text)
        assert "system df ; lamina" in typed and "inspect team/child:1" in typed, screen
    finally:
        subprocess.run([tmux, "kill-session", "-t", session], capture_output=True)


@pytest.mark.parametrize("line,want", CASES, ids=[c[0] for c in CASES])
def test_fish_completes(env, line, want):
    line = line.format(root=env["root"])
    script = f'source {env["scripts"]["fish"]}; complete -C "$argv[1]"'
    proc = subprocess.run([_need("fish"), "--no-config", "-c", script, line],
                          capture_output=True, text=True, env=env["env"], check=True)
    got = sorted(w.split("\t")[0] for w in proc.stdout.split("\n") if w)
    if want == [] and line.endswith("--format "):
        return  # fish offers files for an option's value; nothing of lamina's
    assert got == _expected(line, want)


def test_complete_candidates_on_the_lean_path(env, tmp_path, capsys):
    root = env["root"]
    expected = _full(root, ["__complete", "images"])
    assert expected[0] == 0
    assert _lean(root, ["__complete", "images"], capsys) == expected
    assert expected[1].split("\n")[:2] == ["busybox", "busybox:latest"]
    modules, proc = loaded_modules(["--data-root", root, "__complete", "images"], tmp_path)
    assert proc.stdout == expected[1] and "click" not in modules and "json" not in modules


def test_completion_command_prints_each_script(env):
    for shell in ("bash", "zsh", "fish"):
        out = _full(env["root"], ["completion", shell])
        assert out[0] == 0 and out[1] == render(shell)
    bad = _full(env["root"], ["completion", "tcsh"])
    assert bad[0] == 125 and "tcsh" in bad[2]
