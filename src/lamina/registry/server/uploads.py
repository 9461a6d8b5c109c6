"""Blob upload sessions: resumable, hashed while written, verified before anything is stored.

An upload is a directory ``_uploads/<uuid>/`` holding ``data`` and ``startedat`` (the same
files Distribution keeps), so an upload survives a restart of the server. The running sha256
lives in memory; after a restart (or for a sha512 digest) the data written so far is hashed
once more. Data reaches the blob store only by :meth:`UploadStore.finish`, after its digest and
size were checked, so a corrupt or truncated upload leaves nothing behind.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from dataclasses import dataclass, field

from ...digest import Digest
from . import paths
from .errors import RegistryError
from .registry import Registry
from .storage import PathNotFound

_CHUNK = 1 << 20
#: how often a request body still arriving marks its upload as active (see ``append``)
HEARTBEAT = 1.0


@dataclass
class _Session:
    name: str
    uuid: str
    offset: int = 0
    #: the running sha256 when this process saw every byte; None after another instance (or
    #: a restart) wrote some: the data is then hashed once more at the end
    hasher: object | None = field(default_factory=hashlib.sha256)


class UploadStore:
    """Upload sessions over a storage driver. The state that matters (the data written so far)
    lives in storage, so a chunked push may send each request to a different instance; the
    in-memory session only saves re-hashing when one process sees a whole upload."""

    def __init__(self, registry: Registry) -> None:
        self.registry = registry
        self.driver = registry.driver
        self._sessions: dict[str, _Session] = {}

    def start(self, name: str) -> _Session:
        uuid = secrets.token_hex(16)
        uuid = f"{uuid[:8]}-{uuid[8:12]}-{uuid[12:16]}-{uuid[16:20]}-{uuid[20:]}"
        self.driver.put_content(paths.upload_started(name, uuid), time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()).encode())
        self.driver.writer(paths.upload_data(name, uuid)).close()
        session = _Session(name, uuid)
        self._sessions[uuid] = session
        return session

    def get(self, name: str, uuid: str) -> _Session:
        """The session as storage has it now (another instance may have appended since)."""
        if not _valid_uuid(uuid):
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": uuid[:64]})
        try:
            with self.driver.writer(paths.upload_data(name, uuid), append=True) as w:
                size = w.size
        except PathNotFound:
            self._sessions.pop(uuid, None)
            raise RegistryError("BLOB_UPLOAD_UNKNOWN", detail={"uuid": uuid}) from None
        session = self._sessions.get(uuid)
        if session is not None and session.name == name and session.offset == size:
            return session
        session = _Session(name, uuid, size, hashlib.sha256() if size == 0 else None)
        self._sessions[uuid] = session
        return session

    def _rehash(self, name: str, uuid: str, algorithm: str):
        hasher = hashlib.new(algorithm)
        with self.driver.reader(paths.upload_data(name, uuid)) as f:
            while chunk := f.read(_CHUNK):
                hasher.update(chunk)
        return hasher

    async def append(self, session: _Session, stream, start: int | None = None, length: int | None = None) -> int:
        """Append a request body; ``start`` (from Content-Range) must be the current end."""
        if start is not None and start != session.offset:
            raise RegistryError(
                "RANGE_INVALID",
                f"chunk starts at {start} but the upload is at {session.offset}",
                status=416,
                headers=self.range_headers(session),
            )
        call = self.registry.call
        written = 0
        out = await call(self.driver.writer, paths.upload_data(session.name, session.uuid), True)
        beat = time.monotonic()
        try:
            async for chunk in stream.iter_chunked(_CHUNK):
                await call(out.write, chunk)
                if session.hasher is not None:
                    session.hasher.update(chunk)
                written += len(chunk)
                if time.monotonic() - beat >= HEARTBEAT:
                    beat = time.monotonic()
                    await call(self._heartbeat, session)
        finally:
            # a broken connection too: keep what arrived whole; the client resumes from Range
            await call(out.close)
            session.offset += written
        if length is not None and written != length:
            raise RegistryError("SIZE_INVALID", f"chunk length {written} does not match Content-Range length {length}", status=416, headers=self.range_headers(session))
        return written

    def _heartbeat(self, session: _Session) -> None:
        """Renew the upload's ``startedat`` (its content, the start date, stays): garbage
        collection counts a repository with fresh upload files as a push in progress. A local
        file's mtime moves with every write, but an S3 upload writes nothing to the bucket
        until a part fills (5 MiB and more), so one slow PATCH streaming a layer would
        otherwise leave the push's finished layers unprotected for its whole length."""
        try:
            self.driver.touch(paths.upload_started(session.name, session.uuid))
        except PathNotFound:
            pass  # cancelled under us: the PUT or the next PATCH says so

    def finish(self, session: _Session, expected: Digest) -> int:
        """Verify and move the data into the blob store; the session ends either way."""
        data = paths.upload_data(session.name, session.uuid)
        committed = False
        try:
            with self.driver.writer(data, append=True) as w:
                w.commit()
            committed = True
            if expected.algorithm == "sha256" and session.hasher is not None:
                actual = Digest("sha256", session.hasher.hexdigest())
            else:
                actual = Digest(expected.algorithm, self._rehash(session.name, session.uuid, expected.algorithm).hexdigest())
            if actual != expected:
                raise RegistryError("DIGEST_INVALID", f"digest {expected} does not match the uploaded content ({actual})", detail={"digest": str(expected)})
            self.registry.commit_upload(session.name, data, expected)
            return session.offset
        finally:
            self.cancel(session, committed=committed)

    def cancel(self, session: _Session, committed: bool = False) -> None:
        """End the session and remove its files (and, uncommitted, the writer's own state:
        an S3 multipart upload lives outside the upload's directory)."""
        self._sessions.pop(session.uuid, None)
        if not committed:
            try:
                with self.driver.writer(paths.upload_data(session.name, session.uuid), append=True) as w:
                    w.cancel()
            except PathNotFound:
                pass
        try:
            self.driver.delete(paths.upload_dir(session.name, session.uuid))
        except PathNotFound:
            pass

    @staticmethod
    def range_headers(session: _Session) -> dict[str, str]:
        # Distribution's form: "0-<last byte>", and "0-0" for an empty upload
        end = max(session.offset - 1, 0)
        return {"Range": f"0-{end}", "Docker-Upload-UUID": session.uuid}


def _valid_uuid(text: str) -> bool:
    return 8 <= len(text) <= 64 and all(c in "0123456789abcdefABCDEF-" for c in text)
