"""The lean dispatcher: commands that do little work run before click, ``site`` or ``re`` load.

docker's CLI is a Go binary asking a warm daemon: ``docker tag`` or ``docker image inspect``
take 20-40 ms here. A lamina command is a fresh Python process: the interpreter starts in
~13 ms without ``site`` (the launcher install.sh writes, ``lamina.cli.launcher``), ``site`` and
its ``.pth`` files add ~50 ms more, click ~30 ms, the whole library up front another 50. So the
commands people run most, often in loops and scripts, go through this module first: it reads
the global options, finds the command in ``LEAN``, imports that one command's module (under
``lamina.cli.lean``), parses its options with ``lean.args`` and runs it.

It answers only what it is sure of. It returns None, having printed and changed nothing, for
everything else, which the full CLI then handles exactly as before (``lamina.cli.entry``):
``--help``, unknown or unusual options, wrong argument counts, global options other than
``--data-root``/``--version``, storage-driver or limit settings in the environment, and
whatever a command module itself declines (``images`` with filters, an ``inspect`` name the
catalog does not resolve without doubt, …). So help text, usage errors and their exit codes
are click's, byte for byte; ``tests/unit/test_cli_lean.py`` runs both paths on the same
command lines and compares bytes and exit codes.

Adding a command: write ``lean/<name>.py`` (see ``lamina.cli.lean``), add its spellings to
``LEAN`` below, keep its click command in ``cli.main.COMMANDS`` (help and errors), and add it
to the module-budget table in ``tests/unit/test_cli_lean.py``.
"""

import sys

from .lean import Context, env
from .lean.args import Decline, parse

__all__ = ["LEAN", "run"]

#: command words -> module under ``lamina.cli.lean`` (docker's aliases included)
LEAN = {
    "images": "images",
    "image ls": "images",
    "image list": "images",
    "inspect": "inspect",
    "image inspect": "image_inspect",
    "container inspect": "container_inspect",
    "tag": "tag",
    "image tag": "tag",
    "rmi": "rmi",
    "image rm": "rmi",
    "image remove": "rmi",
    "image rmi": "rmi",
    "history": "history",
    "image history": "history",
    "version": "version",
    "info": "info",
    "system info": "info",
    "system df": "df",
    "login": "login",
    "logout": "logout",
    "diff": "diff",
    "container diff": "diff",
    "__complete": "complete",
    "ps": "ps",
    "container ls": "ps",
    "container list": "ps",
    "container ps": "ps",
    "volume ls": "volumes",
    "volume list": "volumes",
    "network ls": "networks",
    "network list": "networks",
    "logs": "logs",
    "container logs": "logs",
    "stop": "stop",
    "container stop": "stop",
    "kill": "kill",
    "container kill": "kill",
    "rm": "rm",
    "container rm": "rm",
    "restart": "restart",
    "container restart": "restart",
    "pause": "pause",
    "container pause": "pause",
    "unpause": "unpause",
    "container unpause": "unpause",
    "wait": "wait",
    "container wait": "wait",
    "build": "build",
    "image build": "build",
    "run": "run",
    "container run": "run",
    "create": "create",
    "container create": "create",
}

#: the command groups whose second word names the command
GROUPS = ("image", "system", "container", "volume", "network")

DEFAULT_DATA_ROOT = "/var/lib/lamina"
#: global settings the lean commands do not take: with any of them set, click runs the command
_SETTINGS = ("LAMINA_STORAGE_DRIVER", "LAMINA_MAX_LAYER_SIZE", "LAMINA_MAX_COMPRESSION_RATIO")
_VERSION_FLAGS = ("-v", "--version")


def run(argv: list[str]) -> int | None:
    """Run the command and return its exit code, or return None (having printed nothing)."""
    found = _find(argv)
    if found is None:
        return None
    ctx, name, rest = found
    if name == "--version":
        from .. import __version__

        return _finish(ctx, lambda: ctx.write(f"lamina, version {__version__}\n") or 0, writes=False)
    module = __import__(f"lamina.cli.lean.{name}", fromlist=["run"])
    try:
        opts, args = parse(module.SPEC, rest)
    except Decline:
        return None
    return _finish(ctx, lambda: module.run(ctx, opts, args), getattr(module, "WRITES", False))


def _find(argv: list[str]) -> tuple[Context, str, list[str]] | None:
    """(context, command module, the command's own words) or None."""
    if any(env(name) for name in _SETTINGS):
        return None
    data_root = env("LAMINA_DATA_ROOT") or DEFAULT_DATA_ROOT
    args = list(argv)
    while args and args[0].startswith("-"):
        if args[0] == "--data-root" and len(args) > 1:
            data_root, args = args[1], args[2:]
        elif args[0].startswith("--data-root=") and len(args[0]) > len("--data-root="):
            data_root, args = args[0].partition("=")[2], args[1:]
        elif args == [args[0]] and args[0] in _VERSION_FLAGS:
            return Context(data_root), "--version", []
        else:
            return None
    if not args:
        return None
    words = " ".join(args[:2]) if args[0] in GROUPS else args[0]
    name = LEAN.get(words)
    if name is None:
        return None
    return Context(data_root), name, args[len(words.split(" ")):]


def _finish(ctx: Context, command, writes: bool) -> int | None:
    """Run ``command`` and turn what it raises into what the full CLI prints and returns.

    A command that only reads is redone by the full CLI after any error this module cannot
    word (it has printed nothing yet: lean commands build their output before writing it).
    """
    try:
        code = command()
        sys.stdout.flush()
        return code
    except Decline:
        return None
    except (KeyboardInterrupt, EOFError):
        ctx.error("\nAborted!\n")  # what click prints for Ctrl-C
        return 1
    except BrokenPipeError:
        _silence_stdout()  # as the full CLI: `lamina images | head -1` is not an error
        return 0
    except Exception as exc:
        from ..errors import LaminaError
        from .errors import error_line, exit_code_for

        if isinstance(exc, LaminaError | OSError):
            ctx.error(error_line(exc))
            return exit_code_for(exc) if isinstance(exc, LaminaError) else 125
        if writes:
            raise
        return None


def _silence_stdout() -> None:
    import posix

    try:
        devnull = posix.open("/dev/null", posix.O_WRONLY)
        posix.dup2(devnull, sys.stdout.fileno())
        posix.close(devnull)
    except OSError:
        pass
