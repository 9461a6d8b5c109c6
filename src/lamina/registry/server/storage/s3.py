"""The S3 storage driver: Distribution's ``s3`` driver, same keys, same object layout.

A path ``/docker/registry/v2/blobs/…`` is the object key ``<rootdirectory>/docker/registry/v2/…``
(leading ``/`` dropped), exactly as Distribution's ``s3Path``, so either server serves the other's
bucket. Directories are key prefixes, listed with the ``/`` delimiter.

An upload is an S3 multipart upload at the upload's ``data`` key, plus one small object beside it,
``data.pending``, holding the bytes that do not fill a part yet (S3 parts are at least 5 MiB but a
client's PATCH can be any size) and, as metadata, the multipart upload's id and how many parts
the pending bytes follow. Everything an upload is lives in the bucket, so each request of a
chunked push may land on a different instance. Parts are written before ``data.pending``: a crash
in between leaves a pending object that names fewer parts than exist, and its bytes (already in
the new part) are ignored — the upload is always a consistent prefix the client resumes from.

boto3 is used from threads (its clients are thread-safe; the server runs blocking drivers' calls
in a thread pool): see bench/registry_scale.py for the measurements behind choosing it over
aiobotocore.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from ....errors import InvalidArgument
from .driver import FileInfo, FileWriter, PathNotFound, StorageDriver

__all__ = ["S3Driver", "S3Params"]

MIN_CHUNK = 5 << 20
DEFAULT_CHUNK = 10 << 20
#: Distribution's multipart-copy defaults
COPY_CHUNK = 32 << 20
COPY_THRESHOLD = 32 << 20
COPY_CONCURRENCY = 100
#: how long a presigned blob URL is good for (Distribution: 20 minutes)
PRESIGN_SECONDS = 20 * 60
_PENDING = ".pending"


def _bool(params: Mapping[str, Any], key: str, default: bool) -> bool:
    value = params.get(key, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise InvalidArgument(f"invalid registry configuration: storage.s3.{key} must be true or false")


def _int(params: Mapping[str, Any], key: str, default: int, minimum: int = 0) -> int:
    value = params.get(key, default)
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise InvalidArgument(f"invalid registry configuration: storage.s3.{key} must be an integer") from None
    if number < minimum:
        raise InvalidArgument(f"invalid registry configuration: storage.s3.{key} must be at least {minimum}")
    return number


class S3Params:
    """``storage.s3`` as Distribution reads it (keys, defaults, and the AWS environment)."""

    def __init__(self, params: Mapping[str, Any]) -> None:
        p = dict(params)
        self.bucket = str(p.get("bucket") or "")
        if not self.bucket:
            raise InvalidArgument("invalid registry configuration: storage.s3.bucket is required")
        self.region = str(p.get("region") or os.environ.get("AWS_REGION") or "us-east-1")
        self.regionendpoint = str(p.get("regionendpoint") or "")
        self.secure = _bool(p, "secure", True)
        self.skipverify = _bool(p, "skipverify", False)
        self.v4auth = _bool(p, "v4auth", True)
        # Distribution 2.8 goes path-style whenever a regionendpoint is set
        self.forcepathstyle = _bool(p, "forcepathstyle", bool(self.regionendpoint))
        self.accesskey = str(p.get("accesskey") or "") or None
        self.secretkey = str(p.get("secretkey") or "") or None
        self.encrypt = _bool(p, "encrypt", False)
        self.keyid = str(p.get("keyid") or "") or None
        self.rootdirectory = str(p.get("rootdirectory") or "").strip("/")
        self.storageclass = str(p.get("storageclass") or "STANDARD")
        self.chunksize = _int(p, "chunksize", DEFAULT_CHUNK, MIN_CHUNK)
        self.multipartcopychunksize = _int(p, "multipartcopychunksize", COPY_CHUNK, MIN_CHUNK)
        self.multipartcopymaxconcurrency = _int(p, "multipartcopymaxconcurrency", COPY_CONCURRENCY, 1)
        self.multipartcopythresholdsize = _int(p, "multipartcopythresholdsize", COPY_THRESHOLD, 0)
        self.useragent = str(p.get("useragent") or "")
        self.objectacl = str(p.get("objectacl") or "private")

    def endpoint_url(self) -> str | None:
        if not self.regionendpoint:
            return None
        if "://" in self.regionendpoint:
            return self.regionendpoint
        return f"{'https' if self.secure else 'http'}://{self.regionendpoint}"


class _Body:
    """A ranged GET's body as a file object (read, close, context manager)."""

    def __init__(self, stream) -> None:
        self._stream = stream

    def read(self, n: int = -1) -> bytes:
        if self._stream is None:
            return b""
        return self._stream.read(None if n is None or n < 0 else n)

    def close(self) -> None:
        if self._stream is not None:
            self._stream.close()

    def __enter__(self) -> _Body:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class S3Driver(StorageDriver):
    name = "s3"
    blocking = True
    move_renews_mtime = True
    cheap_touch = False

    def __init__(self, params: Mapping[str, Any] | S3Params) -> None:
        import boto3
        from botocore.config import Config

        self.params = params if isinstance(params, S3Params) else S3Params(params)
        p = self.params
        config = Config(
            region_name=p.region,
            signature_version="s3v4" if p.v4auth else "s3",
            s3={"addressing_style": "path" if p.forcepathstyle else "auto"},
            max_pool_connections=64,
            retries={"max_attempts": 5, "mode": "standard"},
            user_agent_extra=p.useragent or None,
        )
        self._session = boto3.session.Session()
        self.client = self._session.client("s3", **self._client_args(config))
        self._probe = None
        from botocore.exceptions import ClientError

        self._client_error = ClientError

    def _client_args(self, config) -> dict[str, Any]:
        p = self.params
        base = self.client.meta.config if hasattr(self, "client") else None
        return {
            "endpoint_url": p.endpoint_url(),
            "aws_access_key_id": p.accesskey,
            "aws_secret_access_key": p.secretkey,
            "use_ssl": p.secure,
            "verify": not p.skipverify,
            "config": base.merge(config) if base is not None else config,
        }

    # keys ------------------------------------------------------------------------------
    def key(self, path: str) -> str:
        """Distribution's s3Path: rootdirectory + path, without the leading slash."""
        if not path.startswith("/") or "/../" in path + "/" or "\0" in path:
            raise ValueError(f"invalid storage path {path!r}")
        root = f"/{self.params.rootdirectory}" if self.params.rootdirectory else ""
        return (root + path).lstrip("/")

    def _path(self, key: str) -> str:
        root = self.params.rootdirectory
        return "/" + (key[len(root) + 1 :] if root else key)

    def _prefix(self, path: str) -> str:
        key = self.key(path)
        return key + "/" if key else ""

    def _missing(self, exc: Exception) -> bool:
        code = getattr(exc, "response", {}).get("Error", {}).get("Code", "")
        return code in ("NoSuchKey", "404", "NotFound", "NoSuchUpload")

    def _put_args(self) -> dict[str, Any]:
        args: dict[str, Any] = {"StorageClass": self.params.storageclass, "ACL": self.params.objectacl}
        if self.params.encrypt:
            args["ServerSideEncryption"] = "aws:kms" if self.params.keyid else "AES256"
            if self.params.keyid:
                args["SSEKMSKeyId"] = self.params.keyid
        return args

    # the interface ---------------------------------------------------------------------
    def get_content(self, path: str) -> bytes:
        try:
            return self.client.get_object(Bucket=self.params.bucket, Key=self.key(path))["Body"].read()
        except self._client_error as exc:
            if self._missing(exc):
                raise PathNotFound(path) from None
            raise

    def put_content(self, path: str, content: bytes) -> None:
        self.client.put_object(Bucket=self.params.bucket, Key=self.key(path), Body=content, **self._put_args())

    def reader(self, path: str, offset: int = 0) -> _Body:
        args: dict[str, Any] = {"Bucket": self.params.bucket, "Key": self.key(path)}
        if offset:
            args["Range"] = f"bytes={offset}-"
        try:
            return _Body(self.client.get_object(**args)["Body"])
        except self._client_error as exc:
            code = exc.response.get("Error", {}).get("Code", "")
            if code == "InvalidRange":
                return _Body(None)  # reading from the end: nothing left
            if self._missing(exc):
                raise PathNotFound(path) from None
            raise

    def writer(self, path: str, append: bool = False) -> FileWriter:
        return _S3Writer(self, path, append)

    def stat(self, path: str) -> FileInfo:
        key = self.key(path)
        if key:
            try:
                head = self.client.head_object(Bucket=self.params.bucket, Key=key)
                return FileInfo(path, head["ContentLength"], head["LastModified"].timestamp(), False)
            except self._client_error as exc:
                if not self._missing(exc):
                    raise
        listed = self.client.list_objects_v2(Bucket=self.params.bucket, Prefix=self._prefix(path), MaxKeys=1)
        if listed.get("KeyCount", 0) == 0:
            raise PathNotFound(path)
        return FileInfo(path, 0, 0.0, True)

    def list(self, path: str) -> list[str]:
        prefix = self._prefix(path)
        out: list[str] = []
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.params.bucket, Prefix=prefix, Delimiter="/"):
            out.extend(self._path(obj["Key"]) for obj in page.get("Contents", []))
            out.extend(self._path(cp["Prefix"].rstrip("/")) for cp in page.get("CommonPrefixes", []))
        if not out and path != "/":
            raise PathNotFound(path)
        return sorted(out)

    def walk(self, path: str) -> Iterator[FileInfo]:
        """One flat listing instead of a stat per file: an object store's natural walk."""
        paginator = self.client.get_paginator("list_objects_v2")
        found = False
        for page in paginator.paginate(Bucket=self.params.bucket, Prefix=self._prefix(path)):
            for obj in page.get("Contents", []):
                found = True
                yield FileInfo(self._path(obj["Key"]), obj["Size"], obj["LastModified"].timestamp(), False)
        if not found:
            raise PathNotFound(path)

    def move(self, source: str, dest: str) -> None:
        size = self.stat(source).size
        self._copy(source, dest, size)
        self.client.delete_object(Bucket=self.params.bucket, Key=self.key(source))

    def delete(self, path: str) -> None:
        keys: list[str] = []
        key = self.key(path)
        try:
            self.client.head_object(Bucket=self.params.bucket, Key=key)
            keys.append(key)
        except self._client_error as exc:
            if not self._missing(exc):
                raise
        paginator = self.client.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=self.params.bucket, Prefix=self._prefix(path)):
            keys.extend(obj["Key"] for obj in page.get("Contents", []))
        if not keys:
            raise PathNotFound(path)
        for i in range(0, len(keys), 1000):
            batch = [{"Key": k} for k in keys[i : i + 1000]]
            self.client.delete_objects(Bucket=self.params.bucket, Delete={"Objects": batch, "Quiet": True})

    def touch(self, path: str) -> None:
        """S3 has no utime: copy the object onto itself, which renews LastModified."""
        try:
            size = self.stat(path).size
        except PathNotFound:
            raise
        self._copy(path, path, size, replace=True)

    def redirect_url(self, path: str) -> str | None:
        return self.client.generate_presigned_url(
            "get_object", Params={"Bucket": self.params.bucket, "Key": self.key(path)}, ExpiresIn=PRESIGN_SECONDS
        )

    def health_check(self) -> None:
        """One quick HEAD of the bucket, without the data path's retries: a probe must answer
        within its own timeout."""
        if self._probe is None:
            from botocore.config import Config

            self._probe = self._session.client("s3", **self._client_args(Config(retries={"max_attempts": 1}, connect_timeout=2, read_timeout=5)))
        self._probe.head_bucket(Bucket=self.params.bucket)

    # copies ----------------------------------------------------------------------------
    def _copy(self, source: str, dest: str, size: int, replace: bool = False) -> None:
        bucket = self.params.bucket
        src = {"Bucket": bucket, "Key": self.key(source)}
        extra = {"MetadataDirective": "REPLACE"} if replace else {}
        if size <= self.params.multipartcopythresholdsize:
            self.client.copy_object(Bucket=bucket, Key=self.key(dest), CopySource=src, **extra, **self._put_args())
            return
        # Distribution's multipart copy: server-side parts, in parallel
        upload = self.client.create_multipart_upload(Bucket=bucket, Key=self.key(dest), **self._put_args())
        chunk = self.params.multipartcopychunksize
        ranges = [(i + 1, start, min(start + chunk, size) - 1) for i, start in enumerate(range(0, size, chunk))]

        def part(spec: tuple[int, int, int]) -> dict[str, Any]:
            number, first, last = spec
            answer = self.client.upload_part_copy(
                Bucket=bucket,
                Key=self.key(dest),
                UploadId=upload["UploadId"],
                PartNumber=number,
                CopySource=src,
                CopySourceRange=f"bytes={first}-{last}",
            )
            return {"PartNumber": number, "ETag": answer["CopyPartResult"]["ETag"]}

        try:
            workers = min(self.params.multipartcopymaxconcurrency, len(ranges), 16)
            with ThreadPoolExecutor(max_workers=workers) as pool:
                parts = list(pool.map(part, ranges))
            self.client.complete_multipart_upload(
                Bucket=bucket, Key=self.key(dest), UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
            )
        except BaseException:
            self.client.abort_multipart_upload(Bucket=bucket, Key=self.key(dest), UploadId=upload["UploadId"])
            raise


class _S3Writer(FileWriter):
    """An upload as a multipart upload plus ``data.pending`` (see the module docstring)."""

    def __init__(self, driver: S3Driver, path: str, append: bool) -> None:
        self._d = driver
        self._bucket = driver.params.bucket
        self._key = driver.key(path)
        self._pending_key = self._key + _PENDING
        self._chunk = driver.params.chunksize
        self._upload_id: str | None = None
        self._parts: list[dict[str, Any]] = []
        self._parts_size = 0
        self._pending = bytearray()
        self._dirty = not append
        self._closed = False
        if append:
            self._load(path)

    def _load(self, path: str) -> None:
        client = self._d.client
        try:
            answer = client.get_object(Bucket=self._bucket, Key=self._pending_key)
        except self._d._client_error as exc:
            if self._d._missing(exc):
                raise PathNotFound(path) from None
            raise
        meta = answer.get("Metadata", {})
        pending = answer["Body"].read()
        self._upload_id = meta.get("uploadid") or None
        if self._upload_id:
            paginator = client.get_paginator("list_parts")
            try:
                for page in paginator.paginate(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id):
                    for part in page.get("Parts", []):
                        self._parts.append({"PartNumber": part["PartNumber"], "ETag": part["ETag"], "Size": part["Size"]})
            except self._d._client_error as exc:
                if self._d._missing(exc):
                    raise PathNotFound(path) from None
                raise
            self._parts.sort(key=lambda p: p["PartNumber"])
            self._parts_size = sum(p["Size"] for p in self._parts)
        if int(meta.get("parts", "0")) == len(self._parts):
            self._pending = bytearray(pending)
        else:
            self._dirty = True  # a crash after a part, before this object: its bytes are in the part

    @property
    def size(self) -> int:
        return self._parts_size + len(self._pending)

    def write(self, data: bytes) -> int:
        self._pending += data
        self._dirty = True
        while len(self._pending) >= self._chunk:
            self._upload_part(bytes(self._pending[: self._chunk]))
            del self._pending[: self._chunk]
        return len(data)

    def _upload_part(self, data: bytes) -> None:
        client = self._d.client
        if self._upload_id is None:
            self._upload_id = client.create_multipart_upload(Bucket=self._bucket, Key=self._key, **self._d._put_args())["UploadId"]
            # name the upload in the bucket before its first part exists, so a crash right
            # after the part leaves it found (and the pending bytes known to be inside it)
            self._save_pending()
        number = len(self._parts) + 1
        answer = client.upload_part(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, PartNumber=number, Body=data)
        self._parts.append({"PartNumber": number, "ETag": answer["ETag"], "Size": len(data)})
        self._parts_size += len(data)

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        if self._dirty:
            self._save_pending()

    def _save_pending(self) -> None:
        metadata = {"parts": str(len(self._parts))}
        if self._upload_id:
            metadata["uploadid"] = self._upload_id
        self._d.client.put_object(Bucket=self._bucket, Key=self._pending_key, Body=bytes(self._pending), Metadata=metadata)

    def commit(self) -> None:
        client = self._d.client
        self._closed = True
        if self._upload_id is None:
            client.put_object(Bucket=self._bucket, Key=self._key, Body=bytes(self._pending), **self._d._put_args())
        else:
            if self._pending or not self._parts:
                self._upload_part(bytes(self._pending))
            parts = [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in self._parts]
            client.complete_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=self._upload_id, MultipartUpload={"Parts": parts})
        self._pending = bytearray()
        client.delete_object(Bucket=self._bucket, Key=self._pending_key)

    def cancel(self) -> None:
        client = self._d.client
        self._closed = True
        # this upload's parts, and any a crash left unnamed
        listed = client.list_multipart_uploads(Bucket=self._bucket, Prefix=self._key)
        for upload in listed.get("Uploads", []):
            if upload["Key"] == self._key:
                try:
                    client.abort_multipart_upload(Bucket=self._bucket, Key=self._key, UploadId=upload["UploadId"])
                except self._d._client_error:
                    pass
        for key in (self._pending_key, self._key):
            client.delete_object(Bucket=self._bucket, Key=key)
