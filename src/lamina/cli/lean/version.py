"""``version``: what ``docker version`` shows, for an engine without a daemon.

lamina's "server" is the library each command runs in-process, so both sections name the same
build; the Python that runs it stands where docker names its Go version.
"""

from .args import Spec

SPEC = Spec(values={"-f": "fmt", "--format": "fmt"})


def run(ctx, opts: dict, args: list[str]) -> int:
    ctx.write(render_version(opts["fmt"]))
    return 0


def version_data() -> dict:
    import sys

    from ... import __version__
    from ...image.config import go_arch

    python = ".".join(str(part) for part in sys.version_info[:3])
    platform = {"Os": "linux", "Arch": go_arch()}
    return {
        "Client": {"Version": __version__, "PythonVersion": python, **platform},
        "Server": {"Version": __version__, "PythonVersion": python, **platform, "Daemonless": True},
    }


def render_version(fmt: str | None) -> str:
    data = version_data()
    if fmt == "json":
        import json

        return json.dumps(data) + "\n"
    if fmt:
        from ...format.template import compile_template

        return compile_template(fmt).render(data) + "\n"
    client, server = data["Client"], data["Server"]
    return (
        "Client:\n"
        f" Version:           {client['Version']}\n"
        f" Python version:    {client['PythonVersion']}\n"
        f" OS/Arch:           {client['Os']}/{client['Arch']}\n"
        "\n"
        "Server: lamina (daemonless: each command runs the engine in its own process)\n"
        " Engine:\n"
        f"  Version:          {server['Version']}\n"
        f"  Python version:   {server['PythonVersion']}\n"
        f"  OS/Arch:          {server['Os']}/{server['Arch']}\n"
    )
