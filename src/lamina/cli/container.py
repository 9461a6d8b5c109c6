"""``lamina container …`` and docker's top-level aliases (run, create, start, ps, rm, logs, exec, …)."""

from __future__ import annotations

import sys
import time

import click

from ..errors import InvalidArgument, LaminaError
from ..format import table as tables
from .container_output import parse_filters as _filters
from .context import engine
from .errors import as_run_failure
from .lazy import LazyGroup


@click.group("container", cls=LazyGroup, lazy={
    name: f"lamina.cli.container_fs:{name}_cmd" for name in ("diff", "commit", "export", "cp")
})
def container_group() -> None:
    """Manage containers."""


# create / run ------------------------------------------------------------------------------
def _run_options(fn):
    """The options of ``run`` and ``create``, from the table both command lines read."""
    from .run_options import OPTIONS

    for option in reversed(OPTIONS):
        kind = {"flag": {"is_flag": True}, "multiple": {"multiple": True}}.get(option.kind, {})
        if option.type is not None:
            kind["type"] = option.type
        fn = click.option(*option.names, option.dest, default=option.default if option.kind != "multiple" else None,
                          help=option.help, **kind)(fn)
    return fn


def _create(ctx, image: str, command, kw, detach: bool):
    """The container, its image pulled per ``--pull`` as docker's CLI does: "Unable to find
    image …" and the pull's progress on stderr (stdout is the container's), none with -q."""
    from .progress import ProgressDisplay

    eng = engine(ctx)
    from .run_options import spec_from_options

    spec = spec_from_options(image, command, kw, detach)
    quiet = kw["quiet"]

    def unable(name: str) -> None:
        if not quiet:
            click.echo(f"Unable to find image '{name}' locally", err=True)

    return eng.containers.create_from_spec(
        spec, pull=kw["pull"], progress=ProgressDisplay(out=sys.stderr, quiet=quiet), on_missing=unable,
    )


@click.command("create", context_settings={"ignore_unknown_options": False, "allow_interspersed_args": False})
@_run_options
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def create_cmd(ctx, image, command, **kw):
    """Create a new container."""
    handle = _create(ctx, image, command, kw, detach=True)
    click.echo(handle.id)


@click.command("run", context_settings={"allow_interspersed_args": False})
@_run_options
@click.option("-d", "--detach", is_flag=True, help="Run container in background and print container ID")
@click.option("--sig-proxy/--no-sig-proxy", default=True, help="Proxy received signals to the process")
@click.argument("image")
@click.argument("command", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def run_cmd(ctx, image, command, detach, sig_proxy, **kw):
    """Create and run a new container from an image."""
    if detach and kw["auto_remove"] and kw["restart"] != "no":
        raise InvalidArgument("conflicting options: cannot specify both --restart and --rm")
    try:
        handle = _create(ctx, image, command, kw, detach=detach)
    except LaminaError as exc:
        raise as_run_failure(exc) from None
    if detach:
        handle.start()
        click.echo(handle.id)
        return
    from .attach import run_attached

    code = run_attached(handle, kw["interactive"], kw["tty"], sig_proxy)
    ctx.exit(code)


# start / stop / kill / … -------------------------------------------------------------------
def _each(ctx, refs, action, echo=True) -> None:
    """Apply ``action`` to each container; docker's "Error response…" per failure, exit 1 if any
    (``container_output.each``, which the lean commands run too)."""
    from .container_output import each

    code = each(engine(ctx).containers, refs, action, _say, lambda text: click.echo(text, err=True, nl=False), echo)
    if code:
        ctx.exit(code)


def _say(text: str) -> None:
    click.echo(text, nl=False)


@click.command("start")
@click.option("-a", "--attach", is_flag=True, help="Attach STDOUT/STDERR and forward signals")
@click.option("-i", "--interactive", is_flag=True, help="Attach container's STDIN")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def start_cmd(ctx, attach, interactive, containers):
    """Start one or more stopped containers."""
    if attach or interactive:
        if len(containers) > 1:
            raise InvalidArgument("you cannot start and attach multiple containers at once")
        handle = engine(ctx).containers.get(containers[0])
        from .attach import run_attached

        ctx.exit(run_attached(handle, interactive, bool(handle.record.config.get("Tty")), True))
    _each(ctx, containers, lambda h: h.start())


@click.command("stop")
@click.option("-t", "--time", "--timeout", "timeout", type=int, default=None, help="Seconds to wait before killing the container")
@click.option("-s", "--signal", "sig", default=None, help="Signal to send to the container")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def stop_cmd(ctx, timeout, sig, containers):
    """Stop one or more running containers."""
    from .container_output import stop_with

    _each(ctx, containers, stop_with(timeout, sig))


@click.command("kill")
@click.option("-s", "--signal", "sig", default="KILL", help="Signal to send to the container")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def kill_cmd(ctx, sig, containers):
    """Kill one or more running containers."""
    _each(ctx, containers, lambda h: h.kill(sig))


@click.command("restart")
@click.option("-t", "--time", "--timeout", "timeout", type=int, default=None, help="Seconds to wait before killing the container")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def restart_cmd(ctx, timeout, containers):
    """Restart one or more containers."""
    _each(ctx, containers, lambda h: h.restart(timeout))


@click.command("pause")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def pause_cmd(ctx, containers):
    """Pause all processes within one or more containers."""
    _each(ctx, containers, lambda h: h.pause())


@click.command("unpause")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def unpause_cmd(ctx, containers):
    """Unpause all processes within one or more containers."""
    _each(ctx, containers, lambda h: h.unpause())


@click.command("wait")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def wait_cmd(ctx, containers):
    """Block until one or more containers stop, then print their exit codes."""
    from .container_output import wait_for

    _each(ctx, containers, wait_for(_say), echo=False)


@click.command("rm")
@click.option("-f", "--force", is_flag=True, help="Force the removal of a running container (uses SIGKILL)")
@click.option("-v", "--volumes", is_flag=True, help="Remove anonymous volumes associated with the container")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def rm_cmd(ctx, force, volumes, containers):
    """Remove one or more containers."""
    _each(ctx, containers, lambda h: h.remove(force=force, v=volumes))


@click.command("rename")
@click.argument("container")
@click.argument("new_name")
@click.pass_context
def rename_cmd(ctx, container, new_name):
    """Rename a container."""
    engine(ctx).containers.get(container).rename(new_name)


# ps (rendered by cli/container_output.py, which the lean path runs too) -----------------
@click.command("ps")
@click.option("-a", "--all", "show_all", is_flag=True, help="Show all containers (default shows just running)")
@click.option("-q", "--quiet", is_flag=True, help="Only display container IDs")
@click.option("-n", "--last", type=int, default=-1, help="Show n last created containers (includes all states)")
@click.option("-l", "--latest", is_flag=True, help="Show the latest created container (includes all states)")
@click.option("-s", "--size", is_flag=True, help="Display total file sizes")
@click.option("--no-trunc", is_flag=True, help="Don't truncate output")
@click.option("-f", "--filter", "filters", multiple=True, help="Filter output based on conditions provided")
@click.option("--format", "fmt", default=None, help="Format output using a custom template")
@click.pass_context
def ps_cmd(ctx, show_all, quiet, last, latest, size, no_trunc, filters, fmt):
    """List containers."""
    from .container_output import render_ps

    handles = engine(ctx).containers.list(all=show_all, filters=_filters(filters), limit=last, latest=latest)
    click.echo(render_ps(handles, time.time(), quiet, no_trunc, size, fmt), nl=False)


# logs, exec, attach, top, stats, inspect, update, prune -------------------------------------
@click.command("logs")
@click.option("-f", "--follow", is_flag=True, help="Follow log output")
@click.option("--tail", "-n", "tail", default="all", help="Number of lines to show from the end of the logs")
@click.option("-t", "--timestamps", is_flag=True, help="Show timestamps")
@click.option("--since", default=None, help="Show logs since timestamp or relative (e.g. 42m)")
@click.option("--until", default=None, help="Show logs before a timestamp or relative (e.g. 42m)")
@click.option("--details", is_flag=True, help="Show extra details provided to logs")
@click.argument("container")
@click.pass_context
def logs_cmd(ctx, follow, tail, timestamps, since, until, details, container):
    """Fetch the logs of a container."""
    from .container_output import write_logs

    write_logs(engine(ctx).containers.get(container), follow, tail, timestamps, since, until,
               sys.stdout.buffer, sys.stderr.buffer)


@click.command("exec", context_settings={"allow_interspersed_args": False})
@click.option("-d", "--detach", is_flag=True, help="Detached mode: run command in the background")
@click.option("-i", "--interactive", is_flag=True, help="Keep STDIN open even if not attached")
@click.option("-t", "--tty", is_flag=True, help="Allocate a pseudo-TTY")
@click.option("-e", "--env", "env", multiple=True, help="Set environment variables")
@click.option("--env-file", multiple=True, help="Read in a file of environment variables")
@click.option("-u", "--user", default="", help="Username or UID (format: <name|uid>[:<group|gid>])")
@click.option("-w", "--workdir", default="", help="Working directory inside the container")
@click.option("--privileged", is_flag=True, help="Give extended privileges to the command")
@click.argument("container")
@click.argument("command", nargs=-1, required=True, type=click.UNPROCESSED)
@click.pass_context
def exec_cmd(ctx, detach, interactive, tty, env, env_file, user, workdir, privileged, container, command):
    """Execute a command in a running container."""
    from ..container import options as o

    environment = []
    for path in env_file:
        environment += o.read_env_file(path)
    environment += o.parse_env(list(env))
    handle = engine(ctx).containers.get(container)
    code = handle.exec_run(list(command), detach=detach, stdin=interactive, tty=tty,
                           environment=environment, user=user, workdir=workdir, privileged=privileged)
    ctx.exit(code)


@click.command("attach")
@click.option("--no-stdin", is_flag=True, help="Do not attach STDIN")
@click.option("--sig-proxy/--no-sig-proxy", default=True, help="Proxy all received signals to the process")
@click.argument("container")
@click.pass_context
def attach_cmd(ctx, no_stdin, sig_proxy, container):
    """Attach to a running container's output (and follow it until it exits)."""
    handle = engine(ctx).containers.get(container)
    if not handle.record.state.running:
        raise InvalidArgument("You cannot attach to a stopped container, start it first")
    out, err = sys.stdout.buffer, sys.stderr.buffer
    for stream, data in handle.logs(tail=0, follow=True):
        target = err if stream == "stderr" else out
        target.write(data)
        target.flush()
    ctx.exit(handle.reload().record.state.exit_code)


@click.command("top", context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False})
@click.argument("container")
@click.argument("ps_args", nargs=-1, type=click.UNPROCESSED)
@click.pass_context
def top_cmd(ctx, container, ps_args):
    """Display the running processes of a container."""
    from ..runtime.lifecycle import top

    handle = engine(ctx).containers.get(container)
    result = top(handle, " ".join(ps_args) or "-ef")
    lines = ["\t".join(row) + "\n" for row in [result["Titles"], *result["Processes"]]]
    click.echo(tables.tabwrite(lines), nl=False)


@click.command("stats")
@click.option("-a", "--all", "show_all", is_flag=True, help="Show all containers (default shows just running)")
@click.option("--no-stream", is_flag=True, help="Disable streaming stats and only pull the first result")
@click.option("--no-trunc", is_flag=True, help="Do not truncate output")
@click.option("--format", "fmt", default=None, help="Format output using a custom template")
@click.argument("containers", nargs=-1)
@click.pass_context
def stats_cmd(ctx, show_all, no_stream, no_trunc, fmt, containers):
    """Display a live stream of container(s) resource usage statistics."""
    from ..container.stats import stats_rows

    eng = engine(ctx)
    handles = [eng.containers.get(c) for c in containers] if containers else eng.containers.list(all=show_all)
    default = "table {{.ID}}\t{{.Name}}\t{{.CPUPerc}}\t{{.MemUsage}}\t{{.MemPerc}}\t{{.NetIO}}\t{{.BlockIO}}\t{{.PIDs}}"
    headers = {"ID": "CONTAINER ID", "Name": "NAME", "CPUPerc": "CPU %", "MemUsage": "MEM USAGE / LIMIT",
               "MemPerc": "MEM %", "NetIO": "NET I/O", "BlockIO": "BLOCK I/O", "PIDs": "PIDS", "Container": "CONTAINER"}
    while True:
        rows = stats_rows(handles, not no_trunc)
        click.echo(tables.render(fmt, rows, default, headers), nl=False)
        if no_stream:
            return
        time.sleep(1)


@click.command("inspect")
@click.option("-f", "--format", "fmt", default=None, help="Format output using a custom template")
@click.option("-s", "--size", is_flag=True, help="Display total file sizes")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def inspect_cmd(ctx, fmt, size, containers):
    """Display detailed information on one or more containers."""
    from .container_output import render_container_inspect

    code = render_container_inspect(engine(ctx).containers, containers, fmt, size, _say,
                                    lambda text: click.echo(text, err=True, nl=False))
    if code:
        ctx.exit(code)


@click.command("update")
@click.option("-m", "--memory", default=None, help="Memory limit")
@click.option("--memory-reservation", default=None, help="Memory soft limit")
@click.option("--memory-swap", default=None, help="Swap limit equal to memory plus swap")
@click.option("--cpus", default=None, help="Number of CPUs")
@click.option("-c", "--cpu-shares", type=int, default=None, help="CPU shares (relative weight)")
@click.option("--pids-limit", type=int, default=None, help="Tune container pids limit (-1 for unlimited)")
@click.option("--restart", default=None, help="Restart policy to apply when a container exits")
@click.argument("containers", nargs=-1, required=True)
@click.pass_context
def update_cmd(ctx, memory, memory_reservation, memory_swap, cpus, cpu_shares, pids_limit, restart, containers):
    """Update configuration of one or more containers."""
    from ..container import options as o
    from ..format.units import parse_size

    changes = {
        "mem_limit": parse_size(memory) if memory else None,
        "mem_reservation": parse_size(memory_reservation) if memory_reservation else None,
        "memswap_limit": (-1 if memory_swap == "-1" else parse_size(memory_swap)) if memory_swap else None,
        "nano_cpus": o.parse_cpus(cpus) if cpus else None,
        "cpu_shares": cpu_shares,
        "pids_limit": pids_limit,
        "restart_policy": o.parse_restart_policy(restart) if restart else None,
    }
    changes = {k: v for k, v in changes.items() if v is not None}
    _each(ctx, containers, lambda h: h.update(**changes))


@click.command("prune")
@click.option("-f", "--force", is_flag=True, help="Do not prompt for confirmation")
@click.option("--filter", "filters", multiple=True, help="Provide filter values (e.g. 'label=<key>=<value>')")
@click.pass_context
def prune_cmd(ctx, force, filters):
    """Remove all stopped containers."""
    from ..format.humanize import human_size

    if not force and not click.confirm(
        "WARNING! This will remove all stopped containers.\nAre you sure you want to continue?", default=False
    ):
        return
    report = engine(ctx).containers.prune(_filters(filters))
    if report.deleted:
        click.echo("Deleted Containers:")
        for cid in report.deleted:
            click.echo(cid)
        click.echo("")
    click.echo(f"Total reclaimed space: {human_size(report.space_reclaimed)}")


_GROUP = {
    "create": create_cmd, "run": run_cmd, "start": start_cmd, "stop": stop_cmd, "kill": kill_cmd,
    "restart": restart_cmd, "pause": pause_cmd, "unpause": unpause_cmd, "wait": wait_cmd,
    "rm": rm_cmd, "rename": rename_cmd, "ls": ps_cmd, "list": ps_cmd, "ps": ps_cmd, "logs": logs_cmd,
    "exec": exec_cmd, "attach": attach_cmd, "top": top_cmd, "stats": stats_cmd, "inspect": inspect_cmd,
    "update": update_cmd, "prune": prune_cmd,
}
for _name, _cmd in _GROUP.items():
    container_group.add_command(_cmd, _name)
