"""Where finished files live: a local folder or an S3 bucket, and the local cache of the bucket.

Chosen by the ``storage_url`` setting. A plain path or ``file://`` gives ``LocalStorage``: WARCs
and packages are written in that folder and stay there (nothing is copied). ``s3://bucket/prefix``
gives ``S3Storage`` (S3, MinIO, Ceph through boto3; endpoint and credentials from the usual
AWS_* variables boto3 reads itself, ``AWS_ENDPOINT_URL`` for MinIO/Ceph). Then local disk under
HOME is the working area: a file is finished there, put into the bucket whole (``store_file``,
``store_folder``) and only then recorded, under its ``s3://`` URL, never a machine's path. The
finished local file moves into the object cache.

Bucket layout (keys below the prefix)::

    warcs/SITE/FILENAME.warc.gz       a finished WARC (file names are unique)
    indexes/SITE/FILENAME.cdxj        its sorted CDXJ index
    packages/PACKAGE-ID/…             a sealed package, one object per file of its folder

The object cache (``Settings.storage_cache_dir``, bounded by ``storage_cache_size`` bytes) holds
files fetched from the bucket (``local_copy``, ``local_folder``) under the same keys; the least
recently used files are removed past the bound (the files in use by the current call stay, even
when they alone are larger). A file recorded by its local path under an ``s3://`` storage is one
whose upload failed: ``archive.handover.push_run`` / ``push_package`` store it once the bucket
takes it again.

Every command that needs storage calls ``check_storage`` first (once per process): a bucket
that cannot be reached, refuses the credentials, does not exist or cannot be written is a
``StorageError`` naming which, before any work starts. Messages name the bucket, the endpoint
and the error code, never a credential.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Protocol, runtime_checkable
from urllib.parse import urlparse

from archive.errors import SettingsError, StorageError
from archive.files import atomic_file
from archive.object_cache import ObjectCache, cache, in_use, pinned
from archive.s3 import S3Storage

# The cache lives in archive.object_cache, the bucket's client in archive.s3; both are named
# here too, where the rest of the archive imports them from.
__all__ = ["ObjectCache", "S3Storage", "cache", "in_use"] + [
    "Storage", "LocalStorage", "storage_from_url", "is_remote", "bucket", "check_storage",
    "store_files", "store_file", "store_folder", "local_copy", "local_folder",
    "delete_location", "remote_size", "open_location", "warc_key", "index_key", "package_key"]

if TYPE_CHECKING:
    from archive.settings import Settings


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


# The bucket of the settings, checked once per process ----------------------------------------
_buckets: dict[str, S3Storage] = {}
_checked: set[str] = set()


def is_remote(location: str) -> bool:
    return location.startswith("s3://")


def bucket(settings: Settings) -> S3Storage | None:
    """The settings' bucket (None for local storage), made once per process."""
    url = settings.storage_url
    if not url or not url.startswith("s3://"):
        return None
    found = _buckets.get(url)
    if found is None:
        store = storage_from_url(url)
        assert isinstance(store, S3Storage)
        found = _buckets[url] = store
    return found


def check_storage(settings: Settings) -> None:
    """Refuse to start when the bucket cannot be used (``S3Storage.check``); once per process.
    Local storage needs no check here (its folders are checked where they are written)."""
    store = bucket(settings)
    if store is None or store.url in _checked:
        return
    store.check()
    _checked.add(store.url)


def _remote_for(settings: Settings, location: str) -> tuple[S3Storage, str]:
    store = bucket(settings)
    key = store.key_of(location) if store is not None else None
    if store is None or key is None:
        raise StorageError(f"{location} is not in the configured storage "
                           f"({settings.storage_url or 'local'})")
    return store, key


# What the rest of the archive calls --------------------------------------------------------
def store_files(settings: Settings, items: list[tuple[Path, str]]) -> list[str]:
    """Put finished local files into the storage; return the locations to record, in order.
    Local storage: the files stay where they are (their paths). A bucket: every file is
    uploaded whole first, then they move into the object cache; a failed upload raises
    ``StorageError`` and leaves every local file where it was."""
    store = bucket(settings)
    if store is None:
        return [str(local) for local, _ in items]
    urls = [store.put(local, key) for local, key in items]
    objects = cache(settings)
    kept = [objects.adopt(local, key) for local, key in items]
    objects.evict(keep=[*kept, *pinned([])])
    return urls


def store_file(settings: Settings, local: Path, key: str) -> str:
    """``store_files`` of one file."""
    return store_files(settings, [(local, key)])[0]


def store_folder(settings: Settings, folder: Path, key: str) -> str:
    """Put every file of a finished folder (a sealed package) under ``key/``; return the
    location to record (the folder itself for local storage). On success the folder moves
    into the object cache; on failure it stays and the objects put so far are removed."""
    store = bucket(settings)
    if store is None:
        return str(folder)
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    objects = cache(settings)
    # A package's WARCs are hard links to the cached copies of objects in the bucket already:
    # copied inside the bucket instead of uploaded again.
    linked = _cached_keys(objects) if any(p.stat().st_nlink > 1 for p in files) else {}
    done: list[str] = []
    try:
        for path in files:
            rel = f"{key}/{path.relative_to(folder).as_posix()}"
            st = path.stat()
            source = linked.get((st.st_dev, st.st_ino))
            try:
                if source is None or source.startswith(f"{key}/"):
                    raise StorageError("not in the bucket yet")
                store.copy(source, rel, st.st_size)
            except StorageError:  # no such object (any more): the bytes themselves
                store.put(path, rel)
            done.append(rel)
    except StorageError:
        for rel in done:
            with contextlib.suppress(StorageError):
                store.delete(rel)
        raise
    target = objects.path(key)
    if target.exists():
        shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(folder, target)
    except OSError:
        shutil.copytree(folder, target)
        shutil.rmtree(folder, ignore_errors=True)
    for path in target.rglob("*"):
        objects.used(path)
    objects.evict(keep=[*(p for p in target.rglob("*") if p.is_file()), *pinned([])])
    return store.url_of(key)


def _cached_keys(objects: ObjectCache) -> dict[tuple[int, int], str]:
    """The key of each cached file, by (device, inode)."""
    return {(st.st_dev, st.st_ino): path.relative_to(objects.root).as_posix()
            for path, st in objects.files()}


def local_copy(settings: Settings, location: str, *, fresh: bool = False) -> Path:
    """A local file with the content of ``location``: a local path as it is; an ``s3://``
    object from the cache, fetched when not there (``fresh``: fetched again, for checks of
    what the bucket holds)."""
    if not is_remote(location):
        return Path(location.removeprefix("file://"))
    store, key = _remote_for(settings, location)
    objects = cache(settings)
    path = objects.path(key)
    if fresh or not path.is_file():
        store.download(key, path)
    objects.used(path)
    objects.evict(keep=pinned([path]))
    return path


def local_folder(settings: Settings, location: str, *, fresh: bool = False) -> Path:
    """A local folder with every object under ``location`` (a package), like ``local_copy``.
    An object that is gone from the bucket is gone from the copy too (``fresh``)."""
    if not is_remote(location):
        return Path(location.removeprefix("file://"))
    store, key = _remote_for(settings, location)
    objects = cache(settings)
    target = objects.path(key)
    keys = list(store.keys(key + "/"))
    if not keys:
        raise StorageError(f"{location}: no objects in the bucket")
    paths = []
    for k in keys:
        path = objects.path(k)
        if fresh or not path.is_file():
            store.download(k, path)
        paths.append(path)
    if fresh and target.is_dir():  # what the bucket no longer holds
        wanted = {p.resolve() for p in paths}
        for p in list(target.rglob("*")):
            if p.is_file() and p.resolve() not in wanted:
                p.unlink()
    for p in paths:
        objects.used(p)
    objects.evict(keep=pinned(paths))
    return target


def delete_location(settings: Settings, location: str, *, folder: bool = False) -> None:
    """Delete a stored file (or, ``folder``, every object under it) and its cached copy."""
    if not is_remote(location):
        path = Path(location.removeprefix("file://"))
        if folder:
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)
        return
    store, key = _remote_for(settings, location)
    for k in list(store.keys(key + "/")) if folder else [key]:
        store.delete(k)
    cache(settings).drop(key)


def remote_size(settings: Settings, location: str) -> int | None:
    """The size of the object at an ``s3://`` location; None when it is missing."""
    store, key = _remote_for(settings, location)
    return store.size(key)


def open_location(settings: Settings, location: str) -> BinaryIO:
    """Read a stored file as a stream (from the bucket itself for an ``s3://`` location)."""
    if not is_remote(location):
        try:
            return open(location.removeprefix("file://"), "rb")
        except OSError as exc:
            raise StorageError(f"cannot read {location}: {exc.strerror}") from None
    store, key = _remote_for(settings, location)
    return store.open(key)


def warc_key(site: str, filename: str) -> str:
    return f"warcs/{site}/{filename}"


def index_key(site: str, filename: str) -> str:
    return f"indexes/{site}/{filename}"


def package_key(package_id: str) -> str:
    return f"packages/{package_id}"
