"""A container's ``/etc/hosts`` and ``/etc/resolv.conf``, as docker writes them.

On a user-defined network the resolver is the embedded DNS server (``nameserver
127.0.0.11``); ``--dns`` servers then become its upstream (docker's "ExtServers"). On the
default bridge and host networks the container gets the host's resolvers, less loopback ones
that would not answer from inside the container (docker falls back to Google's then).
"""

from __future__ import annotations

from ..errors import InvalidArgument

BASE_HOSTS = (
    "127.0.0.1\tlocalhost\n"
    "::1\tlocalhost ip6-localhost ip6-loopback\n"
    "fe00::0\tip6-localnet\n"
    "ff00::0\tip6-mcastprefix\n"
    "ff02::1\tip6-allnodes\n"
    "ff02::2\tip6-allrouters\n"
)
FALLBACK_DNS = ("8.8.8.8", "8.8.4.4")


def parse_add_host(spec: str, host_gateway: str) -> tuple[str, str]:
    """``--add-host name:ip`` (or ``name=ip``); ``host-gateway`` is the host's address on
    the container's network (the bridge's gateway)."""
    sep = "=" if "=" in spec else ":"
    name, _, addr = spec.partition(sep)
    if not name or not addr:
        raise InvalidArgument(f"invalid argument {spec!r} for \"--add-host\" flag: bad format for add-host")
    if addr == "host-gateway":
        if not host_gateway:
            raise InvalidArgument("unable to derive the IP value for host-gateway")
        addr = host_gateway
    try:
        import ipaddress  # here: every run reads this module, few give --add-host

        ipaddress.ip_address(addr.strip("[]"))
    except ValueError:
        raise InvalidArgument(f"invalid IP address in add-host: {addr!r}") from None
    return name, addr.strip("[]")


def hosts_file(hostname: str, ip: str, extra: list[tuple[str, str]] = (), aliases: list[str] = ()) -> str:
    lines = [BASE_HOSTS]
    for name, addr in extra:
        lines.append(f"{addr}\t{name}\n")
    if ip:
        lines.append(f"{ip}\t{' '.join(dict.fromkeys([hostname, *aliases]))}\n")
    return "".join(lines)


def resolv_conf(
    embedded: bool,
    dns: list[str] = (),
    search: list[str] = (),
    options: list[str] = (),
    host_path: str = "/etc/resolv.conf",
) -> str:
    host_servers, host_search, host_options = _read(host_path)
    search = list(search) or host_search
    if embedded:
        upstream = list(dns) or host_servers
        out = ["nameserver 127.0.0.11"]
        if search:
            out.append("search " + " ".join(search))
        out.append("options " + " ".join(["ndots:0", *[o for o in (options or host_options) if not o.startswith("ndots:")]]))
        out.append(f"\n# ExtServers: [{' '.join('host(' + s + ')' for s in upstream)}]")
        return "\n".join(out) + "\n"
    servers = list(dns) or [s for s in host_servers if not _loopback(s)] or list(FALLBACK_DNS)
    out = [f"nameserver {s}" for s in servers]
    if search:
        out.append("search " + " ".join(search))
    if options or host_options:
        out.append("options " + " ".join(options or host_options))
    return "\n".join(out) + "\n"


def _loopback(addr: str) -> bool:
    try:
        import ipaddress

        return ipaddress.ip_address(addr).is_loopback
    except ValueError:
        return True


def _read(path: str) -> tuple[list[str], list[str], list[str]]:
    servers, search, options = [], [], []
    try:
        with open(path) as f:
            for line in f:
                parts = line.split()
                if not parts or parts[0].startswith(("#", ";")):
                    continue
                if parts[0] == "nameserver" and len(parts) > 1:
                    servers.append(parts[1])
                elif parts[0] in ("search", "domain"):
                    search = parts[1:]
                elif parts[0] == "options":
                    options += parts[1:]
    except OSError:
        pass
    return servers, search, options
