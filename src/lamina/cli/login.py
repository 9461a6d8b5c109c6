"""``lamina login`` / ``lamina logout`` (docker's, against any Distribution-API registry)."""

from __future__ import annotations

import sys

import click

from ..errors import InvalidArgument


@click.command("login")
@click.argument("server")
@click.option("-u", "--username", default=None, help="Username")
@click.option("-p", "--password", default=None, help="Password")
@click.option("--password-stdin", is_flag=True, help="Take the password from stdin")
@click.option("--insecure", is_flag=True, help="Accept unverified TLS, then plain HTTP (loopback registries always do, as docker)")
def login_cmd(server, username, password, password_stdin, insecure):
    """Log in to a registry and store the credentials."""
    from ..registry.client.auth import login
    from ..registry.client.credentials import save_auth

    if password_stdin:
        if password is not None:
            raise InvalidArgument("--password and --password-stdin are mutually exclusive")
        password = sys.stdin.read().rstrip("\n")
    if username is None:
        username = click.prompt("Username")
    if password is None:
        password = click.prompt("Password", hide_input=True)
    login(server, username, password, insecure=insecure)
    save_auth(server, username, password)
    click.echo("Login Succeeded")


@click.command("logout")
@click.argument("server")
def logout_cmd(server):
    """Remove stored credentials for a registry."""
    from .lean.logout import logout

    click.echo(logout(server), nl=False)
