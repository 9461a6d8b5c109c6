"""Blob descriptor caches (Distribution's ``storage.cache.blobdescriptor``: inmemory or redis).

Serving a blob asks two questions of storage: does this repository link the blob, and how big
is it. On an object store each is a round trip, so they are cached. ``inmemory`` is per
process; ``redis`` is shared by every instance, so a delete on one is seen by all. A cache is an
optimisation only: any error talking to redis is logged once a minute and the answer comes from
storage, and a stale entry (another instance's GC swept the blob) costs one 404 and is dropped.

Keys follow Distribution's redis cache: ``blobs::<digest>`` and
``repository::<name>::blobs::<digest>``, hashes holding ``digest``, ``size`` and ``mediatype``.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Mapping
from typing import Any

from ...digest import Digest
from ...errors import InvalidArgument

__all__ = ["BlobDescriptorCache", "InMemoryCache", "RedisCache", "cache_from_config"]

log = logging.getLogger("lamina.registry")
_MEDIA_TYPE = "application/octet-stream"


class BlobDescriptorCache:
    """No caching: every question goes to storage (the default, as in Distribution)."""

    def size(self, d: Digest) -> int | None:
        return None

    def repo_size(self, name: str, d: Digest) -> int | None:
        """The blob's size if ``name`` is known to link it."""
        return None

    def remember(self, name: str | None, d: Digest, size: int) -> None:
        pass

    def forget(self, d: Digest, name: str | None = None) -> None:
        """Drop ``name``'s link to ``d``, or (no name) the blob everywhere this cache can."""


class InMemoryCache(BlobDescriptorCache):
    """Per-process LRU of blob sizes and repository links (Distribution's inmemory cache)."""

    def __init__(self, capacity: int = 100_000) -> None:
        self._capacity = capacity
        self._lock = threading.Lock()
        self._sizes: OrderedDict[Digest, int] = OrderedDict()
        self._links: OrderedDict[tuple[str, Digest], int] = OrderedDict()

    def _get(self, table: OrderedDict, key) -> int | None:
        with self._lock:
            value = table.get(key)
            if value is not None:
                table.move_to_end(key)
            return value

    def _put(self, table: OrderedDict, key, value: int) -> None:
        with self._lock:
            table[key] = value
            table.move_to_end(key)
            while len(table) > self._capacity:
                table.popitem(last=False)

    def size(self, d: Digest) -> int | None:
        return self._get(self._sizes, d)

    def repo_size(self, name: str, d: Digest) -> int | None:
        return self._get(self._links, (name, d))

    def remember(self, name: str | None, d: Digest, size: int) -> None:
        self._put(self._sizes, d, size)
        if name is not None:
            self._put(self._links, (name, d), size)

    def forget(self, d: Digest, name: str | None = None) -> None:
        with self._lock:
            if name is not None:
                self._links.pop((name, d), None)
                return
            self._sizes.pop(d, None)
            for key in [k for k in self._links if k[1] == d]:
                del self._links[key]


class RedisCache(BlobDescriptorCache):
    """Shared by every instance through one redis (Distribution's ``redis`` section)."""

    def __init__(self, section: Mapping[str, Any]) -> None:
        import redis

        from .notify import parse_duration

        addr = str(section.get("addr") or "127.0.0.1:6379")
        host, _, port = addr.rpartition(":")
        pool = section.get("pool") or {}
        self._client = redis.Redis(
            host=host or "127.0.0.1",
            port=int(port or 6379),
            db=int(section.get("db") or 0),
            username=section.get("username") or None,
            password=section.get("password") or None,
            socket_connect_timeout=parse_duration(section.get("dialtimeout"), 1.0),
            socket_timeout=parse_duration(section.get("readtimeout"), 1.0),
            max_connections=int(pool.get("maxactive") or 64),
        )
        self._errors = redis.RedisError
        self._last_warning = 0.0

    def _failed(self, exc: Exception) -> None:
        now = time.monotonic()
        if now - self._last_warning > 60:
            self._last_warning = now
            log.warning("blob descriptor cache (redis) unavailable, serving from storage: %s", exc)

    @staticmethod
    def _blob_key(d: Digest) -> str:
        return f"blobs::{d}"

    @staticmethod
    def _repo_key(name: str, d: Digest) -> str:
        return f"repository::{name}::blobs::{d}"

    def _size_of(self, key: str) -> int | None:
        try:
            value = self._client.hget(key, "size")
        except self._errors as exc:
            self._failed(exc)
            return None
        return int(value) if value is not None else None

    def size(self, d: Digest) -> int | None:
        return self._size_of(self._blob_key(d))

    def repo_size(self, name: str, d: Digest) -> int | None:
        return self._size_of(self._repo_key(name, d))

    def remember(self, name: str | None, d: Digest, size: int) -> None:
        fields = {"digest": str(d), "size": size, "mediatype": _MEDIA_TYPE}
        try:
            pipe = self._client.pipeline()
            pipe.hset(self._blob_key(d), mapping=fields)
            if name is not None:
                pipe.hset(self._repo_key(name, d), mapping=fields)
                pipe.sadd(f"{self._blob_key(d)}::repositories", name)
            pipe.execute()
        except self._errors as exc:
            self._failed(exc)

    def forget(self, d: Digest, name: str | None = None) -> None:
        try:
            if name is not None:
                self._client.delete(self._repo_key(name, d))
                self._client.srem(f"{self._blob_key(d)}::repositories", name)
                return
            names = self._client.smembers(f"{self._blob_key(d)}::repositories")
            keys = [self._repo_key(n.decode(), d) for n in names]
            self._client.delete(self._blob_key(d), f"{self._blob_key(d)}::repositories", *keys)
        except self._errors as exc:
            self._failed(exc)

    def ping(self) -> None:
        self._client.ping()


def cache_from_config(kind: str, redis_section: Mapping[str, Any]) -> BlobDescriptorCache:
    if kind == "inmemory":
        return InMemoryCache()
    if kind == "redis":
        if not redis_section.get("addr"):
            raise InvalidArgument("invalid registry configuration: storage.cache.blobdescriptor: redis needs redis.addr")
        return RedisCache(redis_section)
    return BlobDescriptorCache()
