"""Where finished files live: a small Protocol with a local-folder and an S3 backend.

Chosen by URL: a plain path or ``file://`` gives ``LocalStorage``; ``s3://bucket/prefix`` gives
``S3Storage`` (endpoint and credentials from the usual AWS_* environment variables, which boto3
reads itself, so MinIO works with ``AWS_ENDPOINT_URL``). Files are always finished locally first
and then stored whole; a reader never sees half a file.

Not wired in yet: the ``storage_url`` setting takes a local folder only (WARCs and packages are
written under it, see ``Settings.storage_root``) and refuses ``s3://`` until the scale-out work
puts this backend behind it.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO, Protocol, runtime_checkable
from urllib.parse import urlparse

from archive.errors import SettingsError, StorageError
from archive.files import atomic_file


@runtime_checkable
class Storage(Protocol):
    url: str

    def put(self, local: Path, key: str) -> str:
        """Store a finished local file under ``key``; return its location (path or URL)."""

    def open(self, key: str) -> BinaryIO: ...

    def exists(self, key: str) -> bool: ...

    def delete(self, key: str) -> None: ...

    def keys(self, prefix: str = "") -> Iterator[str]: ...


class LocalStorage:
    def __init__(self, root: Path) -> None:
        self.root = root.absolute()
        self.url = self.root.as_uri()

    def _path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents and path != self.root.resolve():
            raise StorageError(f"key escapes the storage folder: {key!r}")
        return path

    def put(self, local: Path, key: str) -> str:
        target = self._path(key)
        if local.resolve() == target:
            return str(target)
        try:
            with open(local, "rb") as src, atomic_file(target) as out:
                shutil.copyfileobj(src, out, 1 << 20)
        except OSError as exc:
            raise StorageError(f"cannot store {key}: {exc.strerror}") from None
        return str(target)

    def open(self, key: str) -> BinaryIO:
        try:
            return open(self._path(key), "rb")
        except OSError as exc:
            raise StorageError(f"cannot read {key}: {exc.strerror}") from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self, prefix: str = "") -> Iterator[str]:
        base = self.root
        for path in sorted(base.rglob("*")):
            if path.is_file():
                key = path.relative_to(base).as_posix()
                if key.startswith(prefix):
                    yield key


class S3Storage:
    """S3-compatible object storage (AWS, MinIO, Ceph) through boto3 (extra ``s3``)."""

    def __init__(self, bucket: str, prefix: str = "") -> None:
        try:
            import boto3
        except ImportError:
            raise SettingsError("s3:// storage needs boto3: pip install 'bewaarplaats[s3]'") from None
        self.bucket = bucket
        self.prefix = prefix.strip("/")
        self.url = f"s3://{bucket}/{self.prefix}".rstrip("/")
        self.client = boto3.client("s3")  # boto3 reads AWS_ENDPOINT_URL and the credentials

    def _key(self, key: str) -> str:
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, local: Path, key: str) -> str:
        try:
            self.client.upload_file(str(local), self.bucket, self._key(key))
        except Exception as exc:  # botocore raises many types
            raise StorageError(f"cannot store {key} in {self.url}: {type(exc).__name__}") from None
        return f"s3://{self.bucket}/{self._key(key)}"

    def open(self, key: str) -> BinaryIO:
        try:
            body = self.client.get_object(Bucket=self.bucket, Key=self._key(key))["Body"]
        except Exception as exc:
            raise StorageError(f"cannot read {key} from {self.url}: {type(exc).__name__}") from None
        return body

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._key(key))
        except Exception:
            return False
        return True

    def delete(self, key: str) -> None:
        self.client.delete_object(Bucket=self.bucket, Key=self._key(key))

    def keys(self, prefix: str = "") -> Iterator[str]:
        paginator = self.client.get_paginator("list_objects_v2")
        strip = len(self.prefix) + 1 if self.prefix else 0
        for page in paginator.paginate(Bucket=self.bucket, Prefix=self._key(prefix)):
            for obj in page.get("Contents", []):
                yield obj["Key"][strip:]


def storage_from_url(url: str | Path) -> Storage:
    text = str(url)
    parsed = urlparse(text)
    if parsed.scheme == "s3":
        if not parsed.netloc:
            raise SettingsError(f"storage URL without a bucket: {text!r}")
        return S3Storage(parsed.netloc, parsed.path)
    if parsed.scheme == "file":
        return LocalStorage(Path(parsed.path))
    if parsed.scheme in ("", ) or len(parsed.scheme) == 1:  # plain path (or a Windows drive)
        return LocalStorage(Path(text))
    raise SettingsError(f"unknown storage URL scheme {parsed.scheme!r} in {text!r} (use a path or s3://)")
