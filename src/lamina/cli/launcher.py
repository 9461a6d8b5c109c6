"""Write the ``lamina`` command as a launcher that starts Python without ``site``.

``python3 -m lamina.cli.launcher [PATH]`` replaces the console script that pip wrote (PATH
defaults to it) with a script whose interpreter line says ``-S``. ``--install`` (what install.sh
runs) also puts it where a login shell finds it first (``install`` below says where and why).

Why: pip's console script starts Python normally, and ``site`` then imports whatever the
site-packages ``.pth`` files ask for, and the script itself imports ``re``. On this class of
machine that is 20-45 ms before lamina runs a line, more than docker's whole ``docker image
inspect``. With ``-S`` Python starts in ~10 ms; the launcher puts lamina's own directory on
``sys.path`` (after the standard library, so nothing in site-packages can shadow it), and
``lamina.cli.entry`` turns ``site`` on (``site.main()``) before any command that needs
site-packages. If lamina has moved since the launcher was written, it turns ``site`` on first
and imports lamina from wherever ``site`` finds it.
"""

from __future__ import annotations

import os
import sys
import sysconfig

__all__ = ["render", "default_path", "write", "install", "install_path", "MARKER"]

MARKER = "# lamina launcher"

_TEMPLATE = """#!{python} -S
{marker}: written by `python3 -m lamina.cli.launcher` (install.sh). Python starts without
# site (-S) so that the everyday commands answer in milliseconds (lamina.cli.fast); every
# other command turns site on first (lamina.cli.entry). Re-run install.sh after moving lamina.
import sys

# not this script's directory (bin/ holds no modules; listing it costs), and lamina after the
# standard library so that nothing beside it can shadow a standard module
sys.path[0:1] = []
sys.path.append({package_parent!r})
try:
    from lamina.cli.entry import main
except ImportError:
    import site

    site.main()
    from lamina.cli.entry import main
main()
"""


def render(python: str, package_parent: str) -> str:
    """The launcher's text for interpreter ``python`` and lamina living in ``package_parent``."""
    return _TEMPLATE.format(python=python, marker=MARKER, package_parent=package_parent)


def default_path() -> str:
    """Where pip put the ``lamina`` console script for this interpreter."""
    return os.path.join(sysconfig.get_path("scripts"), "lamina")


def write(path: str, python: str | None = None) -> str:
    """Write the launcher to ``path`` (atomically, mode 0755) and return ``path``."""
    import lamina

    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(lamina.__file__)))
    # sys.executable as invoked, not its realpath: a venv is found through the path used
    text = render(python or sys.executable, package_parent)
    tmp = f"{path}.tmp-{os.getpid()}"
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.chmod(tmp, 0o755)
    os.replace(tmp, path)
    return path


#: where a login shell looks before the system's own directories (/etc/profile's PATH)
SYSTEM_BIN = "/usr/local/bin"


def _version_manager_root(scripts: str) -> str | None:
    """The root of a pyenv-style version manager whose ``versions/<v>/bin`` is ``scripts``.

    Such a manager puts its ``shims`` directory first on PATH, and every program in a
    version's bin directory gets a shim there: a shell script that runs the manager (~100 ms)
    before it execs the program, more than lamina's whole budget for a command.
    """
    parts = os.path.normpath(scripts).split(os.sep)
    if len(parts) >= 4 and parts[-1] == "bin" and parts[-3] == "versions":
        root = os.sep.join(parts[:-3])
        if os.path.isdir(os.path.join(root, "shims")):
            return root
    return None


def install_path(scripts: str | None = None) -> str:
    """Where ``install`` writes the launcher for an interpreter whose scripts go to ``scripts``:
    pip's own place when nothing is found before it, else ``/usr/local/bin``."""
    scripts = scripts or sysconfig.get_path("scripts")
    if _version_manager_root(scripts) is not None:
        return os.path.join(SYSTEM_BIN, "lamina")
    return os.path.join(scripts, "lamina")


def install(scripts: str | None = None, python: str | None = None) -> list[str]:
    """Write the launcher where a fresh login shell finds it first; return the lines to report.

    Under a version manager (pyenv) the launcher goes to /usr/local/bin and pip's console
    script leaves the version's bin directory, so that the manager's shim for ``lamina`` is
    removed (``pyenv rehash``) and stops shadowing it. Elsewhere (a venv, the system Python)
    pip's console script is replaced in place, as ``main`` does.
    """
    import shutil

    scripts = scripts or sysconfig.get_path("scripts")
    target = write(install_path(scripts), python)
    lines = [f"lamina launcher: {target}"]
    root = _version_manager_root(scripts)
    if root is not None:
        pip_script = os.path.join(scripts, "lamina")
        if os.path.lexists(pip_script) and os.path.realpath(pip_script) != os.path.realpath(target):
            os.unlink(pip_script)
            lines.append(f"removed {pip_script} (its version manager's shim would be found first)")
        manager = shutil.which("pyenv") or os.path.join(root, "bin", "pyenv")
        if os.path.exists(manager):
            import subprocess

            subprocess.run([manager, "rehash"], check=False, env=dict(os.environ, PYENV_ROOT=root))
    return lines


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if args == ["--install"]:
        print("\n".join(install()))
        return
    if len(args) > 1 or (args and args[0].startswith("-")):
        sys.exit("usage: python3 -m lamina.cli.launcher [PATH | --install]")
    print(write(args[0] if args else default_path()))


if __name__ == "__main__":
    main()
