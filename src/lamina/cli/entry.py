"""The ``lamina`` command's entry point: the lean dispatcher first, then the full CLI.

Kept free of imports so that reaching ``lamina.cli.fast`` (the dispatcher of the lean
commands in ``lamina.cli.lean``) costs nothing; the launcher that
install.sh writes (``lamina.cli.launcher``) starts Python without ``site`` and calls ``main``
here, which turns ``site`` on before the full CLI needs site-packages (click and the rest).
"""

import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    from .fast import run

    code = run(args)
    if code is not None:
        sys.exit(code)
    if sys.flags.no_site:
        import site

        site.main()  # what -S left out: site-packages and their .pth files
    from .main import main as full_main

    full_main(args)
