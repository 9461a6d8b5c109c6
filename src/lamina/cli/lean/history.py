"""``history`` / ``image history``: ``ImageService.history`` rendered by ``cli.image_output``.

``-H``/``--human`` takes pflag's boolean spellings (``-H=false``), which click parses with its
own type: a command line with it goes to the full CLI.
"""

from .args import Spec

SPEC = Spec(
    flags={"--no-trunc": "no_trunc", "-q": "quiet", "--quiet": "quiet"},
    values={"--format": "fmt"},
    nargs=(1, 1),
)


def run(ctx, opts: dict, args: list[str]) -> int:
    from ..image_output import render_history

    entries = ctx.engine().images.history(args[0])
    ctx.write(render_history(entries, True, opts["no_trunc"], opts["quiet"], opts["fmt"]))
    return 0
