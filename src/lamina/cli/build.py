"""``lamina build`` / ``lamina image build``: docker's classic builder's flags and output."""

from __future__ import annotations

import sys

import click

from .context import engine


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
@click.option("--network", default=None, help="Networking mode for the RUN instructions: host (the default) or none")
@click.option("--iidfile", default=None, help="Write the image ID to the file")
@click.option("--rm", "remove", is_flag=False, flag_value="true", default="true", metavar="[=false]", help="Remove intermediate containers after a successful build (default true)")
@click.option("--force-rm", "force_remove", is_flag=True, help="Always remove intermediate containers")
@click.option("--explain-cache", is_flag=True, help="Say for each step that missed the cache why it missed")
@click.option("--platform", default=None, help="Set platform if server is multi-platform capable")
@click.pass_context
def build_cmd(ctx, path, dockerfile, tags, build_args, no_cache, pull, target, labels, squash, quiet, network, iidfile, remove, force_remove, explain_cache, platform) -> None:
    """Build an image from a Dockerfile."""
    from .build_run import build_options, run_build

    options = build_options(
        tags, build_args, no_cache, pull, target, labels, squash, network or "host",
        click.BOOL.convert(remove, None, ctx), force_remove, explain_cache, platform,
    )
    out = click.get_text_stream("stdout")

    def write(text: str) -> None:
        out.write(text)
        out.flush()

    def error(text: str) -> None:
        out.flush()
        click.echo(text, err=True, nl=False)

    code = run_build(engine(ctx), path, dockerfile, options, quiet, iidfile, write, error,
                     sys.stdin.buffer, None if quiet else sys.stdout.buffer)
    if code:
        ctx.exit(code)
