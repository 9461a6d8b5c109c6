"""``build`` / ``image build`` on the lean path: a fully cached build is mostly start-up (the
steps are a few stats and JSON reads), so it should not pay for ``site`` and click.

The same code as the click command (``cli.build_run``). ``--rm`` (whose ``=false`` form is
click's own parsing) is left to the full CLI. A FROM image that is not stored needs the registry
client, whose HTTP library lives in site-packages: the first import that nothing on the path
finds turns ``site`` on and is looked up again (``_site_on_demand``), so a build that pulls
works and one that does not never pays for ``site``.
"""

import sys

from .args import Spec

SPEC = Spec(
    flags={
        "--no-cache": "no_cache", "--pull": "pull", "--squash": "squash", "-q": "quiet",
        "--quiet": "quiet", "--force-rm": "force_remove", "--explain-cache": "explain_cache",
    },
    values={
        "-f": "dockerfile", "--file": "dockerfile", "-t": "tags", "--tag": "tags",
        "--build-arg": "build_args", "--target": "target", "--label": "labels",
        "--network": "network", "--iidfile": "iidfile", "--platform": "platform",
    },
    multiple=("tags", "build_args", "labels"),
    nargs=(1, 1),
)
WRITES = True


def run(ctx, opts: dict, args: list[str]) -> int:
    from ..build_run import build_options, run_build

    options = build_options(
        opts["tags"], opts["build_args"], opts["no_cache"], opts["pull"], opts["target"], opts["labels"],
        opts["squash"], opts["network"] or "host", True, opts["force_remove"], opts["explain_cache"],
        opts["platform"],
    )
    engine = ctx.engine()
    _site_on_demand()
    quiet = opts["quiet"]
    return run_build(engine, args[0], opts["dockerfile"], options, quiet, opts["iidfile"], _write, ctx.error,
                     sys.stdin.buffer, None if quiet else sys.stdout.buffer)


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()  # RUN output goes to the binary stream underneath: keep the order


def _site_on_demand() -> None:
    """Started with ``-S`` (the launcher), put a finder last on ``sys.meta_path``: asked only
    for a top-level module no other finder has, it runs what ``-S`` left out (``site.main``:
    site-packages and their .pth files) and finds the module there."""
    if not sys.flags.no_site or "site" in sys.modules:
        return

    class SiteOnDemand:
        @staticmethod
        def find_spec(name, path=None, target=None):
            if path is not None:
                return None
            sys.meta_path.remove(SiteOnDemand)
            import site

            site.main()
            from importlib.machinery import PathFinder

            return PathFinder.find_spec(name)

    sys.meta_path.append(SiteOnDemand)
