"""Container networks: docker's bridge/host/none/container: drivers without a daemon.

What lives where (see ``docs/architecture.md``, "Networks"):

* ``model``     frozen records: Network, Endpoint, PortBinding; docker's inspect shapes
* ``ports``     ``-p``/``--publish`` grammar (pure)
* ``ipam``      subnet choice and host-local-style address leases (one O_EXCL file per address)
* ``store``     the JSON store under ``<data-root>/network/`` (atomic writes, the store lock)
* ``netlink``   a minimal rtnetlink client: links, veths, addresses, routes (no ``ip`` execs)
* ``netns``     entering a container's network namespace for one socket
* ``firewall``  lamina's iptables chains (one ``iptables-restore`` per change, rules tagged)
* ``bridge``    the data plane: bridge, veth pair, addresses, NAT, published ports
* ``dns``       the embedded DNS server (127.0.0.11 in every container on a user network)
* ``files``     /etc/hosts and /etc/resolv.conf for a container
* ``service``   NetworkService (``engine.networks``): create/ls/inspect/rm/prune, attach/detach
"""


def __getattr__(name: str):
    # the seam ``container.netattach`` calls, imported only when a container uses a network
    if name in ("attach_container", "detach_container"):
        from . import containers

        return getattr(containers, name)
    raise AttributeError(f"module 'lamina.network' has no attribute {name!r}")
