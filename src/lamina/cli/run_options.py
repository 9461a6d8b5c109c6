"""The options of ``run`` and ``create``, declared once for both command lines.

``cli/container.py`` makes click options of this table (help and usage errors come from click)
and ``cli/lean/run.py`` makes the lean parser's ``Spec`` of it, so the two paths can never read
a word differently. ``spec_from_options`` turns the parsed values into the library's
``ContainerSpec``; both paths call it. Imports only what every ``run`` needs: this module is on
the lean path.
"""

__all__ = ["OPTIONS", "Option", "spec_from_options"]


class Option:
    """One option: its spellings, the parameter it sets, and how (``flag``, ``value``,
    ``multiple``), with click's default and value type."""

    __slots__ = ("names", "dest", "kind", "default", "type", "help")

    def __init__(self, names, dest, kind="value", default=None, type=None, help=""):
        self.names = names
        self.dest = dest
        self.kind = kind
        self.default = default
        self.type = type
        self.help = help


def _value(names, dest, help, default=None, type=None):
    return Option(names, dest, "value", default, type, help)


def _multi(names, dest, help):
    return Option(names, dest, "multiple", (), None, help)


def _flag(names, dest, help, default=False):
    return Option(names, dest, "flag", default, None, help)


#: ``run`` and ``create`` (docker's order of ``docker run --help`` is not kept; click sorts nothing)
OPTIONS = (
    _value(("--name",), "name", "Assign a name to the container"),
    _multi(("-e", "--env"), "env", "Set environment variables"),
    _multi(("--env-file",), "env_file", "Read in a file of environment variables"),
    _value(("-w", "--workdir"), "workdir", "Working directory inside the container", ""),
    _value(("-u", "--user"), "user", "Username or UID (format: <name|uid>[:<group|gid>])", ""),
    _value(("--entrypoint",), "entrypoint", "Overwrite the default ENTRYPOINT of the image"),
    _value(("-h", "--hostname"), "hostname", "Container host name", ""),
    _flag(("--read-only",), "read_only", "Mount the container's root filesystem as read only"),
    _multi(("-v", "--volume"), "volumes", "Bind mount a volume"),
    _multi(("--mount",), "mounts", "Attach a filesystem mount to the container"),
    _multi(("--tmpfs",), "tmpfs", "Mount a tmpfs directory"),
    _value(("-m", "--memory"), "memory", "Memory limit"),
    _value(("--memory-reservation",), "memory_reservation", "Memory soft limit"),
    _value(("--memory-swap",), "memory_swap", "Swap limit equal to memory plus swap: -1 for unlimited"),
    _value(("--cpus",), "cpus", "Number of CPUs"),
    _value(("-c", "--cpu-shares"), "cpu_shares", "CPU shares (relative weight)", 0, int),
    _value(("--pids-limit",), "pids_limit", "Tune container pids limit (-1 for unlimited)", None, int),
    _value(("--restart",), "restart", "Restart policy to apply when a container exits", "no"),
    _value(("--network", "--net"), "network", "Connect a container to a network", "bridge"),
    _multi(("--network-alias",), "network_aliases", "Add network-scoped alias for the container"),
    _value(("--ip",), "ip", "IPv4 address (e.g., 172.30.100.104)", ""),
    _value(("--mac-address",), "mac_address", "Container MAC address (e.g., 92:d0:c6:0a:29:33)", ""),
    _multi(("--dns",), "dns", "Set custom DNS servers"),
    _multi(("--dns-search",), "dns_search", "Set custom DNS search domains"),
    _multi(("--dns-option", "--dns-opt"), "dns_option", "Set DNS options"),
    _multi(("--add-host",), "add_host", "Add a custom host-to-IP mapping (host:ip)"),
    _multi(("-p", "--publish"), "publish", "Publish a container's port(s) to the host"),
    _flag(("-P", "--publish-all"), "publish_all", "Publish all exposed ports to random ports"),
    _multi(("--expose",), "expose", "Expose a port or a range of ports"),
    _value(("--stop-signal",), "stop_signal", "Signal to stop the container", ""),
    _value(("--stop-timeout",), "stop_timeout", "Timeout (in seconds) to stop a container", None, int),
    _multi(("-l", "--label"), "labels", "Set meta data on a container"),
    _flag(("--init",), "use_init", "Run an init inside the container that forwards signals and reaps processes", None),
    _multi(("--cap-add",), "cap_add", "Add Linux capabilities"),
    _multi(("--cap-drop",), "cap_drop", "Drop Linux capabilities"),
    _flag(("--privileged",), "privileged", "Give extended privileges to this container"),
    _multi(("--security-opt",), "security_opt", "Security Options"),
    _multi(("--ulimit",), "ulimit", "Ulimit options"),
    _value(("--cidfile",), "cidfile", "Write the container ID to the file", ""),
    _value(("--runtime",), "runtime", "Runtime to use for this container", ""),
    _value(("--shm-size",), "shm_size", "Size of /dev/shm"),
    _flag(("-i", "--interactive"), "interactive", "Keep STDIN open even if not attached"),
    _flag(("-t", "--tty"), "tty", "Allocate a pseudo-TTY"),
    _flag(("--rm",), "auto_remove", "Automatically remove the container when it exits"),
    _value(("--pull",), "pull", 'Pull image before running ("always", "missing", "never")', "missing"),
    _flag(("-q", "--quiet"), "quiet", "Suppress the pull output"),
)

def spec_from_options(image: str, command, kw: dict, detach: bool):
    """The library's ``ContainerSpec`` for parsed ``run``/``create`` options (``kw`` by dest)."""
    from ..container import options as o
    from ..format.units import parse_size

    env: list[str] = []
    for path in kw["env_file"]:
        env += o.read_env_file(path)
    env += o.parse_env(list(kw["env"]))
    entrypoint = None
    if kw["entrypoint"] is not None:
        entrypoint = [kw["entrypoint"]] if kw["entrypoint"] else []
    tmpfs = dict(o.parse_tmpfs(t) for t in kw["tmpfs"])
    swap = 0
    if kw["memory_swap"]:
        swap = -1 if kw["memory_swap"] == "-1" else parse_size(kw["memory_swap"])
    for v in kw["volumes"]:
        o.parse_volume(v)
    return o.ContainerSpec(
        image=image,
        command=list(command) or None,
        name=kw["name"],
        entrypoint=entrypoint,
        environment=env,
        working_dir=kw["workdir"],
        user=kw["user"],
        hostname=kw["hostname"],
        labels=o.parse_labels(list(kw["labels"])),
        tty=kw["tty"],
        stdin_open=kw["interactive"],
        detach=detach,
        auto_remove=kw["auto_remove"],
        read_only=kw["read_only"],
        network_mode=kw["network"],
        volumes=list(kw["volumes"]),
        mounts=[o.parse_mount(m) for m in kw["mounts"]],
        tmpfs=tmpfs,
        mem_limit=parse_size(kw["memory"]) if kw["memory"] else 0,
        mem_reservation=parse_size(kw["memory_reservation"]) if kw["memory_reservation"] else 0,
        memory_swap=swap,
        nano_cpus=o.parse_cpus(kw["cpus"]) if kw["cpus"] else 0,
        cpu_shares=kw["cpu_shares"],
        pids_limit=kw["pids_limit"],
        restart_policy=o.parse_restart_policy(kw["restart"]),
        stop_signal=kw["stop_signal"],
        stop_timeout=kw["stop_timeout"],
        init=kw["use_init"],
        cap_add=list(kw["cap_add"]),
        cap_drop=list(kw["cap_drop"]),
        privileged=kw["privileged"],
        security_opt=list(kw["security_opt"]),
        ulimits=[o.parse_ulimit(u) for u in kw["ulimit"]],
        runtime=kw["runtime"],
        cidfile=kw["cidfile"],
        publish=list(kw["publish"]),
        publish_all_ports=kw["publish_all"],
        expose=list(kw["expose"]),
        network_aliases=list(kw["network_aliases"]),
        ip=kw["ip"],
        mac_address=kw["mac_address"],
        dns=list(kw["dns"]),
        dns_search=list(kw["dns_search"]),
        dns_opt=list(kw["dns_option"]),
        extra_hosts=list(kw["add_host"]),
        shm_size=parse_size(kw["shm_size"]) if kw["shm_size"] else 0,
    )
