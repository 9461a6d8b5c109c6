"""The files docker writes beside a container at each start and binds over /etc in it:
``hostname``, ``hosts`` and ``resolv.conf``."""

from __future__ import annotations

import os

_LOCALHOST = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)

_FALLBACK_DNS = "nameserver 8.8.8.8\nnameserver 8.8.4.4\n"


def _read(path: str) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def resolv_conf(network: str, host_file: str = "/etc/resolv.conf") -> str:
    """The host's resolv.conf; without the host's network, loopback nameservers are dropped
    (they would point at the container itself), as docker does, falling back to public DNS."""
    text = _read(host_file)
    if network == "host":
        return text
    kept = []
    for line in text.splitlines():
        words = line.split()
        if words[:1] == ["nameserver"] and len(words) > 1 and (words[1].startswith("127.") or words[1] == "::1"):
            continue
        kept.append(line)
    out = "\n".join(kept).strip("\n") + "\n" if kept else ""
    if "nameserver" not in out:
        out += _FALLBACK_DNS
    return out


def write_files(container_dir: str, hostname: str, network: str, extra_hosts: list[str] | None = None) -> dict[str, str]:
    """Write the three files; return docker's path fields (HostnamePath, HostsPath, ResolvConfPath)."""
    paths = {name: os.path.join(container_dir, name) for name in ("hostname", "hosts", "resolv.conf")}
    if network == "host":
        hosts = _read("/etc/hosts") or _LOCALHOST
    else:
        hosts = _LOCALHOST
    for entry in extra_hosts or []:
        name, _, address = entry.partition(":")
        hosts += f"{address}\t{name}\n"
    contents = {"hostname": hostname + "\n", "hosts": hosts, "resolv.conf": resolv_conf(network)}
    for name, text in contents.items():
        tmp = paths[name] + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, paths[name])
    return {
        "HostnamePath": paths["hostname"],
        "HostsPath": paths["hosts"],
        "ResolvConfPath": paths["resolv.conf"],
    }
