"""Where an image reference is fetched from and pushed to: its registry, mirrors first.

A ``docker.io`` name is pulled from each ``registry-mirrors`` entry in turn, then from Docker
Hub itself, as docker does (a mirror that fails in any way passes the pull on). Pushes always
go to the reference's own registry. Each source gets its registry's own credentials only.
"""

from __future__ import annotations

from dataclasses import dataclass

from ...reference import DEFAULT_DOMAIN, Reference
from .api import Repository
from .credentials import lookup
from .daemon_config import DaemonConfig, load_daemon_config
from .tokens import TokenCache
from .transport import Session, registry_host

__all__ = ["Source", "pull_sources", "push_repository", "session_for"]

#: Docker Hub is not reachable from everywhere: fail in seconds, not minutes
HUB_CONNECT_TIMEOUT = 5.0


@dataclass
class Source:
    repository: Repository
    mirror: bool

    def close(self) -> None:
        self.repository.session.close()


def session_for(server: str, config: DaemonConfig | None = None, *, credentials_key: str | None = None) -> Session:
    config = config or load_daemon_config()
    host = server.split("://", 1)[-1].rstrip("/")
    timeout = HUB_CONNECT_TIMEOUT if host == registry_host(DEFAULT_DOMAIN) else 10.0
    return Session(server, config, lookup(credentials_key or host), connect_timeout=timeout,
                   token_cache=TokenCache.beside_credentials())


def pull_sources(ref: Reference, config: DaemonConfig | None = None) -> list[Source]:
    config = config or load_daemon_config()
    out = []
    if ref.domain == DEFAULT_DOMAIN:
        out += [Source(Repository(session_for(m, config), ref.path), True) for m in config.registry_mirrors]
        out.append(Source(Repository(session_for(registry_host(ref.domain), config, credentials_key="docker.io"), ref.path), False))
    else:
        out.append(Source(Repository(session_for(ref.domain, config), ref.path), False))
    return out


def push_repository(ref: Reference, config: DaemonConfig | None = None) -> Repository:
    config = config or load_daemon_config()
    key = "docker.io" if ref.domain == DEFAULT_DOMAIN else ref.domain
    return Repository(session_for(registry_host(ref.domain), config, credentials_key=key), ref.path)
