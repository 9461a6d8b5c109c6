"""``lamina registry serve`` and ``lamina registry gc``: the private registry server."""

from __future__ import annotations

import logging
import ssl
import sys

import click

from ..errors import InvalidArgument


@click.group("registry")
def registry_group() -> None:
    """Run a private registry (the Distribution v2 / OCI distribution API)."""


def _config(config_path, **overrides):
    from ..registry.server.config import load_config

    return load_config(config_path, **overrides)


@registry_group.command("serve")
@click.argument("config_path", required=False, metavar="[CONFIG]")
@click.option("--addr", default=None, help="Listen address HOST:PORT (http.addr; default :5000)")
@click.option("--root", default=None, help="Storage root (storage.filesystem.rootdirectory)")
@click.option("--read-only", "read_only", is_flag=True, default=None, help="Refuse every write (maintenance mode)")
@click.option("--delete/--no-delete", "delete_enabled", default=None, help="Allow DELETE of manifests and blobs")
def serve_cmd(config_path, addr, root, read_only, delete_enabled):
    """Serve a registry until SIGINT or SIGTERM."""
    from aiohttp import web

    from ..registry.server.app import AccessLogger, app_from_config

    config = _config(config_path, addr=addr, root=root, read_only=read_only, delete_enabled=delete_enabled)
    app = app_from_config(config)
    ssl_context = None
    if config.tls_certificate:
        ssl_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        try:
            ssl_context.load_cert_chain(config.tls_certificate, config.tls_key)
        except (OSError, ssl.SSLError) as exc:
            raise InvalidArgument(f"cannot load TLS certificate/key: {exc}") from None
    logging.basicConfig(stream=sys.stderr, level=logging.INFO, format="%(message)s")
    access_logger = logging.getLogger("lamina.registry.access")
    if not config.access_log:
        access_logger.setLevel(logging.WARNING)  # no lines; requests are still counted in metrics
    host, port = config.host_port
    scheme = "https" if ssl_context else "http"
    where = config.root if config.storage_driver == "filesystem" else f"s3://{config.storage_params.get('bucket')}"
    click.echo(f"lamina registry listening on {scheme}://{host}:{port} (storage: {where})", err=True)
    try:
        web.run_app(
            app,
            host=host,
            port=port,
            ssl_context=ssl_context,
            access_log=access_logger,
            access_log_class=AccessLogger,
            print=None,
            handle_signals=True,
        )
    except OSError as exc:
        raise InvalidArgument(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


@registry_group.command("gc")
@click.argument("config_path", required=False, metavar="[CONFIG]")
@click.option("--root", default=None, help="Storage root (storage.filesystem.rootdirectory)")
@click.option("-d", "--dry-run", is_flag=True, help="Only print what would be deleted")
@click.option("-m", "--delete-untagged", is_flag=True, help="Also delete manifests that no tag reaches")
@click.option(
    "--grace",
    default="24h",
    show_default=True,
    help="Keep what a push touched within this long (Go duration): pushes idle for less are safe",
)
def gc_cmd(config_path, root, dry_run, delete_untagged, grace):
    """Delete blobs no manifest references (safe while the registry serves pushes)."""
    from ..format.units import parse_go_duration
    from ..registry.server.cache import cache_from_config
    from ..registry.server.gc import collect
    from ..registry.server.registry import Registry
    from ..registry.server.storage import driver_from_config

    config = _config(config_path, root=root)
    grace_seconds = parse_go_duration(grace)
    if grace_seconds < 0:
        raise InvalidArgument(f"invalid --grace {grace!r}: must not be negative")
    # a shared (redis) descriptor cache hears about what is swept; an in-memory one is per server
    cache = cache_from_config(config.blobdescriptor_cache, config.redis) if config.blobdescriptor_cache == "redis" else None
    report = collect(Registry(driver_from_config(config), cache), grace=grace_seconds, dry_run=dry_run, delete_untagged=delete_untagged, say=click.echo)
    verb = "would be" if dry_run else "were"
    click.echo(
        f"\n{report.marked} blobs marked, {len(report.swept)} blobs and {len(report.manifests_deleted)} manifests "
        f"{verb} deleted, {report.skipped_recent} recent blobs kept"
    )
