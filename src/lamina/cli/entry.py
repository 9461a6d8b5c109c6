"""The ``lamina`` command's entry point: the lean dispatcher first, then the full CLI.

Kept free of imports so that reaching ``lamina.cli.fast`` (the dispatcher of the lean
commands in ``lamina.cli.lean``) costs nothing; the launcher that
install.sh writes (``lamina.cli.launcher``) starts Python without ``site`` and calls ``main``
here, which turns ``site`` on before the full CLI needs site-packages (click and the rest).
"""

import sys

__all__ = ["main", "skip_teardown"]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else list(argv)
    from .fast import run

    code = run(args)
    if code is not None:
        skip_teardown(code)  # a lean command is done: ~5 ms of freeing modules saved
        sys.exit(code)
    if sys.flags.no_site:
        import site

        site.main()  # what -S left out: site-packages and their .pth files
    from .main import main as full_main

    full_main(args)


def skip_teardown(code: int) -> None:
    """Once the command's outcome is known, leave without the interpreter's teardown: freeing
    the modules' objects and arenas costs ``run`` ~10 ms of CPU (user and system, measured
    with hyperfine), and a Go CLI has none. The exit happens at the very start of that
    teardown (an ``atexit`` handler: registered last, it runs first), so everything up to it,
    a caller's ``finally`` included, still runs; stdout and stderr are flushed first.

    Called by ``main`` once any lean command has returned (every file it wrote is closed by
    then); never from a command run in-process by a caller that goes on (a test calling
    ``fast.run``), whose exit it would take over."""
    import atexit

    def leave() -> None:
        import os
        import sys

        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):
                pass  # a closed pipe: what the dispatcher already reported
        os._exit(code)

    atexit.register(leave)
