"""Write the ``lamina`` command as a launcher that starts Python without ``site``.

``python3 -m lamina.cli.launcher [PATH]`` (install.sh runs it) replaces the console script that
pip wrote (PATH defaults to it) with a script whose interpreter line says ``-S``.

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

__all__ = ["render", "default_path", "write", "MARKER"]

MARKER = "# lamina launcher"

_TEMPLATE = """#!{python} -S
{marker}: written by `python3 -m lamina.cli.launcher` (install.sh). Python starts without
# site (-S) so that `lamina images` and `lamina inspect` answer in milliseconds; every other
# command turns site on first (lamina.cli.entry). Re-run install.sh after moving lamina.
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


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    if len(args) > 1 or (args and args[0].startswith("-")):
        sys.exit("usage: python3 -m lamina.cli.launcher [PATH]")
    print(write(args[0] if args else default_path()))


if __name__ == "__main__":
    main()
