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

    # entry.main leaves without the interpreter's teardown once this returns
    return run_attached(handle, opts["interactive"], opts["tty"], opts["sig_proxy"], fork=True)


def create(ctx, opts: dict, args: list[str], detach: bool):
    """The container, or ``Decline`` (nothing changed) where click's path must take over."""
    from ...errors import NotFound
    from ..run_options import spec_from_options

    if opts["pull"] != "missing":
        raise Decline
    service = _catalog_service(ctx, args[0], opts)
    if service is None:
        engine = ctx.engine()
        try:
            engine.images.resolve(args[0])
        except NotFound:
            raise Decline from None  # not in the store: click's path says so and pulls it
        service = engine.containers
    spec = spec_from_options(args[0], args[1:], opts, detach)
    return service.create_from_spec(spec)


def _catalog_service(ctx, name: str, opts: dict):
    """``engine.containers`` without the engine: a ``ContainerService`` on the data root's
    ``StoreView`` whose image is the one the image catalog resolves ``name`` to, or None
    where the engine must answer (no current catalog, a name only the full resolver knows, a
    volume, which the volumes package fills from the full image store). The image service's
    imports (~15 ms) are most of what ``run`` would otherwise load."""
    catalog = ctx.catalog()
    image_id = catalog.resolve(name) if catalog is not None else None
    view = ctx.store_view() if image_id else None
    if view is None:
        return None
    from ...container.options import parse_volume
    from ...container.service import ContainerService
    from ...digest import Digest

    if any(parse_volume(v)["Type"] != "bind" for v in opts["volumes"]) or opts["mounts"]:
        return None
    digest = Digest.parse(image_id)
    try:
        config = view.images.get(digest)
    except Exception:
        return None  # the catalog is a cache: let the store itself say what is wrong
    if (config.config or {}).get("Volumes"):
        return None
    return ContainerService(view, _Resolved(digest))


class _Resolved:
    """The image lookup ``ContainerService.create_from_spec`` asks (``ImageService``'s
    ``resolve_or_pull``) when the catalog has already resolved the name (``--pull missing``
    of an image that is there: nothing to pull)."""

    __slots__ = ("image_id",)

    def __init__(self, image_id) -> None:
        self.image_id = image_id

    def resolve_or_pull(self, name: str, pull: str = "missing", progress=None, on_missing=None):
        return self.image_id
