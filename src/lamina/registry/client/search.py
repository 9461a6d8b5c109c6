"""``search``: repositories on a registry whose names match a term.

``docker search host:5000/TERM`` asks the registry's ``/v1/search`` (Docker Hub's index API;
``lamina registry serve`` has it); a registry without it (the CNCF one) is searched through
``/v2/_catalog``, matching names that contain the term. A term without a registry searches
Docker Hub's index, as docker does.
"""

from __future__ import annotations

import json
from contextlib import closing
from dataclasses import dataclass
from urllib.parse import urlencode

from ...errors import InvalidArgument
from .daemon_config import DaemonConfig, load_daemon_config
from .sources import session_for
from .transport import Session

__all__ = ["SearchResult", "search", "split_term"]

HUB_INDEX = "index.docker.io"
_CATALOG_PAGE = 1000


@dataclass(frozen=True)
class SearchResult:
    """One row, with docker's template field names (``{{.Name}}``, ``{{.StarCount}}``…)."""

    Name: str
    Description: str = ""
    StarCount: int = 0
    IsOfficial: bool = False
    IsAutomated: bool = False


def split_term(term: str) -> tuple[str, str]:
    """(registry host, query): ``localhost:5000/bus`` → (``localhost:5000``, ``bus``)."""
    first, sep, rest = term.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        return first, rest
    return HUB_INDEX, term


def search(term: str, limit: int = 25, config: DaemonConfig | None = None) -> list[SearchResult]:
    if not 1 <= limit <= 100:
        raise InvalidArgument("Limit 0 is outside the range of [1, 100]" if limit == 0 else f"Limit {limit} is outside the range of [1, 100]")
    host, query = split_term(term)
    config = config or load_daemon_config()
    with session_for(host, config) as session:
        found = _v1_search(session, query, limit)
        if found is None:
            found = _catalog_search(session, query)
    return found[:limit]


def _v1_search(session: Session, query: str, limit: int) -> list[SearchResult] | None:
    response = session.request("GET", "/v1/search?" + urlencode({"q": query, "n": limit}))
    with closing(response):
        if response.status_code != 200:
            return None
        try:
            doc = json.loads(response.read())
            rows = doc["results"]
            return [
                SearchResult(
                    str(r.get("name", "")),
                    str(r.get("description") or ""),
                    int(r.get("star_count") or 0),
                    bool(r.get("is_official")),
                    bool(r.get("is_automated")),
                )
                for r in rows
            ]
        except (ValueError, KeyError, TypeError, AttributeError):
            return None


def _catalog_search(session: Session, query: str) -> list[SearchResult]:
    from .api import _next_link

    names: list[str] = []
    url: str | None = f"/v2/_catalog?n={_CATALOG_PAGE}"
    while url:
        response = session.request("GET", url, ("registry:catalog:*",))
        with closing(response):
            if response.status_code != 200:
                raise session.fail(response, f"search {session.server}")
            try:
                names += list(json.loads(response.read()).get("repositories") or [])
            except (ValueError, AttributeError):
                raise InvalidArgument(f"search {session.server}: the catalog is not JSON") from None
            url = _next_link(response.headers.get("Link"))
    term = query.lower()
    return [SearchResult(n) for n in names if term in n.lower()]
