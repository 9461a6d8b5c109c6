"""The OCI runtime spec (``config.json``) of a container, as dockerd would give it to runc.

Docker's defaults: mount, pid, uts, ipc (and, unless ``--network host``, network) namespaces;
its 14 default capabilities; its default seccomp profile; /proc and /sys paths masked or made
read-only; a fresh /dev (tmpfs) with /dev/pts, /dev/shm, /dev/mqueue; the device cgroup
allow-list; cgroup limits from ``--memory``/``--cpus``/``--pids-limit``/…; the container's
hostname, hosts and resolv.conf files bind-mounted over the init layer's placeholders.
"""

from __future__ import annotations

import os

from ..errors import InvalidArgument

TYPE_CHECKING = False  # annotations only: the monitor imports this module at every start
if TYPE_CHECKING:
    from typing import Any

    from ..container.model import Container

DEFAULT_CAPS = [
    "CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER", "CAP_MKNOD", "CAP_NET_RAW",
    "CAP_SETGID", "CAP_SETUID", "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
    "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE",
]

DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

#: docker's device cgroup allow-list (after denying everything)
_DEVICE_RULES = [
    ("c", None, None, "m"), ("b", None, None, "m"),
    ("c", 1, 3, "rwm"), ("c", 1, 8, "rwm"), ("c", 1, 7, "rwm"), ("c", 5, 0, "rwm"),
    ("c", 1, 5, "rwm"), ("c", 1, 9, "rwm"), ("c", 136, None, "rwm"), ("c", 5, 2, "rwm"),
    ("c", 10, 200, "rwm"),
]

INIT_PATH = "/sbin/docker-init"


def all_capabilities() -> list[str]:
    """Every capability this kernel knows (``--privileged``, ``--cap-add ALL``)."""
    names = [
        "CHOWN", "DAC_OVERRIDE", "DAC_READ_SEARCH", "FOWNER", "FSETID", "KILL", "SETGID", "SETUID",
        "SETPCAP", "LINUX_IMMUTABLE", "NET_BIND_SERVICE", "NET_BROADCAST", "NET_ADMIN", "NET_RAW",
        "IPC_LOCK", "IPC_OWNER", "SYS_MODULE", "SYS_RAWIO", "SYS_CHROOT", "SYS_PTRACE", "SYS_PACCT",
        "SYS_ADMIN", "SYS_BOOT", "SYS_NICE", "SYS_RESOURCE", "SYS_TIME", "SYS_TTY_CONFIG", "MKNOD",
        "LEASE", "AUDIT_WRITE", "AUDIT_CONTROL", "SETFCAP", "MAC_OVERRIDE", "MAC_ADMIN", "SYSLOG",
        "WAKE_ALARM", "BLOCK_SUSPEND", "AUDIT_READ", "PERFMON", "BPF", "CHECKPOINT_RESTORE",
    ]
    try:
        with open("/proc/sys/kernel/cap_last_cap") as f:
            last = int(f.read())
        names = names[: last + 1]
    except (OSError, ValueError):
        pass
    return ["CAP_" + n for n in names]


def _cap_name(text: str) -> str:
    name = text.strip().upper()
    if name == "ALL":
        return name
    return name if name.startswith("CAP_") else "CAP_" + name


def capabilities(host: dict[str, Any]) -> list[str]:
    """docker's TweakCapabilities: defaults, plus --cap-add, minus --cap-drop (ALL allowed)."""
    known = all_capabilities()
    if host.get("Privileged"):
        return known
    adds = [_cap_name(c) for c in host.get("CapAdd") or []]
    drops = [_cap_name(c) for c in host.get("CapDrop") or []]
    for cap in adds + drops:
        if cap != "ALL" and cap not in known:
            raise InvalidArgument(f"unknown capability: \"{cap}\"")
    caps = list(DEFAULT_CAPS)
    if "ALL" in drops:
        caps = []
    else:
        caps = [c for c in caps if c not in drops]
    if "ALL" in adds:
        caps = [c for c in known if c not in drops or "ALL" in drops and c in adds]
    for cap in adds:
        if cap != "ALL" and cap not in caps:
            caps.append(cap)
    return caps


def _read_db(root: str, name: str) -> list[list[str]]:
    try:
        with open(os.path.join(root, "etc", name), encoding="utf-8", errors="replace") as f:
            return [line.rstrip("\n").split(":") for line in f if line.strip() and not line.startswith("#")]
    except OSError:
        return []


def resolve_user(rootfs: str, user: str) -> tuple[int, int, list[int], str]:
    """``name|uid[:group|gid]`` in the image's /etc/passwd and /etc/group → (uid, gid, groups, home)."""
    passwd = _read_db(rootfs, "passwd")
    group = _read_db(rootfs, "group")
    who, _, grp = (user or "0").partition(":")
    uid = gid = 0
    home = "/"
    name = ""
    entry = next((p for p in passwd if len(p) >= 4 and (p[0] == who or p[2] == who)), None)
    if entry is not None:
        name, uid, gid = entry[0], int(entry[2]), int(entry[3])
        home = entry[5] if len(entry) > 5 and entry[5] else "/"
    elif who.isdigit():
        uid = int(who)
    else:
        raise InvalidArgument(f"unable to find user {who}: no matching entries in passwd file")
    if grp:
        g = next((e for e in group if len(e) >= 3 and (e[0] == grp or e[2] == grp)), None)
        if g is not None:
            gid = int(g[2])
        elif grp.isdigit():
            gid = int(grp)
        else:
            raise InvalidArgument(f"unable to find group {grp}: no matching entries in group file")
    extra = []
    if name and not grp:
        for g in group:
            if len(g) >= 4 and name in g[3].split(",") and int(g[2]) != gid:
                extra.append(int(g[2]))
    return uid, gid, extra, home


def process_env(c: Container, home: str) -> list[str]:
    env = list(c.config.get("Env") or [])
    names = {e.partition("=")[0] for e in env}
    base = []
    if "PATH" not in names:
        base.append(f"PATH={DEFAULT_PATH}")
    base.append(f"HOSTNAME={c.config.get('Hostname') or c.id[:12]}")
    if c.config.get("Tty") and "TERM" not in names:
        base.append("TERM=xterm")
    if "HOME" not in names:
        base.append(f"HOME={home}")
    return base + env


def _devices(privileged: bool) -> list[dict[str, Any]]:
    if privileged:
        return [{"allow": True, "access": "rwm"}]
    rules = [{"allow": False, "access": "rwm"}]
    for kind, major, minor, access in _DEVICE_RULES:
        rule: dict[str, Any] = {"allow": True, "type": kind, "access": access}
        if major is not None:
            rule["major"] = major
        if minor is not None:
            rule["minor"] = minor
        rules.append(rule)
    return rules


def resources(host: dict[str, Any], privileged: bool = False) -> dict[str, Any]:
    """linux.resources from HostConfig (memory, cpu, pids): also what ``update`` sends runc."""
    res: dict[str, Any] = {"devices": _devices(privileged)}
    memory: dict[str, Any] = {}
    if host.get("Memory"):
        memory["limit"] = host["Memory"]
        swap = host.get("MemorySwap") or 0
        if swap:
            memory["swap"] = swap
    if host.get("MemoryReservation"):
        memory["reservation"] = host["MemoryReservation"]
    if host.get("MemorySwappiness") is not None:
        memory["swappiness"] = host["MemorySwappiness"]
    if memory:
        res["memory"] = memory
    cpu: dict[str, Any] = {}
    if host.get("NanoCpus"):
        cpu["period"] = 100_000
        cpu["quota"] = host["NanoCpus"] * 100_000 // 1_000_000_000
    if host.get("CpuShares"):
        cpu["shares"] = host["CpuShares"]
    if host.get("CpuQuota"):
        cpu["quota"] = host["CpuQuota"]
    if host.get("CpuPeriod"):
        cpu["period"] = host["CpuPeriod"]
    if host.get("CpusetCpus"):
        cpu["cpus"] = host["CpusetCpus"]
    if cpu:
        res["cpu"] = cpu
    pids = host.get("PidsLimit")
    if pids:
        res["pids"] = {"limit": pids}
    return res


def _rlimits(host: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {"type": "RLIMIT_" + u["Name"].upper(), "hard": int(u["Hard"]), "soft": int(u["Soft"])}
        for u in host.get("Ulimits") or []
    ]


def _security(host: dict[str, Any]) -> tuple[bool, str]:
    """(no_new_privileges, seccomp: "default" | "unconfined" | a file path)."""
    nnp, seccomp = False, "default"
    for opt in host.get("SecurityOpt") or []:
        key, sep, value = opt.partition("=") if "=" in opt else opt.partition(":")
        if key == "no-new-privileges":
            nnp = value.lower() not in ("false", "0") if sep else True
        elif key == "seccomp":
            seccomp = value
        elif key in ("apparmor", "label", "systempaths"):
            continue
        else:
            raise InvalidArgument(f"invalid --security-opt: {opt!r}")
    return nnp, seccomp


def build_spec(c: Container, rootfs: str, container_dir: str, extra_mounts: list[dict[str, Any]],
               init_binary: str | None = None) -> dict[str, Any]:
    host = c.host_config
    privileged = bool(host.get("Privileged"))
    uid, gid, groups, home = resolve_user(rootfs, c.config.get("User") or "")
    caps = capabilities(host)
    nnp, seccomp_choice = _security(host)
    args = [c.path, *c.args]
    if host.get("Init"):
        if not init_binary:
            raise InvalidArgument("--init needs docker-init (tini): apt-get install docker.io or tini")
        args = [INIT_PATH, "--", *args]
    network = host.get("NetworkMode") or "none"
    process = {
        "terminal": bool(c.config.get("Tty")),
        "user": {"uid": uid, "gid": gid, **({"additionalGids": groups} if groups else {})},
        "args": args,
        "env": process_env(c, home),
        "cwd": c.config.get("WorkingDir") or "/",
        "capabilities": {"bounding": caps, "effective": caps, "permitted": caps},
        "rlimits": _rlimits(host),
        "noNewPrivileges": nnp,
        "oomScoreAdj": host.get("OomScoreAdj") or 0,
    }
    shm = host.get("ShmSize") or 67108864
    mounts = [
        {"destination": "/proc", "type": "proc", "source": "proc", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev", "type": "tmpfs", "source": "tmpfs", "options": ["nosuid", "strictatime", "mode=755", "size=65536k"]},
        {"destination": "/dev/pts", "type": "devpts", "source": "devpts", "options": ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", "gid=5"]},
        {"destination": "/sys", "type": "sysfs", "source": "sysfs", "options": ["nosuid", "noexec", "nodev", "rw" if privileged else "ro"]},
        {"destination": "/sys/fs/cgroup", "type": "cgroup", "source": "cgroup", "options": ["ro", "nosuid", "noexec", "nodev"]},
        {"destination": "/dev/mqueue", "type": "mqueue", "source": "mqueue", "options": ["nosuid", "noexec", "nodev"]},
        {"destination": "/dev/shm", "type": "tmpfs", "source": "shm", "options": ["nosuid", "noexec", "nodev", "mode=1777", f"size={shm}"]},
    ]
    user_targets = {m["destination"] for m in extra_mounts}
    for name in ("resolv.conf", "hostname", "hosts"):
        if f"/etc/{name}" in user_targets:
            continue
        opts = ["rbind", "rprivate"]
        if host.get("ReadonlyRootfs"):
            opts.append("ro")
        mounts.append({"destination": f"/etc/{name}", "type": "bind", "source": os.path.join(container_dir, name), "options": opts})
    mounts.extend(extra_mounts)
    if host.get("Init") and init_binary:
        mounts.append({"destination": INIT_PATH, "type": "bind", "source": init_binary, "options": ["bind", "ro"]})
    namespaces = [{"type": "mount"}, {"type": "uts"}, {"type": "pid"}, {"type": "ipc"}]
    if network.startswith("container:"):
        from ..network.containers import shared_netns

        namespaces.append({"type": "network", "path": shared_netns(os.path.dirname(container_dir), network[10:])})
    elif network != "host":
        namespaces.append({"type": "network"})
    linux: dict[str, Any] = {
        "resources": resources(host, privileged),
        "cgroupsPath": f"/lamina/{c.id}",
        "namespaces": namespaces,
    }
    if not privileged:
        linux["maskedPaths"] = list(host.get("MaskedPaths") or [])
        linux["readonlyPaths"] = list(host.get("ReadonlyPaths") or [])
        if seccomp_choice == "default":
            from .seccomp import default_profile

            linux["seccomp"] = default_profile(set(caps))
        elif seccomp_choice != "unconfined":
            import json

            from .seccomp import docker_profile_to_oci

            try:
                with open(seccomp_choice, encoding="utf-8") as f:
                    profile = json.load(f)
            except (OSError, ValueError) as exc:
                raise InvalidArgument(f"opening seccomp profile ({seccomp_choice}) failed: {exc}") from None
            linux["seccomp"] = docker_profile_to_oci(profile, set(caps))
    hostname = c.config.get("Hostname") or c.id[:12]
    if network == "host":
        import socket

        hostname = socket.gethostname()
    spec = {
        "ociVersion": "1.0.2-dev",
        "process": process,
        "root": {"path": rootfs, "readonly": bool(host.get("ReadonlyRootfs"))},
        "hostname": hostname,
        "mounts": mounts,
        "linux": linux,
    }
    return spec
