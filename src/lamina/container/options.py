"""What a container is created with: ``ContainerSpec`` (docker-py's keyword names) and the pure
functions that turn it, with the image's config, into docker's ``Config`` and ``HostConfig``.

Also the parsers for docker's flag syntaxes (``--restart on-failure:3``, ``--ulimit
nofile=1024:2048``, ``-v /a:/b:ro``, ``--mount type=bind,…``, ``--tmpfs /run:size=1m``,
``--cpus 1.5``, ``--env-file``), so the CLI and the library read them the same way.
No I/O here except ``read_env_file``; unit-tested without root.
"""

from __future__ import annotations

from ..errors import InvalidArgument

TYPE_CHECKING = False  # annotations only: ``typing`` stays off run's path
if TYPE_CHECKING:
    from typing import Any


_REQUIRED = object()


def _restart_no() -> dict[str, Any]:
    return {"Name": "no", "MaximumRetryCount": 0}


#: ``ContainerSpec``'s fields in order, each with its default, or a factory (``list``, ``dict``…)
#: that makes a fresh one for every spec
SPEC_FIELDS: tuple[tuple[str, Any], ...] = (
    ("image", _REQUIRED),
    ("command", None),
    ("name", None),
    ("entrypoint", None),  # [] resets the image's ENTRYPOINT (``--entrypoint ""``)
    ("environment", list),
    ("working_dir", ""),
    ("user", ""),
    ("hostname", ""),
    ("domainname", ""),
    ("labels", dict),
    ("tty", False),
    ("stdin_open", False),
    ("detach", False),
    ("auto_remove", False),
    ("read_only", False),
    ("network_mode", "bridge"),  # bridge, host, none, container:<name|id> or a network's name
    ("volumes", list),  # -v specs
    ("mounts", list),  # --mount, parsed (parse_mount)
    ("tmpfs", dict),
    ("mem_limit", 0),
    ("mem_reservation", 0),
    ("memory_swap", 0),
    ("nano_cpus", 0),
    ("cpu_shares", 0),
    ("pids_limit", None),
    ("restart_policy", _restart_no),
    ("stop_signal", ""),
    ("stop_timeout", None),
    ("init", None),
    ("cap_add", list),
    ("cap_drop", list),
    ("privileged", False),
    ("security_opt", list),
    ("ulimits", list),
    ("runtime", ""),
    ("cidfile", ""),
    ("publish", list),  # -p specs (lamina.network.ports)
    ("publish_all_ports", False),  # -P
    ("expose", list),
    ("network_aliases", list),
    ("ip", ""),
    ("mac_address", ""),
    ("dns", list),
    ("dns_search", list),
    ("dns_opt", list),
    ("extra_hosts", list),  # --add-host name:ip (or host-gateway)
    ("shm_size", 0),
)


class ContainerSpec:
    """Everything ``create``/``run`` take (names as docker-py's ``containers.create``).

    A plain mutable record built from ``SPEC_FIELDS`` (what ``@dataclass`` gave: keyword or
    positional fields, fresh mutable defaults, equality, a repr), because ``dataclasses``
    costs every ``run`` ~10 ms of imports (``lamina.value`` says why).
    """

    __slots__ = tuple(name for name, _ in SPEC_FIELDS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if len(args) > len(SPEC_FIELDS):
            raise TypeError(f"ContainerSpec takes at most {len(SPEC_FIELDS)} positional arguments")
        for (name, _), value in zip(SPEC_FIELDS, args, strict=False):
            if name in kwargs:
                raise TypeError(f"ContainerSpec got multiple values for argument '{name}'")
            kwargs[name] = value
        for name, default in SPEC_FIELDS:
            if name in kwargs:
                value = kwargs.pop(name)
            elif default is _REQUIRED:
                raise TypeError(f"ContainerSpec is missing the required argument '{name}'")
            else:
                value = default() if callable(default) else default
            setattr(self, name, value)
        if kwargs:
            raise TypeError(f"ContainerSpec got an unexpected keyword argument '{next(iter(kwargs))}'")

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, name) == getattr(other, name) for name in self.__slots__)

    __hash__ = None  # mutable, as the dataclass was

    def __repr__(self) -> str:
        return "ContainerSpec(" + ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__) + ")"


# flag syntaxes ---------------------------------------------------------------------------
def parse_restart_policy(text: str) -> dict[str, Any]:
    """``no``, ``always``, ``unless-stopped``, ``on-failure[:N]`` → docker's RestartPolicy."""
    name, _, count = (text or "no").partition(":")
    if name not in ("no", "always", "on-failure", "unless-stopped"):
        raise InvalidArgument(f"invalid restart policy '{text}'")
    if count and name != "on-failure":
        raise InvalidArgument("invalid restart policy: maximum retry count can only be used with 'on-failure'")
    try:
        retries = int(count) if count else 0
    except ValueError:
        raise InvalidArgument(f"invalid restart policy '{text}': maximum retry count must be an integer") from None
    if retries < 0:
        raise InvalidArgument("invalid restart policy: maximum retry count cannot be negative")
    return {"Name": name, "MaximumRetryCount": retries}


def parse_cpus(text: str) -> int:
    """``--cpus 1.5`` → NanoCpus."""
    try:
        value = float(text)
    except ValueError:
        raise InvalidArgument(f'invalid argument "{text}" for "--cpus" flag: failed to parse {text} as a rational number') from None
    if value < 0:
        raise InvalidArgument(f"invalid --cpus value {text}: must be positive")
    return int(round(value * 1e9))


_ULIMITS = {
    "core", "cpu", "data", "fsize", "locks", "memlock", "msgqueue", "nice", "nofile", "nproc",
    "rss", "rtprio", "rttime", "sigpending", "stack", "as",
}


def parse_ulimit(text: str) -> dict[str, Any]:
    """``nofile=1024[:2048]`` → ``{"Name": "nofile", "Soft": 1024, "Hard": 2048}``."""
    name, sep, limits = text.partition("=")
    if not sep or name not in _ULIMITS:
        raise InvalidArgument(f"invalid ulimit argument: {text}")
    soft_text, _, hard_text = limits.partition(":")
    try:
        soft = int(soft_text)
        hard = int(hard_text) if hard_text else soft
    except ValueError:
        raise InvalidArgument(f"invalid ulimit argument: {text}") from None
    if soft > hard:
        raise InvalidArgument(f"ulimit soft limit must be less than or equal to hard limit: {soft} > {hard}")
    return {"Name": name, "Hard": hard, "Soft": soft}


def parse_volume(text: str) -> dict[str, Any]:
    """``-v`` forms: ``/host:/ctr[:opts]`` (bind), ``name:/ctr[:opts]`` (named volume),
    ``/ctr`` (anonymous volume). Returns a --mount-shaped dict."""
    parts = text.split(":")
    if len(parts) == 1:
        target, source, opts = parts[0], "", ""
    elif len(parts) == 2:
        if parts[1] in ("ro", "rw", "z", "Z") or not parts[1].startswith("/"):
            raise InvalidArgument(f"invalid volume specification: '{text}'")
        source, target, opts = parts[0], parts[1], ""
    elif len(parts) == 3:
        source, target, opts = parts
    else:
        raise InvalidArgument(f"invalid volume specification: '{text}'")
    if not target.startswith("/"):
        raise InvalidArgument(f"invalid volume specification: '{text}': invalid mount config: the mount destination must be an absolute path")
    if target == "/":
        raise InvalidArgument(f"invalid volume specification: '{text}': invalid mount config for type \"bind\": invalid specification: destination can't be '/'")
    modes = [o for o in opts.split(",") if o]
    for mode in modes:
        if mode not in ("ro", "rw", "z", "Z", "nocopy", "private", "rprivate", "shared", "rshared", "slave", "rslave"):
            raise InvalidArgument(f"invalid mode: {mode}")
    read_only = "ro" in modes
    if not source:
        kind = "volume"
    elif source.startswith("/"):
        kind = "bind"
    else:
        kind = "volume"
    mount = {"Type": kind, "Source": source, "Target": target, "ReadOnly": read_only, "Mode": opts}
    if kind == "volume" and "nocopy" in modes:
        mount["VolumeOptions"] = {"NoCopy": True}
    return mount


def parse_mount(text: str) -> dict[str, Any]:
    """``--mount type=bind,source=/a,target=/b[,readonly]`` (also volume and tmpfs)."""
    mount: dict[str, Any] = {"Type": "volume"}
    for item in [p for p in text.split(",") if p]:
        key, sep, value = item.partition("=")
        key = key.strip().lower()
        if key in ("readonly", "ro"):
            mount["ReadOnly"] = value.lower() not in ("0", "false") if sep else True
        elif not sep:
            raise InvalidArgument(f"invalid field '{item}' must be a key=value pair")
        elif key == "type":
            if value not in ("bind", "volume", "tmpfs"):
                raise InvalidArgument(f"invalid mount type {value!r}: use bind, volume or tmpfs")
            mount["Type"] = value
        elif key in ("source", "src"):
            mount["Source"] = value
        elif key in ("target", "destination", "dst"):
            mount["Target"] = value
        elif key == "bind-propagation":
            mount.setdefault("BindOptions", {})["Propagation"] = value
        elif key == "volume-nocopy":
            mount.setdefault("VolumeOptions", {})["NoCopy"] = value.lower() not in ("0", "false")
        elif key == "tmpfs-size":
            from ..format.units import parse_size

            mount.setdefault("TmpfsOptions", {})["SizeBytes"] = parse_size(value)
        elif key == "tmpfs-mode":
            mount.setdefault("TmpfsOptions", {})["Mode"] = int(value, 8)
        else:
            raise InvalidArgument(f"unexpected key '{key}' in '{text}'")
    target = mount.get("Target", "")
    if not target:
        raise InvalidArgument("target is required")
    if not target.startswith("/"):
        raise InvalidArgument(f"invalid mount config: the mount destination {target} must be an absolute path")
    if mount["Type"] == "bind" and not mount.get("Source"):
        raise InvalidArgument('invalid mount config for type "bind": field Source must not be empty')
    if mount["Type"] == "tmpfs" and mount.get("Source"):
        raise InvalidArgument('invalid mount config for type "tmpfs": field Source must not be specified')
    mount.setdefault("ReadOnly", False)
    return mount


def parse_tmpfs(text: str) -> tuple[str, str]:
    """``/run[:opts]`` → (path, options)."""
    path, _, opts = text.partition(":")
    if not path.startswith("/"):
        raise InvalidArgument(f"invalid tmpfs path {path!r}: must be absolute")
    return path, opts


def parse_env(items: list[str], lookup: Any = None) -> list[str]:
    """``-e NAME=value`` as is; ``-e NAME`` takes NAME from the caller's environment (or drops it)."""
    import os

    env = os.environ if lookup is None else lookup
    out = []
    for item in items:
        name, sep, _ = item.partition("=")
        if not name:
            raise InvalidArgument(f"invalid environment variable: {item}")
        if sep:
            out.append(item)
        elif name in env:
            out.append(f"{name}={env[name]}")
    return out


def read_env_file(path: str) -> list[str]:
    """docker's ``--env-file``: NAME=value lines; ``#`` comments and blank lines skipped."""
    try:
        with open(path, encoding="utf-8") as f:
            lines = f.read().splitlines()
    except OSError as exc:
        raise InvalidArgument(f"open {path}: {exc.strerror}") from None
    items = []
    for line in lines:
        stripped = line.lstrip()
        if not stripped or stripped.startswith("#"):
            continue
        name = stripped.partition("=")[0]
        if " " in name or "\t" in name:
            raise InvalidArgument(f"variable '{name}' contains whitespaces")
        items.append(stripped)
    return parse_env(items)


def parse_labels(items: list[str]) -> dict[str, str]:
    labels = {}
    for item in items:
        key, _, value = item.partition("=")
        if not key:
            raise InvalidArgument(f"invalid label '{item}': empty name")
        labels[key] = value
    return labels


# Config and HostConfig --------------------------------------------------------------------
def merge_env(image_env: list[str], user_env: list[str]) -> list[str]:
    """The image's ENV with the user's entries replacing those of the same name (docker's merge)."""
    user_names = {e.partition("=")[0] for e in user_env}
    return [e for e in image_env if e.partition("=")[0] not in user_names] + list(user_env)


def command_line(spec: ContainerSpec, image_config: dict[str, Any]) -> tuple[list[str] | None, list[str] | None]:
    """(Entrypoint, Cmd) by docker's rules: ``--entrypoint`` replaces ENTRYPOINT and drops the
    image's CMD; arguments after the image replace CMD; otherwise both come from the image."""
    entrypoint = spec.entrypoint
    cmd = list(spec.command) if spec.command else None
    if entrypoint is not None and entrypoint != []:
        return list(entrypoint), cmd
    if entrypoint == []:  # --entrypoint "": no entrypoint at all
        return None, cmd if cmd else (list(image_config.get("Cmd") or []) or None)
    image_entry = image_config.get("Entrypoint") or None
    if cmd is None:
        cmd = list(image_config.get("Cmd") or []) or None
    return (list(image_entry) if image_entry else None), cmd


def check_spec(spec: ContainerSpec) -> None:
    """Refuse what this engine cannot do, in one line each (before anything is created)."""
    from ..network.containers import endpoint_config, port_bindings
    from ..network.files import parse_add_host

    if not spec.network_mode or spec.network_mode == "container:":
        raise InvalidArgument(f"invalid network mode {spec.network_mode!r}")
    port_bindings(spec.publish)  # refuses a malformed -p before anything is created
    endpoint_config(spec.network_aliases, spec.ip, spec.mac_address)
    for entry in spec.extra_hosts:
        parse_add_host(entry, "0.0.0.0")
    if spec.auto_remove and spec.restart_policy.get("Name", "no") != "no":
        raise InvalidArgument("conflicting options: cannot specify both --restart and --rm")
    if spec.mem_limit and spec.mem_limit < 6 * 1024 * 1024:
        raise InvalidArgument("Minimum memory limit allowed is 6MB")
    if spec.mem_limit and spec.mem_reservation and spec.mem_reservation > spec.mem_limit:
        raise InvalidArgument("Minimum memory limit can not be less than memory reservation limit, see usage")
    if spec.nano_cpus:
        import os

        ncpu = os.cpu_count() or 1
        if spec.nano_cpus > ncpu * 1_000_000_000:
            raise InvalidArgument(
                f"range of CPUs is from 0.01 to {ncpu}.00, as there are only {ncpu} CPUs available"
            )
    if spec.stop_signal:
        from ..runtime.signals import parse_signal

        parse_signal(spec.stop_signal)


def build_config(spec: ContainerSpec, image_config: dict[str, Any], hostname: str) -> dict[str, Any]:
    """Config of config.v2.json: the image's settings merged under the user's, as docker does."""
    entrypoint, cmd = command_line(spec, image_config)
    attached = not spec.detach
    labels = dict(image_config.get("Labels") or {})
    labels.update(spec.labels)
    config: dict[str, Any] = {
        "Hostname": spec.hostname or hostname,
        "Domainname": spec.domainname,
        "User": spec.user or image_config.get("User") or "",
        "AttachStdin": spec.stdin_open and attached,
        "AttachStdout": attached,
        "AttachStderr": attached,
    }
    from ..network.containers import exposed_ports, port_bindings

    exposed = exposed_ports(spec.expose, port_bindings(spec.publish), image_config.get("ExposedPorts"))
    if exposed:
        config["ExposedPorts"] = exposed
    config.update({
        "Tty": spec.tty,
        "OpenStdin": spec.stdin_open,
        "StdinOnce": spec.stdin_open and attached,
        "Env": merge_env(list(image_config.get("Env") or []), spec.environment) or None,
        "Cmd": cmd,
        "Image": spec.image,
        "Volumes": dict(image_config.get("Volumes") or {}) or None,
        "WorkingDir": spec.working_dir or image_config.get("WorkingDir") or "",
        "Entrypoint": entrypoint,
        "OnBuild": None,
        "Labels": labels,
    })
    if spec.stop_signal or image_config.get("StopSignal"):
        config["StopSignal"] = spec.stop_signal or image_config["StopSignal"]
    if spec.stop_timeout is not None:
        config["StopTimeout"] = spec.stop_timeout
    if image_config.get("Healthcheck"):
        config["Healthcheck"] = image_config["Healthcheck"]
    return config


def build_host_config(spec: ContainerSpec, runtime: str) -> dict[str, Any]:
    from ..network.containers import port_bindings
    from .model import default_host_config

    host = default_host_config()
    binds = [v for v in spec.volumes if parse_volume(v)["Type"] == "bind" or parse_volume(v)["Source"]]
    host.update({
        "Binds": binds or None,
        "ContainerIDFile": spec.cidfile,
        "NetworkMode": spec.network_mode,
        "PortBindings": port_bindings(spec.publish),
        "PublishAllPorts": spec.publish_all_ports,
        "Dns": list(spec.dns),
        "DnsSearch": list(spec.dns_search),
        "DnsOptions": list(spec.dns_opt),
        "ExtraHosts": list(spec.extra_hosts) or None,
        "RestartPolicy": dict(spec.restart_policy),
        "AutoRemove": spec.auto_remove,
        "CapAdd": list(spec.cap_add) or None,
        "CapDrop": list(spec.cap_drop) or None,
        "Privileged": spec.privileged,
        "ReadonlyRootfs": spec.read_only,
        "SecurityOpt": list(spec.security_opt) or None,
        "Runtime": runtime,
        "Memory": spec.mem_limit,
        "MemoryReservation": spec.mem_reservation,
        "NanoCpus": spec.nano_cpus,
        "CpuShares": spec.cpu_shares,
        "PidsLimit": spec.pids_limit if spec.pids_limit else None,
        "Ulimits": list(spec.ulimits),
    })
    if spec.shm_size:
        host["ShmSize"] = spec.shm_size
    if spec.mem_limit:
        # docker's default swap: as much again as the memory limit
        host["MemorySwap"] = spec.memory_swap or spec.mem_limit * 2
    if spec.mounts:
        host["Mounts"] = [dict(m) for m in spec.mounts]
    if spec.tmpfs:
        host["Tmpfs"] = dict(spec.tmpfs)
    if spec.init is not None:
        host["Init"] = spec.init
    if spec.privileged:
        host["MaskedPaths"] = None
        host["ReadonlyPaths"] = None
    return host
