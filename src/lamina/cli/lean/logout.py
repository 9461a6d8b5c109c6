"""``logout SERVER``: remove the stored credentials (``registry.client.credentials``) and the
bearer tokens cached for the registry (``registry.client.tokens``)."""

from .args import Spec

SPEC = Spec(nargs=(1, 1))
WRITES = True


def run(ctx, opts: dict, args: list[str]) -> int:
    ctx.write(logout(args[0]))
    return 0


def logout(server: str) -> str:
    """What ``logout`` prints (the click command says the same)."""
    from ...registry.client.credentials import remove_auth
    from ...registry.client.tokens import TokenCache

    TokenCache.beside_credentials().forget(server)
    if remove_auth(server):
        return f"Removing login credentials for {server}\n"
    return f"Not logged in to {server}\n"
