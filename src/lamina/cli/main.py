"""Entry point: the ``lamina`` command group, error rendering and exit codes."""

from __future__ import annotations

import sys

import click

from .. import __version__
from ..errors import LaminaError
from .errors import USAGE_EXIT, error_line, exit_code_for
from .lazy import LazyGroup

#: top-level commands (docker's aliases included), imported when run
COMMANDS = {
    "image": "lamina.cli.image:image_group",
    "images": "lamina.cli.image:ls_cmd",
    "rmi": "lamina.cli.image:rm_cmd",
    "history": "lamina.cli.image:history_cmd",
    "tag": "lamina.cli.image:tag_cmd",
    "import": "lamina.cli.image:import_cmd",
    "inspect": "lamina.cli.inspect:inspect_cmd",
    "save": "lamina.cli.transfer:save_cmd",
    "load": "lamina.cli.transfer:load_cmd",
    "login": "lamina.cli.login:login_cmd",
    "logout": "lamina.cli.login:logout_cmd",
    "pull": "lamina.cli.pull:pull_cmd",
    "push": "lamina.cli.pull:push_cmd",
    "search": "lamina.cli.pull:search_cmd",
    "registry": "lamina.cli.registry:registry_group",
    "network": "lamina.cli.network:network_group",
    "port": "lamina.cli.network:port_cmd",
    "system": "lamina.cli.system:system_group",
    "info": "lamina.cli.system:info_cmd",
    "version": "lamina.cli.system:version_cmd",
    "container": "lamina.cli.container:container_group",
    **{
        name: f"lamina.cli.container:{name}_cmd"
        for name in (
            "create", "run", "start", "stop", "kill", "restart", "pause", "unpause", "wait", "rm",
            "rename", "ps", "logs", "exec", "attach", "top", "stats", "update",
        )
    },
    "build": "lamina.cli.build:build_cmd",
    "diff": "lamina.cli.container_fs:diff_cmd",
    "commit": "lamina.cli.container_fs:commit_cmd",
    "export": "lamina.cli.container_fs:export_cmd",
    "cp": "lamina.cli.container_fs:cp_cmd",
    "volume": "lamina.cli.volume:volume_group",
    "completion": "lamina.cli.completion:completion_cmd",
    "__complete": "lamina.cli.completion:complete_cmd",
}


class LaminaGroup(LazyGroup):
    """A click group that turns LaminaError into one line on stderr and docker's exit codes."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except LaminaError as exc:
            click.echo(error_line(exc), err=True, nl=False)
            ctx.exit(exit_code_for(exc))
        except click.UsageError as exc:
            exc.exit_code = USAGE_EXIT
            raise
        except BrokenPipeError:
            sys.stderr.close()
            ctx.exit(0)
        except OSError as exc:
            # the host refused something lamina did not foresee (a full disk, a permission):
            # one line, not a traceback
            click.echo(error_line(exc), err=True, nl=False)
            ctx.exit(125)


@click.group(cls=LaminaGroup, lazy=COMMANDS, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "-v", "--version", prog_name="lamina")
@click.option(
    "--data-root",
    envvar="LAMINA_DATA_ROOT",
    default="/var/lib/lamina",
    show_default=True,
    help="Root directory of persistent lamina state.",
)
@click.option(
    "-s",
    "--storage-driver",
    envvar="LAMINA_STORAGE_DRIVER",
    type=click.Choice(["overlay2", "vfs"]),
    default=None,
    help="Storage driver (default: overlay2 where overlayfs mounts, else vfs).",
)
@click.option(
    "--max-layer-size",
    envvar="LAMINA_MAX_LAYER_SIZE",
    default=None,
    metavar="SIZE",
    help="Refuse a layer whose tar inflates past SIZE (e.g. 20GB; default 1TB).",
)
@click.option(
    "--max-compression-ratio",
    envvar="LAMINA_MAX_COMPRESSION_RATIO",
    type=click.IntRange(min=1),
    default=None,
    metavar="N",
    help="Refuse a compressed layer that inflates more than N times (default 1000).",
)
@click.pass_context
def cli(
    ctx: click.Context,
    data_root: str,
    storage_driver: str | None,
    max_layer_size: str | None,
    max_compression_ratio: int | None,
) -> None:
    """lamina: images, layers, containers, builds and registries."""
    ctx.obj = {
        "data_root": data_root,
        "storage_driver": storage_driver,
        "max_layer_size": max_layer_size,
        "max_compression_ratio": max_compression_ratio,
    }


def main(argv: list[str] | None = None) -> None:
    try:
        cli.main(args=argv, prog_name="lamina", standalone_mode=True)
    except click.exceptions.UsageError as exc:  # pragma: no cover - click exits itself
        exc.show()
        sys.exit(USAGE_EXIT)
