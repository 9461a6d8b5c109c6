"""The fast path: ``images`` and ``inspect`` answered from the image catalog, before click loads.

docker's CLI is a Go binary asking a warm daemon: ``docker images`` takes ~30 ms and ``docker
image inspect`` ~15 ms here. A lamina command is a fresh Python process; with click, the store,
the reference grammar (``re``) and ``json`` imported it costs ~110 ms before it prints a line.
The two commands people run most, often in loops and scripts, are read-only and need none of
that: the store keeps their answers in its catalog (``lamina.store.catalog``), and this module
prints them with nothing loaded but ``posix``, ``marshal`` and ``time`` (built into the
interpreter; not even ``os``, for the reason ``store.catalog`` gives); a ``--format`` adds
the template engine (``re``, ~10 ms).

It answers only what it is sure of, and returns None for everything else, which the full CLI
then handles exactly as before (``lamina.cli.entry``):

- ``images`` / ``image ls`` / ``image list`` with ``-a``, ``-q``, ``--digests``, ``--no-trunc``
  and ``--format`` (no filters or repository);
- ``inspect`` / ``image inspect`` of names the catalog resolves without doubt, with or without
  ``-f``/``--format`` (an unknown or ambiguous name goes to the full resolver, which words the
  error; so does a template that does not parse or run);
- global ``--data-root`` only, and no storage-driver or limit settings in the environment;
- an existing data root whose catalog is current (else the full CLI rebuilds it).

Both paths render with the same code (``cli.image_output``), and tests compare their bytes.
"""

import posix
import sys

from ..store import catalog as catalogs

__all__ = ["run"]

DEFAULT_DATA_ROOT = "/var/lib/lamina"
_DRIVERS = ("overlay2", "vfs")  # the order select_driver looks for an existing store
_SETTINGS = ("LAMINA_STORAGE_DRIVER", "LAMINA_MAX_LAYER_SIZE", "LAMINA_MAX_COMPRESSION_RATIO")
_LS_FLAGS = {"-a": "all", "--all": "all", "-q": "quiet", "--quiet": "quiet", "--digests": "digests", "--no-trunc": "no_trunc"}


def run(argv: list[str]) -> int | None:
    """Print the answer and return the exit code, or return None (having printed nothing)."""
    try:
        output = _answer(argv)
    except Exception:  # anything unforeseen: the full CLI will do it properly
        return None
    if output is None:
        return None
    try:
        sys.stdout.write(output)
        sys.stdout.flush()
    except BrokenPipeError:
        # as the full CLI: a closed pipe (``lamina images | head -1``) is not an error
        _silence_stdout()
        return 0
    except OSError as exc:
        sys.stderr.write(f"Error: {exc.strerror or exc}\n")
        return 125
    return 0


def _answer(argv: list[str]) -> str | None:
    if any(_env(name) for name in _SETTINGS):
        return None
    data_root = _env("LAMINA_DATA_ROOT") or DEFAULT_DATA_ROOT
    args = list(argv)
    while args and args[0].startswith("-"):
        if args[0] == "--data-root" and len(args) > 1:
            data_root, args = args[1], args[2:]
        elif args[0].startswith("--data-root=") and len(args[0]) > len("--data-root="):
            data_root, args = args[0].partition("=")[2], args[1:]
        else:
            return None
    if args[:1] == ["image"] and len(args) > 1:
        args = args[1:]
        command = {"ls": "images", "list": "images", "inspect": "inspect"}.get(args[0])
    else:
        command = {"images": "images", "inspect": "inspect"}.get(args[0]) if args else None
    if command is None:
        return None
    if not _is_normal_absolute(data_root):
        return None  # the store names itself by os.path.abspath; leave other spellings to it
    catalog = _catalog(data_root)
    if catalog is None:
        return None
    if command == "images":
        return _images(catalog, args[1:])
    return _inspect(catalog, args[1:])


def _env(name: str) -> str | None:
    value = posix.environ.get(name.encode())
    return value.decode(sys.getfilesystemencoding(), "surrogateescape") if value else None


def _is_normal_absolute(path: str) -> bool:
    """True only when ``os.path.abspath(path) == path`` (checked without ``os``; ``//x``, which
    abspath keeps, is left to the full CLI)."""
    if not path.startswith("/") or path == "/":
        return path == "/"
    parts = path[1:].split("/")
    return all(part not in ("", ".", "..") for part in parts)


def _catalog(root: str) -> catalogs.Catalog | None:
    for driver in _DRIVERS:
        image_dir = catalogs.join(root, "image", driver)
        if catalogs.is_dir(catalogs.join(image_dir, "layerdb")):
            return catalogs.read(root, image_dir, lazy=True)
    return None


class _Decline(Exception):
    """Arguments the fast path leaves to the full CLI."""


def _take_format(args: list[str], short: str | None) -> tuple[str | None, list[str]]:
    """``--format X`` / ``--format=X`` (and ``short`` X) out of ``args``, as click reads them:
    the last one given wins, and the value may be any word."""
    fmt, rest = None, []
    words = iter(args)
    for arg in words:
        if arg == "--format" or (short is not None and arg == short):
            fmt = next(words, None)
            if fmt is None:
                raise _Decline
        elif arg.startswith("--format="):
            fmt = arg[len("--format="):]
        elif arg == "--":
            raise _Decline
        else:
            rest.append(arg)
    return fmt, rest


def _images(catalog, args: list[str]) -> str | None:
    try:
        fmt, args = _take_format(args, None)
    except _Decline:
        return None
    options = {"all": False, "quiet": False, "digests": False, "no_trunc": False}
    for arg in args:
        if arg in _LS_FLAGS:
            options[_LS_FLAGS[arg]] = True
        elif len(arg) > 2 and arg[0] == "-" and arg[1] != "-" and not arg[1:].strip("aq"):
            for letter in arg[1:]:
                options[_LS_FLAGS["-" + letter]] = True
        else:
            return None
    import time

    from .image_output import render_images

    images = catalog.images
    if not options["all"]:
        images = [i for i in images if i.repo_tags or i.repo_digests or not i.has_children]
    return render_images(
        images, time.time(), options["quiet"], options["digests"], options["no_trunc"], fmt
    )


def _inspect(catalog, args: list[str]) -> str | None:
    try:
        fmt, names = _take_format(args, "-f")
    except _Decline:
        return None
    if not names or any(name.startswith("-") for name in names):
        return None
    texts = []
    for name in names:
        image_id = catalog.resolve(name)
        text = catalog.inspect_json(image_id) if image_id else None
        if text is None:
            return None
        texts.append(text)
    if fmt and fmt != "json":
        import json

        from .image_output import render_inspect

        return render_inspect([json.loads(text) for text in texts], fmt)
    # json.dumps(docs, indent=4): each document one level in
    return "[\n    " + ",\n    ".join(text.replace("\n", "\n    ") for text in texts) + "\n]\n"


def _silence_stdout() -> None:
    try:
        devnull = posix.open("/dev/null", posix.O_WRONLY)
        posix.dup2(devnull, sys.stdout.fileno())
        posix.close(devnull)
    except OSError:
        pass
