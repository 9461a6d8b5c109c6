"""``lamina login`` / ``lamina logout`` (docker's, against any Distribution-API registry)."""

from __future__ import annotations

import click


@click.command("login")
@click.argument("server")
@click.option("-u", "--username", default=None, help="Username")
@click.option("-p", "--password", default=None, help="Password")
@click.option("--password-stdin", is_flag=True, help="Take the password from stdin")
@click.option("--insecure", is_flag=True, help="Accept unverified TLS, then plain HTTP (loopback registries always do, as docker)")
def login_cmd(server, username, password, password_stdin, insecure):
    """Log in to a registry and store the credentials."""
    from .lean.login import login, stdin_password

    if password_stdin:
        password = stdin_password(password)
    if username is None:
        username = click.prompt("Username")
    if password is None:
        password = click.prompt("Password", hide_input=True)
    click.echo(login(server, username, password, insecure), nl=False)


@click.command("logout")
@click.argument("server")
def logout_cmd(server):
    """Remove stored credentials for a registry."""
    from .lean.logout import logout

    click.echo(logout(server), nl=False)
