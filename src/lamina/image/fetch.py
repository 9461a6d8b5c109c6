"""Opening ``image import URL`` sources: streamed over HTTP(S), never held in memory."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import BinaryIO

from ..errors import InvalidArgument


class _HttpStream:
    def __init__(self, response) -> None:
        self._iter = response.iter_raw(1 << 20)
        self._buffer = b""

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        while n < 0 or len(self._buffer) < n:
            try:
                self._buffer += next(self._iter)
            except StopIteration:
                break
        if n < 0:
            data, self._buffer = self._buffer, b""
        else:
            data, self._buffer = self._buffer[:n], self._buffer[n:]
        return data


@contextmanager
def open_url(url: str) -> Iterator[BinaryIO]:
    from ..registry.client.http import httpx

    try:
        with httpx.stream("GET", url, follow_redirects=True, timeout=60) as response:
            if response.status_code != 200:
                raise InvalidArgument(f"Get {url}: {response.status_code} {response.reason_phrase}")
            yield _HttpStream(response)  # type: ignore[misc]
    except httpx.HTTPError as exc:
        raise InvalidArgument(f"Get {url}: {exc}") from None
