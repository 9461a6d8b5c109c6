"""A container as docker stores it: ``config.v2.json`` and ``hostconfig.json``, in and out.

These two files are the interface between lamina and anything else that reads a data root
(a dockerd started on it, lamina's own ``diff``/``commit``/``export``): field names, order and
value shapes are docker's (moby ``container.Container`` and ``container.HostConfig``). Keys
lamina does not know are kept as they were read, so a container dockerd wrote survives a
lamina ``rename`` or ``start`` unchanged in everything lamina did not touch.

Only ``time`` is imported at load (``ps`` and the lifecycle commands import this on their lean
paths; the files are read and written with ``lamina.jsonc``, json's C parts without ``json``):
``State`` and ``Container`` are plain mutable classes, not dataclasses, whose import costs ~10 ms
of every command (``lamina.value`` says why).
"""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from typing import Any

#: Go's zero time.Time as docker serialises it (StartedAt of a container never started)
ZERO_TIME = "0001-01-01T00:00:00Z"


def rfc3339nano(ns: int | None = None) -> str:
    """Go's RFC3339Nano in UTC: nanoseconds without trailing zeros, ``Z``."""
    ns = time.time_ns() if ns is None else ns
    secs, frac = divmod(ns, 1_000_000_000)
    base = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(secs))
    digits = f"{frac:09d}".rstrip("0")
    return f"{base}.{digits}Z" if digits else f"{base}Z"


def parse_rfc3339(text: str) -> float:
    """Seconds since the epoch of an RFC 3339 time (docker's, any offset); 0.0 for the zero time."""
    if not text or text.startswith("0001-01-01"):
        return 0.0
    date, _, rest = text.partition("T")
    zone_at = max(rest.find("Z"), rest.find("+"), rest.rfind("-"))
    clock, zone = (rest[:zone_at], rest[zone_at:]) if zone_at > 0 else (rest, "Z")
    hms, _, frac = clock.partition(".")
    y, mo, d = (int(x) for x in date.split("-"))
    h, mi, s = (int(x) for x in hms.split(":"))
    seconds = _days_since_epoch(y, mo, d) * 86400 + h * 3600 + mi * 60 + s + (float("0." + frac) if frac else 0.0)
    if zone not in ("Z", "z", ""):
        sign = 1 if zone[0] == "+" else -1
        zh, _, zm = zone[1:].partition(":")
        seconds -= sign * (int(zh) * 3600 + int(zm or 0) * 60)
    return seconds


def _days_since_epoch(y: int, m: int, d: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (``calendar.timegm``'s arithmetic,
    without importing calendar, datetime and locale on ``ps``'s path)."""
    y -= m <= 2
    era = y // 400
    year_of_era = y - era * 400
    day_of_year = (153 * (m + (-3 if m > 2 else 9)) + 2) // 5 + d - 1
    day_of_era = year_of_era * 365 + year_of_era // 4 - year_of_era // 100 + day_of_year
    return era * 146097 + day_of_era - 719468


class State:
    """``State`` of config.v2.json."""

    __slots__ = ("running", "paused", "restarting", "oom_killed", "removal_in_progress", "dead", "pid",
                 "exit_code", "error", "started_at", "finished_at", "health")

    def __init__(self, running: bool = False, paused: bool = False, restarting: bool = False,
                 oom_killed: bool = False, removal_in_progress: bool = False, dead: bool = False, pid: int = 0,
                 exit_code: int = 0, error: str = "", started_at: str = ZERO_TIME, finished_at: str = ZERO_TIME,
                 health: Any = None) -> None:
        self.running = running
        self.paused = paused
        self.restarting = restarting
        self.oom_killed = oom_killed
        self.removal_in_progress = removal_in_progress
        self.dead = dead
        self.pid = pid
        self.exit_code = exit_code
        self.error = error
        self.started_at = started_at
        self.finished_at = finished_at
        self.health = health

    _KEYS = (
        ("Running", "running"), ("Paused", "paused"), ("Restarting", "restarting"),
        ("OOMKilled", "oom_killed"), ("RemovalInProgress", "removal_in_progress"), ("Dead", "dead"),
        ("Pid", "pid"), ("ExitCode", "exit_code"), ("Error", "error"),
        ("StartedAt", "started_at"), ("FinishedAt", "finished_at"), ("Health", "health"),
    )

    @classmethod
    def from_json(cls, doc: dict[str, Any] | None) -> State:
        doc = doc or {}
        state = cls()
        for key, attr in cls._KEYS:
            if key in doc and doc[key] is not None:
                setattr(state, attr, doc[key])
        return state

    def to_json(self) -> dict[str, Any]:
        return {key: getattr(self, attr) for key, attr in self._KEYS}

    @property
    def status(self) -> str:
        """docker's State.Status word: created, running, paused, restarting, removing, exited, dead."""
        if self.running:
            if self.paused:
                return "paused"
            if self.restarting:
                return "restarting"
            return "running"
        if self.removal_in_progress:
            return "removing"
        if self.dead:
            return "dead"
        if self.started_at == ZERO_TIME or not self.started_at:
            return "created"
        return "exited"

    def inspect(self) -> dict[str, Any]:
        doc = {"Status": self.status}
        for key, attr in self._KEYS:
            if key == "Health" and self.health is None:
                continue
            doc[key] = getattr(self, attr)
        return doc


# config.v2.json: docker's keys in docker's order, each with its attribute and default
_CONTAINER_KEYS: tuple[tuple[str, str], ...] = (
    ("ID", "id"), ("Created", "created"), ("Managed", "managed"), ("Path", "path"), ("Args", "args"),
    ("Config", "config"), ("Image", "image"), ("NetworkSettings", "network_settings"),
    ("LogPath", "log_path"), ("Name", "name"), ("Driver", "driver"), ("OS", "os"),
    ("MountLabel", "mount_label"), ("ProcessLabel", "process_label"), ("RestartCount", "restart_count"),
    ("HasBeenStartedBefore", "has_been_started_before"),
    ("HasBeenManuallyStopped", "has_been_manually_stopped"), ("MountPoints", "mount_points"),
    ("SecretReferences", "secret_references"), ("ConfigReferences", "config_references"),
    ("AppArmorProfile", "app_armor_profile"), ("HostnamePath", "hostname_path"),
    ("HostsPath", "hosts_path"), ("ShmPath", "shm_path"), ("ResolvConfPath", "resolv_conf_path"),
    ("SeccompProfile", "seccomp_profile"), ("NoNewPrivileges", "no_new_privileges"),
)


#: the other fields and their defaults (a callable makes a fresh one for each container)
_DEFAULTS: tuple[tuple[str, Any], ...] = (
    ("managed", False), ("network_settings", dict), ("log_path", ""), ("os", "linux"), ("mount_label", ""),
    ("process_label", ""), ("restart_count", 0), ("has_been_started_before", False),
    ("has_been_manually_stopped", False), ("mount_points", dict), ("secret_references", None),
    ("config_references", None), ("app_armor_profile", ""), ("hostname_path", ""), ("hosts_path", ""),
    ("shm_path", ""), ("resolv_conf_path", ""), ("seccomp_profile", ""), ("no_new_privileges", False),
)
_UNSET = object()


class Container:
    """One container: config.v2.json's fields plus its hostconfig.json (``host_config``)."""

    __slots__ = ("id", "created", "path", "args", "config", "image", "name", "driver", "host_config", "state",
                 *(attr for attr, _ in _DEFAULTS), "extra")

    def __init__(self, id: str, created: str, path: str, args: list[str], config: dict[str, Any], image: str,
                 name: str, driver: str, host_config: dict[str, Any], state: State | None = None,
                 extra: dict[str, Any] | None = None, **fields: Any) -> None:
        self.id = id
        self.created = created
        self.path = path
        self.args = args
        self.config = config
        self.image = image
        self.name = name
        self.driver = driver
        self.host_config = host_config
        self.state = State() if state is None else state
        #: keys of config.v2.json lamina does not model (StreamConfig, LocalLogCacheMeta, …): kept
        self.extra = {} if extra is None else extra
        for attr, default in _DEFAULTS:
            value = fields.pop(attr, _UNSET)
            setattr(self, attr, (default() if callable(default) else default) if value is _UNSET else value)
        if fields:
            raise TypeError(f"Container() got unexpected fields: {', '.join(sorted(fields))}")

    # identity ------------------------------------------------------------------------------
    @property
    def short_id(self) -> str:
        return self.id[:12]

    @property
    def bare_name(self) -> str:
        """The name without docker's leading slash."""
        return self.name[1:] if self.name.startswith("/") else self.name

    @property
    def command(self) -> str:
        """Path and arguments as one line, as ``ps`` shows them (shell-quoted where needed)."""
        return " ".join(_shell_quote(word) for word in [self.path, *self.args] if word is not None)

    @property
    def labels(self) -> dict[str, str]:
        return self.config.get("Labels") or {}

    @property
    def image_name(self) -> str:
        """What the user asked for (Config.Image), as ``ps`` shows it."""
        return self.config.get("Image") or self.image

    @property
    def restart_policy(self) -> dict[str, Any]:
        return self.host_config.get("RestartPolicy") or {"Name": "no", "MaximumRetryCount": 0}

    # JSON ----------------------------------------------------------------------------------
    @classmethod
    def from_json(cls, doc: dict[str, Any], host_config: dict[str, Any] | None = None) -> Container:
        doc = dict(doc)
        state = State.from_json(doc.pop("State", None))
        stream = doc.pop("StreamConfig", {})
        values: dict[str, Any] = {}
        for key, attr in _CONTAINER_KEYS:
            if key in doc:
                values[attr] = doc.pop(key)
        values.setdefault("id", "")
        values.setdefault("created", ZERO_TIME)
        values.setdefault("path", "")
        values["args"] = values.get("args") or []
        values["config"] = values.get("config") or {}
        values.setdefault("image", "")
        values.setdefault("name", "")
        values.setdefault("driver", "")
        values["network_settings"] = values.get("network_settings") or {}
        values["mount_points"] = values.get("mount_points") or {}
        extra = {"StreamConfig": stream, **doc}
        return cls(state=state, host_config=dict(host_config or {}), extra=extra, **values)

    def to_json(self) -> dict[str, Any]:
        """config.v2.json's document, keys in docker's order (StreamConfig, State, ID, …)."""
        extra = dict(self.extra)
        doc: dict[str, Any] = {"StreamConfig": extra.pop("StreamConfig", {}), "State": self._state_json()}
        for key, attr in _CONTAINER_KEYS:
            doc[key] = getattr(self, attr)
        doc.update(extra)
        doc.setdefault("LocalLogCacheMeta", {"HaveNotifyEnabled": False})
        return doc

    def _state_json(self) -> dict[str, Any]:
        doc = self.state.to_json()
        # docker's State carries RemovalInProgress after Dead's neighbours in its own order
        return {
            "Running": doc["Running"], "Paused": doc["Paused"], "Restarting": doc["Restarting"],
            "OOMKilled": doc["OOMKilled"], "RemovalInProgress": doc["RemovalInProgress"],
            "Dead": doc["Dead"], "Pid": doc["Pid"], "ExitCode": doc["ExitCode"], "Error": doc["Error"],
            "StartedAt": doc["StartedAt"], "FinishedAt": doc["FinishedAt"], "Health": doc["Health"],
        }

    def config_bytes(self) -> bytes:
        from ..jsonc import dumps_compact

        return dumps_compact(self.to_json()).encode()

    def host_config_bytes(self) -> bytes:
        from ..jsonc import dumps_compact

        return dumps_compact(self.host_config).encode()


def _shell_quote(word: str) -> str:
    """shlex.quote without importing shlex (and re) on the ``ps`` path."""
    if word and all(c.isalnum() or c in "@%+=:,./-_" for c in word):
        return word
    return "'" + word.replace("'", "'\"'\"'") + "'"


# hostconfig.json ---------------------------------------------------------------------------
MASKED_PATHS = [
    "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
    "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi", "/sys/firmware",
]
READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"]


def default_host_config() -> dict[str, Any]:
    """hostconfig.json of a container created with no flags, as dockerd 28 writes it."""
    return {
        "Binds": None,
        "ContainerIDFile": "",
        "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": "none",
        "PortBindings": {},
        "RestartPolicy": {"Name": "no", "MaximumRetryCount": 0},
        "AutoRemove": False,
        "VolumeDriver": "",
        "VolumesFrom": None,
        "CapAdd": None,
        "CapDrop": None,
        "CgroupnsMode": "host",
        "Dns": [],
        "DnsOptions": [],
        "DnsSearch": [],
        "ExtraHosts": None,
        "GroupAdd": None,
        "IpcMode": "private",
        "Cgroup": "",
        "Links": None,
        "OomScoreAdj": 0,
        "PidMode": "",
        "Privileged": False,
        "PublishAllPorts": False,
        "ReadonlyRootfs": False,
        "SecurityOpt": None,
        "UTSMode": "",
        "UsernsMode": "",
        "ShmSize": 67108864,
        "Runtime": "runc",
        "ConsoleSize": [0, 0],
        "Isolation": "",
        "CpuShares": 0,
        "Memory": 0,
        "NanoCpus": 0,
        "CgroupParent": "",
        "BlkioWeight": 0,
        "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": [],
        "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [],
        "BlkioDeviceWriteIOps": [],
        "CpuPeriod": 0,
        "CpuQuota": 0,
        "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0,
        "CpusetCpus": "",
        "CpusetMems": "",
        "Devices": [],
        "DeviceCgroupRules": None,
        "DeviceRequests": None,
        "KernelMemory": 0,
        "KernelMemoryTCP": 0,
        "MemoryReservation": 0,
        "MemorySwap": 0,
        "MemorySwappiness": None,
        "OomKillDisable": False,
        "PidsLimit": None,
        "Ulimits": [],
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "MaskedPaths": list(MASKED_PATHS),
        "ReadonlyPaths": list(READONLY_PATHS),
    }


def default_network_settings(mode: str) -> dict[str, Any]:
    """NetworkSettings of a container on ``mode`` (none/host) before it starts."""
    endpoint = {
        "IPAMConfig": None, "Links": None, "Aliases": None, "NetworkID": "", "EndpointID": "",
        "Gateway": "", "IPAddress": "", "IPPrefixLen": 0, "IPv6Gateway": "", "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0, "MacAddress": "", "DriverOpts": None, "IPAMOperational": False,
    }
    return {
        "Bridge": "", "SandboxID": "", "HairpinMode": False, "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0, "Networks": {mode: endpoint}, "Service": None, "Ports": None,
        "SandboxKey": "", "SecondaryIPAddresses": None, "SecondaryIPv6Addresses": None,
        "IsAnonymousEndpoint": False, "HasSwarmEndpoint": False,
    }
