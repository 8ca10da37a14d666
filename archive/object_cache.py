"""The object cache: files of an s3:// storage on local disk, under their keys, bounded.

``ObjectCache`` holds what was uploaded (the finished local file moves in) and what commands
fetched from the bucket (``archive.storage.local_copy`` / ``local_folder``), in
``Settings.storage_cache_dir``. Past ``storage_cache_size`` bytes the least recently used files
go (a use sets a file's modification time); a file linked under two keys (a WARC and its copy
in a package) counts once and is freed when both go. Inside an ``in_use`` block the files
fetched stay, even past the bound, until it ends (a seal reads every WARC of its run after
fetching them).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from archive.errors import StorageError

if TYPE_CHECKING:
    from archive.settings import Settings


class ObjectCache:
    """Files fetched from the bucket, kept under their keys; least recently used removed past
    ``limit`` bytes. A use sets a file's modification time (the LRU order)."""

    def __init__(self, root: Path, limit: int) -> None:
        self.root = root.absolute()
        self.limit = limit

    def path(self, key: str) -> Path:
        path = (self.root / key).resolve()
        if self.root.resolve() not in path.parents:
            raise StorageError(f"key escapes the cache: {key!r}")
        return path

    def used(self, path: Path) -> None:
        with contextlib.suppress(OSError):
            os.utime(path)

    def adopt(self, local: Path, key: str) -> Path:
        """Move a finished local file (just stored in the bucket) into the cache."""
        target = self.path(key)
        target.parent.mkdir(parents=True, exist_ok=True)
        if local.resolve() != target:
            try:
                os.replace(local, target)
            except OSError:  # another file system
                shutil.copyfile(local, target)
                local.unlink()
        self.used(target)
        return target

    def files(self) -> Iterator[tuple[Path, os.stat_result]]:
        if not self.root.is_dir():
            return
        for path in self.root.rglob("*"):
            if path.name.endswith(".part") or path.name == ".lock":
                continue
            with contextlib.suppress(OSError):
                st = path.lstat()
                if path.is_file():
                    yield path, st

    def size(self) -> int:
        """Bytes on disk (a file linked under several keys, e.g. a WARC and its package copy,
        counts once)."""
        return sum({(st.st_dev, st.st_ino): st.st_size for _, st in self.files()}.values())

    def evict(self, keep: Iterable[Path] = ()) -> int:
        """Remove the least recently used files until the cache is within its bound (the
        ``keep`` files stay). Returns the bytes removed."""
        self.root.mkdir(parents=True, exist_ok=True)
        pinned = {p.resolve() for p in keep}
        with open(self.root / ".lock", "a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            entries = sorted(self.files(), key=lambda e: e[1].st_mtime)
            links: dict[tuple[int, int], int] = {}  # names of each file (inode) in the cache
            sizes: dict[tuple[int, int], int] = {}
            for _, st in entries:
                links[(st.st_dev, st.st_ino)] = links.get((st.st_dev, st.st_ino), 0) + 1
                sizes[(st.st_dev, st.st_ino)] = st.st_size
            total = sum(sizes.values())
            pinned_inodes = {(st.st_dev, st.st_ino) for path, st in entries
                             if path.resolve() in pinned}
            removed = 0
            for path, st in entries:
                if total <= self.limit:
                    break
                inode = (st.st_dev, st.st_ino)
                if inode in pinned_inodes:  # in use under this name or another
                    continue
                with contextlib.suppress(OSError):
                    path.unlink()
                    links[inode] -= 1
                    if links[inode] == 0:  # its last name here: the bytes are free
                        total -= st.st_size
                        removed += st.st_size
            self._prune_dirs()
        return removed

    def _prune_dirs(self) -> None:
        for d in sorted((p for p in self.root.rglob("*") if p.is_dir()),
                        key=lambda p: len(p.parts), reverse=True):
            with contextlib.suppress(OSError):
                d.rmdir()  # only empty ones go

    def drop(self, key: str) -> None:
        path = self.path(key)
        if path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        else:
            path.unlink(missing_ok=True)


def cache(settings: Settings) -> ObjectCache:
    return ObjectCache(settings.storage_cache_dir, settings.storage_cache_size)


_in_use: list[set[Path]] = []  # files fetched inside each open ``in_use`` block


def pinned(paths: Iterable[Path]) -> list[Path]:
    """``paths`` and the files the open ``in_use`` blocks hold: what an eviction keeps."""
    held = [p for pins in _in_use for p in pins]
    for pins in _in_use:
        pins.update(paths)
    return [*paths, *held]


@contextlib.contextmanager
def in_use(settings: Settings) -> Iterator[None]:
    """Files fetched inside the block stay in the cache until it ends, even past its bound
    (a seal or an export reads every WARC of a run after fetching them); then the bound
    applies again."""
    pins: set[Path] = set()
    _in_use.append(pins)
    try:
        yield
    finally:
        _in_use.remove(pins)
        if (settings.storage_url or "").startswith("s3://"):
            cache(settings).evict(keep=pinned([]))
