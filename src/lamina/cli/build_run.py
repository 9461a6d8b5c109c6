"""What ``lamina build`` does between reading its options and exiting, shared by the click
command (``cli/build.py``) and the lean path (``cli/lean/build.py``): the options as
``BuildOptions``, the context, the classic builder's lines, ``--iidfile``, the exit code.

Kept free of click (and of the library until ``run_build`` is called), so the lean path loads
only what the build itself needs.
"""

from ..errors import InvalidArgument

__all__ = ["build_options", "run_build"]


def _pairs(values, what: str, env_fallback: bool) -> dict:
    import os

    out: dict = {}
    for value in values:
        key, sep, val = value.partition("=")
        if not key:
            raise InvalidArgument(f"invalid {what}: {value!r}")
        if sep:
            out[key] = val
        elif env_fallback:
            out[key] = os.environ.get(key)  # docker's client: ``--build-arg k`` takes k from the env
        else:
            out[key] = ""
    return out


def _epoch(build_args: dict) -> int | None:
    import os

    text = build_args.get("SOURCE_DATE_EPOCH") or os.environ.get("SOURCE_DATE_EPOCH")
    if not text:
        return None
    if not text.isdigit():
        raise InvalidArgument(f"invalid SOURCE_DATE_EPOCH: {text!r} (seconds since 1970 expected)")
    return int(text)


def build_options(
    tags=(), build_args=(), no_cache=False, pull=False, target=None, labels=(), squash=False,
    network="host", remove=True, force_remove=False, explain_cache=False, platform=None,
):
    """The command line's words as ``BuildOptions``; bad values refused before any work."""
    from ..build.executor import BuildOptions
    from ..reference import parse

    if network not in ("host", "none", "default"):
        raise InvalidArgument(f"network mode {network!r} is not supported for RUN (use host or none)")
    args = _pairs(build_args, "build-arg", env_fallback=True)
    for tag in tags:
        parse(tag)  # refuse a bad tag before building anything
    return BuildOptions(
        tags=tuple(tags),
        build_args=args,
        no_cache=no_cache,
        pull=pull,
        target=target,
        labels={k: v or "" for k, v in _pairs(labels, "label", env_fallback=False).items()},
        squash=squash,
        network="host" if network == "default" else network,
        remove=remove,
        force_remove=force_remove,
        explain_cache=explain_cache,
        platform=platform,
        source_date_epoch=_epoch(args),
    )


def run_build(engine, path: str, dockerfile: str | None, options, quiet: bool, iidfile: str | None,
              write, error, stdin, raw_out) -> int:
    """Build and print as docker's classic builder does; the exit code (a failed RUN's own).

    ``write``/``error`` take text for stdout/stderr; ``stdin`` is the binary stream a ``-``
    context is read from; ``raw_out`` the binary stream RUN output goes to (None when quiet).
    """
    from ..build.context import open_context
    from ..build.executor import StepFailed
    from ..format.humanize import human_size

    if iidfile:
        import os

        try:
            os.unlink(iidfile)
        except FileNotFoundError:
            pass

    def emit(line: str) -> None:
        if not quiet:
            write(line + "\n")

    with open_context(path, dockerfile, stdin=stdin) as context:
        size = human_size(context.transfer_size()).replace(" ", "")
        emit(f"Sending build context to lamina {size}")
        try:
            result = engine.build(context, options, emit=emit, output=raw_out)
        except StepFailed as exc:
            error(f"{exc}\n")
            return exc.code
    for warning in result.warnings:
        emit(warning)
    emit(f"Successfully built {result.image_id.hex[:12]}")
    if result.tags:
        from ..reference import parse

        for tag in result.tags:
            emit(f"Successfully tagged {parse(tag).with_default_tag().familiar()}")
    if quiet:
        write(f"{result.image_id}\n")
    if iidfile:
        with open(iidfile, "w") as f:
            f.write(str(result.image_id))
    return 0
