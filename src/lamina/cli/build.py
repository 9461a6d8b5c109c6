"""``lamina build`` / ``lamina image build``: docker's classic builder's flags and output."""

from __future__ import annotations

import os
import sys

import click

from ..errors import InvalidArgument
from .context import engine


def _pairs(values: tuple[str, ...], what: str, env_fallback: bool) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
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


def _epoch(build_args: dict[str, str | None]) -> int | None:
    text = build_args.get("SOURCE_DATE_EPOCH") or os.environ.get("SOURCE_DATE_EPOCH")
    if not text:
        return None
    if not text.isdigit():
        raise InvalidArgument(f"invalid SOURCE_DATE_EPOCH: {text!r} (seconds since 1970 expected)")
    return int(text)


@click.command("build")
@click.argument("path")
@click.option("-f", "--file", "dockerfile", default=None, help="Name of the Dockerfile (default: PATH/Dockerfile)")
@click.option("-t", "--tag", "tags", multiple=True, help="Name and optionally a tag in the 'name:tag' format")
@click.option("--build-arg", "build_args", multiple=True, help="Set build-time variables")
@click.option("--no-cache", is_flag=True, help="Do not use cache when building the image")
@click.option("--pull", is_flag=True, help="Always attempt to pull a newer version of the image")
@click.option("--target", default=None, help="Set the target build stage to build")
@click.option("--label", "labels", multiple=True, help="Set metadata for an image")
@click.option("--squash", is_flag=True, help="Squash newly built layers into a single new layer")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the build output and print image ID on success")
@click.option("--network", default="host", help="Networking mode for the RUN instructions (host|none)")
@click.option("--iidfile", default=None, help="Write the image ID to the file")
@click.option("--rm", "remove", is_flag=False, flag_value="true", default="true", metavar="[=false]", help="Remove intermediate containers after a successful build (default true)")
@click.option("--force-rm", "force_remove", is_flag=True, help="Always remove intermediate containers")
@click.option("--explain-cache", is_flag=True, help="Say for each step that missed the cache why it missed")
@click.option("--platform", default=None, help="Set platform if server is multi-platform capable")
@click.pass_context
def build_cmd(ctx, path, dockerfile, tags, build_args, no_cache, pull, target, labels, squash, quiet, network, iidfile, remove, force_remove, explain_cache, platform) -> None:
    """Build an image from a Dockerfile."""
    from ..build.context import open_context
    from ..build.executor import BuildOptions, StepFailed
    from ..format.humanize import human_size

    if network not in ("host", "none", "default"):
        raise InvalidArgument(f"network mode {network!r} is not supported for RUN (use host or none)")
    if iidfile:
        try:
            os.unlink(iidfile)
        except FileNotFoundError:
            pass
    args = _pairs(build_args, "build-arg", env_fallback=True)
    options = BuildOptions(
        tags=tuple(tags),
        build_args=args,
        no_cache=no_cache,
        pull=pull,
        target=target,
        labels={k: v or "" for k, v in _pairs(labels, "label", env_fallback=False).items()},
        squash=squash,
        network="host" if network == "default" else network,
        remove=click.BOOL.convert(remove, None, ctx),
        force_remove=force_remove,
        explain_cache=explain_cache,
        platform=platform,
        source_date_epoch=_epoch(args),
    )
    for tag in tags:
        from ..reference import parse

        parse(tag)  # refuse a bad tag before building anything
    out = click.get_text_stream("stdout")

    def emit(line: str) -> None:
        if not quiet:
            out.write(line + "\n")
            out.flush()

    raw_out = None if quiet else sys.stdout.buffer
    eng = engine(ctx)
    with open_context(path, dockerfile, stdin=sys.stdin.buffer) as context:
        size = human_size(context.transfer_size()).replace(" ", "")
        emit(f"Sending build context to lamina {size}")
        try:
            result = eng.build(context, options, emit=emit, output=raw_out)
        except StepFailed as exc:
            out.flush()
            click.echo(str(exc), err=True)
            ctx.exit(exc.code)
    for warning in result.warnings:
        emit(warning)
    emit(f"Successfully built {result.image_id.hex[:12]}")
    for tag in result.tags:
        from ..reference import parse

        emit(f"Successfully tagged {parse(tag).with_default_tag().familiar()}")
    if quiet:
        click.echo(str(result.image_id))
    if iidfile:
        with open(iidfile, "w") as f:
            f.write(str(result.image_id))
