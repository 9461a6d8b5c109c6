"""The network store: JSON files under ``<data-root>/network/``.

Docker keeps networks in a bolt database (``network/files/local-kv.db``) that lamina cannot
write safely from many short-lived processes, so lamina keeps one small JSON file per record
instead, each replaced atomically (temp file, fsync, rename) and changed under the store lock::

    network/
      networks/<network-id>.json              the network (model.Network.to_json)
      endpoints/<network-id>/<container-id>.json   one container's attachment (model.Endpoint)
      ipam/<network-id>/<address>             address leases (ipam.Leases), host-local's form
      ports/<proto>-<port>                    published host ports (ipam.PortClaims)
      dns/                                    the embedded DNS server's socket and pid file

Networks outlive a reboot here; their bridges and iptables rules do not, and are made again
on first use (``bridge.ensure_network``).
"""

from __future__ import annotations

import os

from .. import jsonc
from ..errors import NotFound, StoreCorrupt
from ..store.atomic import unlink_quietly, write_text
from .model import Endpoint, Network

# ``network ls`` reads this on the lean path (cli/lean/networks.py): the address and port
# claims (``ipam``: ipaddress, random, socket) and json's writer load when used
TYPE_CHECKING = False
if TYPE_CHECKING:  # annotations only
    from .ipam import Leases, PortClaims


class NetworkStore:
    def __init__(self, root: str, create: bool = True) -> None:
        """``create=False``: only read what is there (the directories are made by the first
        writer; ``networks`` raises FileNotFoundError before that)."""
        self.root = os.path.join(root, "network")
        self.networks_dir = os.path.join(self.root, "networks")
        self.endpoints_dir = os.path.join(self.root, "endpoints")
        self.ipam_dir = os.path.join(self.root, "ipam")
        self.dns_dir = os.path.join(self.root, "dns")
        self._ports = None
        for d in (self.networks_dir, self.endpoints_dir, self.ipam_dir, self.dns_dir) if create else ():
            os.makedirs(d, exist_ok=True)

    @property
    def ports(self) -> PortClaims:
        """Published host ports (``ipam.PortClaims``)."""
        if self._ports is None:
            from .ipam import PortClaims

            self._ports = PortClaims(os.path.join(self.root, "ports"))
        return self._ports

    # networks ------------------------------------------------------------------------------
    def _network_path(self, network_id: str) -> str:
        return os.path.join(self.networks_dir, f"{network_id}.json")

    def networks(self) -> list[Network]:
        out = []
        for name in sorted(os.listdir(self.networks_dir)):
            if name.endswith(".json") and not name.startswith("."):
                try:
                    out.append(self._read_network(os.path.join(self.networks_dir, name)))
                except FileNotFoundError:
                    continue  # removed meanwhile
        return out

    def _read_network(self, path: str) -> Network:
        try:
            with open(path, "rb") as f:
                return Network.from_json(jsonc.loads(f.read()))
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreCorrupt(f"damaged network record {path}: {exc}") from None

    def get(self, network_id: str) -> Network:
        try:
            return self._read_network(self._network_path(network_id))
        except FileNotFoundError:
            raise NotFound(f"network {network_id} not found") from None

    def save(self, network: Network) -> None:
        import json

        write_text(self._network_path(network.id), json.dumps(network.to_json(), indent=1))

    def delete(self, network_id: str) -> None:
        """Forget a network: record first, then its leftovers (a crash between leaves only
        directories that ``system check`` finds without an owner)."""
        unlink_quietly(self._network_path(network_id))
        import shutil

        shutil.rmtree(os.path.join(self.endpoints_dir, network_id), ignore_errors=True)
        shutil.rmtree(os.path.join(self.ipam_dir, network_id), ignore_errors=True)

    # endpoints -----------------------------------------------------------------------------
    def leases(self, network_id: str) -> Leases:
        from .ipam import Leases

        return Leases(os.path.join(self.ipam_dir, network_id))

    def endpoints(self, network_id: str) -> list[Endpoint]:
        d = os.path.join(self.endpoints_dir, network_id)
        try:
            names = sorted(os.listdir(d))
        except FileNotFoundError:
            return []
        out = []
        for name in names:
            if name.endswith(".json") and not name.startswith("."):
                ep = self._read_endpoint(os.path.join(d, name))
                if ep:
                    out.append(ep)
        return out

    def all_endpoints(self) -> list[Endpoint]:
        return [ep for nid in sorted(os.listdir(self.endpoints_dir)) for ep in self.endpoints(nid)]

    def endpoint(self, network_id: str, container_id: str) -> Endpoint | None:
        return self._read_endpoint(os.path.join(self.endpoints_dir, network_id, f"{container_id}.json"))

    def _read_endpoint(self, path: str) -> Endpoint | None:
        try:
            with open(path, "rb") as f:
                return Endpoint.from_json(jsonc.loads(f.read()))
        except FileNotFoundError:
            return None
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreCorrupt(f"damaged endpoint record {path}: {exc}") from None

    def save_endpoint(self, ep: Endpoint) -> None:
        d = os.path.join(self.endpoints_dir, ep.network_id)
        os.makedirs(d, exist_ok=True)
        # not fsynced: the record finds what a killed process left; after a power loss there
        # is nothing left to find (links, rules and namespaces die with the kernel), and a
        # record lost with it leaves only a lease whose owner reconciliation sees dead
        import json

        write_text(os.path.join(d, f"{ep.container_id}.json"), json.dumps(ep.to_json(), indent=1), durable=False)

    def delete_endpoint(self, network_id: str, container_id: str) -> None:
        unlink_quietly(os.path.join(self.endpoints_dir, network_id, f"{container_id}.json"))

    def stamp(self) -> float:
        """Changes when any endpoint or network changes (the DNS server reloads on it)."""
        latest = os.stat(self.networks_dir).st_mtime
        for nid in os.listdir(self.endpoints_dir):
            try:
                latest = max(latest, os.stat(os.path.join(self.endpoints_dir, nid)).st_mtime)
            except FileNotFoundError:
                pass
        return latest
