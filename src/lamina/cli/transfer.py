"""``image save`` / ``image load`` (and the ``save``/``load`` aliases)."""

from __future__ import annotations

import os
import sys

import click

from ..errors import InvalidArgument
from ..store.atomic import temp_name
from .context import engine


@click.command("save")
@click.argument("names", nargs=-1, required=True)
@click.option("-o", "--output", default=None, help="Write to a file, instead of STDOUT")
@click.option("--format", "fmt", type=click.Choice(["docker", "oci"]), default="docker", show_default=True,
              help="docker-archive (with an OCI layout inside) or a pure OCI image layout")
@click.option("--compression", type=click.Choice(["none", "gzip", "zstd"]), default="none", show_default=True,
              help="Compress the layer blobs (deterministically: the same layer gives the same digest)")
@click.pass_context
def save_cmd(ctx, names, output, fmt, compression):
    """Save one or more images to a tar archive (streamed to STDOUT by default)."""
    transfer = engine(ctx).transfer
    if output is None:
        if sys.stdout.isatty():
            raise InvalidArgument("Cowardly refusing to save to a terminal. Use the -o flag or redirect.")
        transfer.save(list(names), sys.stdout.buffer, fmt, compression)
        return
    # write beside the target and rename, so a failed save never leaves a truncated archive
    target = os.path.abspath(output)
    tmp = temp_name(target)
    try:
        with open(tmp, "wb", buffering=1 << 20) as out:
            transfer.save(list(names), out, fmt, compression)
        os.replace(tmp, target)
    except OSError as exc:
        raise InvalidArgument(f"failed to save image: {exc.strerror}: {output}") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@click.command("load")
@click.option("-i", "--input", "input_path", default=None, help="Read from tar archive file, instead of STDIN")
@click.option("-q", "--quiet", is_flag=True, help="Suppress the load output")
@click.pass_context
def load_cmd(ctx, input_path, quiet):
    """Load an image from a tar archive or STDIN."""
    transfer = engine(ctx).transfer
    if input_path is None:
        if sys.stdin.isatty():
            raise InvalidArgument("requested load from stdin, but stdin is empty")
        loaded = transfer.load(sys.stdin.buffer)
    else:
        try:
            f = open(input_path, "rb")
        except OSError as exc:
            raise InvalidArgument(f"open {input_path}: {exc.strerror.lower()}") from None
        with f:
            loaded = transfer.load(f)
    if quiet:
        return
    for image in loaded:
        for line in image.lines():
            click.echo(line)
