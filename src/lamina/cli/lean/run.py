"""``run`` / ``container run``: create, start, and (without ``-d``) stay attached until the exit.

The run path is the one users time (``run --rm IMAGE true``), so it starts here, before click
and ``site``: the options come from the table click's command is made of
(``cli.run_options``), the container from the same library call. What the lean path leaves to
click, having changed nothing: an image that is not in the store (click's path pulls it),
``--pull always``, ``--no-sig-proxy``, and everything the parser declines (help, usage errors).
"""

from ..run_options import OPTIONS
from .args import Decline, Spec

__all__ = ["SPEC", "run", "spec_for"]

WRITES = True


def spec_for(extra_flags: dict, extra_default: dict) -> Spec:
    """The lean parser's ``Spec`` for ``run``/``create``, from ``run_options.OPTIONS``."""
    flags, values, multiple, default, types = dict(extra_flags), {}, [], dict(extra_default), {}
    for option in OPTIONS:
        for name in option.names:
            (flags if option.kind == "flag" else values)[name] = option.dest
        if option.kind == "multiple":
            multiple.append(option.dest)
        elif option.kind == "flag":
            if option.default is not False:
                default[option.dest] = option.default  # --init: None, "not given", is not False
        elif option.default is not None:
            default[option.dest] = option.default
        if option.type is not None:
            types[option.dest] = option.type
    return Spec(flags=flags, values=values, multiple=multiple, nargs=(1, None), default=default, types=types,
                interspersed=False)


SPEC = spec_for({"-d": "detach", "--detach": "detach", "--sig-proxy": "sig_proxy"}, {"sig_proxy": True})


def run(ctx, opts: dict, args: list[str]) -> int | None:
    from ...errors import InvalidArgument, LaminaError

    detach = opts["detach"]
    if detach and opts["auto_remove"] and opts["restart"] != "no":
        raise InvalidArgument("conflicting options: cannot specify both --restart and --rm")
    try:
        handle = create(ctx, opts, args, detach)
    except LaminaError as exc:
        from ..errors import as_run_failure

        raise as_run_failure(exc) from None
    # the monitor is a fork of this process: it needs what ``run`` has imported, so the
    # container starts without a second interpreter start-up
    if detach:
        handle.start(fork=True)
        ctx.write(handle.id + "\n")
        return 0
    from ..attach import run_attached

    return run_attached(handle, opts["interactive"], opts["tty"], opts["sig_proxy"], fork=True)


def create(ctx, opts: dict, args: list[str], detach: bool):
    """The container, or ``Decline`` (nothing changed) where click's path must take over."""
    from ...errors import NotFound
    from ..run_options import spec_from_options

    if opts["pull"] != "missing":
        raise Decline
    engine = ctx.engine()
    try:
        engine.images.resolve(args[0])
    except NotFound:
        raise Decline from None  # not in the store: click's path says so and pulls it
    spec = spec_from_options(args[0], args[1:], opts, detach)
    return engine.containers.create_from_spec(spec)
