"""Small hand-made tar archives for tests: honest layers and hostile ones."""

from __future__ import annotations

import io
import tarfile
from collections.abc import Iterable


def make_tar(entries: Iterable[tuple[str, str, object]], mtime: int = 1_600_000_000) -> bytes:
    """A PAX tar from ``(name, kind, payload)``: kind is file|dir|sym|link.

    ``payload`` is the content (str or bytes) of a file or the target of a link; names are
    written verbatim, so tests can build archives that climb out with ``..`` or links.
    """
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, kind, payload in entries:
            info = tarfile.TarInfo(name)
            info.mtime = mtime
            if kind == "file":
                data = payload.encode() if isinstance(payload, str) else bytes(payload or b"")
                info.size, info.mode = len(data), 0o644
                tar.addfile(info, io.BytesIO(data))
                continue
            if kind == "dir":
                info.type, info.mode = tarfile.DIRTYPE, 0o755
            elif kind == "sym":
                info.type, info.linkname = tarfile.SYMTYPE, str(payload)
            elif kind == "link":
                info.type, info.linkname = tarfile.LNKTYPE, str(payload)
            else:
                raise ValueError(f"unknown entry kind {kind!r}")
            tar.addfile(info)
    return buf.getvalue()
