"""S3-compatible object storage (AWS, MinIO, Ceph) through boto3, and its start-up check.

boto3 reads the endpoint (``AWS_ENDPOINT_URL``), the region and the credentials itself. Every
error this module raises is a ``StorageError`` naming the bucket, the endpoint and the error's
type or code, never its text (no credential, signature or request can leak through it).
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO

from archive.errors import SettingsError, StorageError

PROBE_PREFIX = ".bewaar-probe-"


def _why(exc: BaseException) -> str:
    """What went wrong, from the error's type and code only (never its text: no credential,
    signature or request can leak through it)."""
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        err = response.get("Error") or {}
        code = str(err.get("Code") or "")
        status = (response.get("ResponseMetadata") or {}).get("HTTPStatusCode")
        known = {"404": "NoSuchBucket", "403": "AccessDenied"}
        code = known.get(code, code) or f"HTTP {status}"
        return f"{code} (HTTP {status})" if status else code
    return type(exc).__name__


class S3Storage:
    """S3-compatible object storage (AWS, MinIO, Ceph) through boto3 (extra ``s3``)."""

    def __init__(self, bucket: str, prefix: str = "") -> None:
        try:
            import boto3
            from botocore.config import Config
        except ImportError:
            raise SettingsError("s3:// storage needs boto3: pip install 'bewaarplaats[s3]'") from None
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        config = Config(connect_timeout=10, read_timeout=120,
                        retries={"max_attempts": 3, "mode": "standard"})
        # boto3 reads AWS_ENDPOINT_URL, the region and the credentials itself
        self.client = boto3.client("s3", config=config)
        self.endpoint = str(self.client.meta.endpoint_url)

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def url_of(self, key: str) -> str:
        return f"s3://{self.bucket}/{self._key(key)}"

    def key_of(self, location: str) -> str | None:
        """The key (below the prefix) of an ``s3://`` URL in this bucket, else None."""
        start = f"s3://{self.bucket}/" + (f"{self.prefix}/" if self.prefix else "")
        return location[len(start):] if location.startswith(start) else None

    def _fail(self, doing: str, key: str, exc: BaseException) -> StorageError:
        return StorageError(f"cannot {doing} {key} in {self.url} (endpoint {self.endpoint}): "
                            f"{_why(exc)}")

    def put(self, local: Path, key: str) -> str:
        """Upload a whole file (multipart for large ones: the object appears only when every
        part arrived) and check its size as the bucket reports it."""
        try:
            self.client.upload_file(str(local), self.bucket, self._key(key))
            size = self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]
        except Exception as exc:  # botocore raises many types
            raise self._fail("store", key, exc) from None
        if size != local.stat().st_size:
            raise StorageError(f"stored {key} in {self.url} but the bucket reports {size} bytes, "
                               f"not {local.stat().st_size}")
        return self.url_of(key)

    def copy(self, source: str, key: str, size: int) -> str:
        """Copy the object ``source`` to ``key`` inside the bucket (no bytes through here);
        check the copy's size."""
        try:
            self.client.copy({"Bucket": self.bucket, "Key": self._key(source)}, self.bucket,
                             self._key(key))
            found = self.client.head_object(Bucket=self.bucket, Key=self._key(key))["ContentLength"]
        except Exception as exc:
            raise self._fail("store", key, exc) from None
        if found != size:
            raise StorageError(f"copied {source} to {key} in {self.url} but the copy has "
                               f"{found} bytes, not {size}")
        return self.url_of(key)

    def download(self, key: str, target: Path) -> None:
        """Fetch one object to ``target`` under a temporary name, then rename it."""
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(4)}.part")
        try:
            self.client.download_file(self.bucket, self._key(key), str(tmp))
            os.replace(tmp, target)
        except Exception as exc:
            tmp.unlink(missing_ok=True)
            if isinstance(exc, OSError) and not hasattr(exc, "response"):
                raise StorageError(f"cannot write {target}: {exc.strerror or exc}") from None
            raise self._fail("read", key, exc) from None

    def open(self, key: str) -> BinaryIO:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except Exception as exc:
            raise self._fail("read", key, exc) from None
        return body

    def size(self, key: str) -> int | None:
        """The object's size; None when there is no such object."""
        try:
            return int(self.client.head_object(Bucket=self.bucket,
                                               Key=self._key(key))["ContentLength"])
        except Exception as exc:
            if _why(exc).startswith(("NoSuchKey", "NoSuchBucket", "HTTP 404")):
                return None
            raise self._fail("look up", key, exc) from None

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception:
            return False
        return True

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._key(key))
        except Exception as exc:
            raise self._fail("delete", key, exc) from None

    def keys(self, prefix: str = "") -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        strip = len(self.prefix) + 1 if self.prefix else 0
        try:
            for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
                for obj in page.get("Contents", []):
                    yield obj["Key"][strip:]
        except Exception as exc:
            raise self._fail("list", prefix or "/", exc) from None

    def check(self) -> None:
        """Can this bucket be reached, read and written? A ``StorageError`` says which not:
        head_bucket, then a tiny probe object put and deleted."""
        where = f"bucket {self.bucket!r} at {self.endpoint}"
        try:
            self.client.head_bucket(Bucket=self.bucket)
        except Exception as exc:
            why = _why(exc)
            if why.startswith(("AccessDenied", "HTTP 403")):  # a HEAD answer has no code: ask
                try:  # a request whose answer says whether the key or the permission is wrong
                    self.client.list_objects_v2(Bucket=self.bucket, MaxKeys=1)
                except Exception as again:
                    why = _why(again)
                if why.startswith("AccessDenied"):
                    raise StorageError(f"{where}: these credentials may not use the bucket "
                                       f"({why})") from None
            if why.startswith(("NoSuchBucket", "HTTP 404")):
                raise StorageError(f"{where}: no such bucket ({why})") from None
            if why.startswith(("AccessDenied", "HTTP 403", "InvalidAccessKeyId",
                               "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken")):
                raise StorageError(f"{where}: the credentials are refused ({why}); check "
                                   "AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY") from None
            if why in ("NoCredentialsError", "PartialCredentialsError"):
                raise StorageError(f"{where}: no credentials ({why}); set AWS_ACCESS_KEY_ID "
                                   "and AWS_SECRET_ACCESS_KEY") from None
            if why in ("EndpointConnectionError", "ConnectTimeoutError", "ConnectionClosedError",
                       "ReadTimeoutError", "ConnectionError"):
                raise StorageError(f"{where}: cannot reach the object store ({why})") from None
            raise StorageError(f"{where}: unusable ({why})") from None
        probe = self._key(f"{PROBE_PREFIX}{secrets.token_hex(8)}")
        try:
            self.client.put_object(Bucket=self.bucket, Key=probe, Body=b"probe")
        except Exception as exc:
            raise StorageError(f"{where}: can be read but not written ({_why(exc)})") from None
        try:
            self.client.delete_object(Bucket=self.bucket, Key=probe)
        except Exception as exc:
            raise StorageError(f"{where}: a probe object was written but cannot be deleted "
                               f"({_why(exc)}); destruction needs delete permission") from None
