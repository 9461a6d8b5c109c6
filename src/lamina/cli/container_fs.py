"""``diff``, ``commit``, ``export`` and ``cp`` (top level and under ``container``): a container's
filesystem. Parsing and rendering only; the work is ``engine.container_files``."""

from __future__ import annotations

import sys

import click

from ..errors import InvalidArgument
from .context import engine
from .image import _GoBool


@click.command("diff")
@click.argument("container")
@click.pass_context
def diff_cmd(ctx, container):
    """Inspect changes to files or directories on a container's filesystem."""
    for change in engine(ctx).container_files.diff(container):
        click.echo(change.line())


@click.command("commit")
@click.argument("container")
@click.argument("repository", required=False)
@click.option("-a", "--author", default="", help='Author (e.g., "John Hannibal Smith <hannibal@a-team.com>")')
@click.option("-c", "--change", "changes", multiple=True, help="Apply Dockerfile instruction to the created image")
@click.option("-m", "--message", default="", help="Commit message")
@click.option("-p", "--pause", type=_GoBool(), default=True, is_flag=False, flag_value=True, show_default=True,
              help="Pause container during commit")
@click.pass_context
def commit_cmd(ctx, container, repository, author, changes, message, pause):
    """Create a new image from a container's changes."""
    image_id = engine(ctx).container_files.commit(
        container, repository, message=message, author=author, changes=changes, pause=pause
    )
    click.echo(str(image_id))


@click.command("export")
@click.argument("container")
@click.option("-o", "--output", default=None, help="Write to a file, instead of STDOUT")
@click.pass_context
def export_cmd(ctx, container, output):
    """Export a container's filesystem as a tar archive."""
    files = engine(ctx).container_files
    if output is None:
        if sys.stdout.isatty():
            raise InvalidArgument("cowardly refusing to save to a terminal. Use the -o flag or redirect")
        files.export(container, sys.stdout.buffer)
        sys.stdout.buffer.flush()
        return
    import os

    from ..store.atomic import temp_name

    tmp = temp_name(os.path.abspath(output))
    try:
        with open(tmp, "wb") as f:
            files.export(container, f)
        os.replace(tmp, output)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


@click.command("cp", context_settings={"ignore_unknown_options": False})
@click.argument("source")
@click.argument("destination")
@click.option("-a", "--archive", is_flag=True, help="Archive mode (copy all uid/gid information)")
@click.option("-L", "--follow-link", is_flag=True, help="Always follow symbol link in SRC_PATH")
@click.option("-q", "--quiet", is_flag=True, help="Suppress progress output during copy")
@click.pass_context
def cp_cmd(ctx, source, destination, archive, follow_link, quiet):
    """Copy files/folders between a container and the local filesystem.

    Use '-' as the source to read a tar archive from stdin and extract it to a directory
    destination in a container. Use '-' as the destination to stream a tar archive of a
    container source to stdout.
    """
    if destination == "-" and sys.stdout.isatty():
        raise InvalidArgument("cowardly refusing to write a tar archive to a terminal")
    engine(ctx).container_files.copy(
        source, destination, archive=archive, follow_link=follow_link,
        stdin=sys.stdin.buffer, stdout=sys.stdout.buffer,
    )
    if destination == "-":
        sys.stdout.buffer.flush()
