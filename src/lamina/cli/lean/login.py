"""``login [-u USER] [-p PASS | --password-stdin] [--insecure] SERVER``: check the credentials
against the registry (``registry.client.auth``) and store them. Without a user name or a
password on the command line click runs it, since it prompts for them."""

from .args import Spec

SPEC = Spec(
    flags={"--password-stdin": "password_stdin", "--insecure": "insecure"},
    values={"-u": "username", "--username": "username", "-p": "password", "--password": "password"},
    nargs=(1, 1),
)
WRITES = True


def run(ctx, opts: dict, args: list[str]) -> int | None:
    if opts["username"] is None or (opts["password"] is None and not opts["password_stdin"]):
        return None  # click prompts for what is missing
    password = stdin_password(opts["password"]) if opts["password_stdin"] else opts["password"]
    ctx.write(login(args[0], opts["username"], password, opts["insecure"]))
    return 0


def stdin_password(password: str | None) -> str:
    """``--password-stdin``: the password is stdin's first line (the click command reads it so too)."""
    import sys

    from ...errors import InvalidArgument

    if password is not None:
        raise InvalidArgument("--password and --password-stdin are mutually exclusive")
    return sys.stdin.read().rstrip("\n")


def login(server: str, username: str, password: str, insecure: bool) -> str:
    """Log in and store the credentials; what ``login`` prints."""
    from ...registry.client.auth import login as check
    from ...registry.client.credentials import save_auth

    check(server, username, password, insecure=insecure)
    save_auth(server, username, password)
    return "Login Succeeded\n"
