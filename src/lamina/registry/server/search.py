"""``GET /v1/search?q=TERM&n=25&page=1``: docker's search API over the repository names.

``docker search host:5000/term`` and ``lamina search`` ask this (Docker Hub's index API shape:
``num_results``, ``query``, ``results`` of ``name``/``description``/``star_count``/
``is_official``/``is_automated``). A private registry has no descriptions or stars, so those
are empty; a name matches when it contains the term (case-insensitive). The path is outside
``/v2`` and so outside the access controller: on a registry with auth the names it lists are
only those a search may see, i.e. none — it answers 401 there, and clients fall back to
``/v2/_catalog``, which is authorized.
"""

from __future__ import annotations

from aiohttp import web

from .handlers import BaseHandler

__all__ = ["SearchHandler"]

MAX_RESULTS = 100


class SearchHandler(BaseHandler):
    async def get(self, request: web.Request) -> web.Response:
        from .app import CONTEXT

        if request.app.get(_AUTH_KEY, None) is None:
            request.app[_AUTH_KEY] = _has_auth(request.app)
        if request.app[_AUTH_KEY]:
            return web.json_response({"errors": [{"code": "UNAUTHORIZED", "message": "search is not offered on a registry with auth; use /v2/_catalog"}]}, status=401)
        term = request.query.get("q", "").strip().lower()
        try:
            limit = max(1, min(int(request.query.get("n", "25")), MAX_RESULTS))
            page = max(1, int(request.query.get("page", "1")))
        except ValueError:
            return web.json_response({"errors": [{"code": "UNSUPPORTED", "message": "n and page must be numbers"}]}, status=400)
        registry = request.app[CONTEXT].registry
        names = [n for n in await registry.call(registry.catalog) if term in n.lower()]
        chosen = names[(page - 1) * limit: page * limit]
        results = [
            {"name": n, "description": "", "star_count": 0, "is_official": False, "is_automated": False}
            for n in chosen
        ]
        return web.json_response({"num_results": len(names), "query": term, "page": page, "page_size": limit, "results": results})


_AUTH_KEY = web.AppKey("search_auth", bool)


def _has_auth(app: web.Application) -> bool:
    """Whether the app's policy middleware carries an access controller (an auth section)."""
    for middleware in app.middlewares:
        closure = getattr(middleware, "__closure__", None) or ()
        for cell in closure:
            value = cell.cell_contents
            if value is not None and hasattr(value, "authorize"):
                return True
    return False
