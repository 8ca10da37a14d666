"""BagIt 1.0 (RFC 8493) writing and reading with single-pass sha512 hashing.

Every payload byte is hashed while it is copied into the bag (no second read). Files are copied
in a few threads: hashlib and file I/O release the GIL, so two cores hash two files at once.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

from archive.errors import BewaarError

BLOCK = 1 << 20
BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"


class BagError(BewaarError):
    """A bag cannot be written or read."""


@dataclass(frozen=True)
class Entry:
    relpath: str  # relative to the bag root, e.g. data/x.warc.gz
    sha512: str
    size: int


def workers() -> int:
    return max(2, min(4, os.cpu_count() or 2))


def encode_path(path: str) -> str:
    return path.replace("%", "%25").replace("\n", "%0A").replace("\r", "%0D")


def decode_path(path: str) -> str:
    return path.replace("%0A", "\n").replace("%0a", "\n").replace("%0D", "\r").replace(
        "%0d", "\r").replace("%25", "%")


def _copy_file(target: Path, source: Path, h: hashlib._Hash) -> int:
    """Copy block by block, hashing each block; the source is opened first, so a missing
    source fails before the target exists."""
    buf = _buffer()
    view = memoryview(buf)
    size = 0
    with open(source, "rb", buffering=0) as src, open(target, "wb") as out:
        while n := src.readinto(buf):
            h.update(view[:n])
            out.write(view[:n])
            size += n
    return size


def _write_bytes(target: Path, data: bytes | bytearray | memoryview) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _with_parent(fn: Callable[..., T], *args: object) -> T:
    """Call ``fn(target, …)`` or ``os.link(source, target)``; when it fails for a missing path,
    make the target's folder and try once more (saves a mkdir call per file). A missing source
    fails the second time too."""
    try:
        return fn(*args)
    except FileNotFoundError:
        target = args[1] if fn is os.link else args[0]
        assert isinstance(target, Path)
        target.parent.mkdir(parents=True, exist_ok=True)
        return fn(*args)


def sync_tree(path: Path) -> None:
    """Make everything written under ``path`` durable with one flush of its file system
    (``syncfs``) instead of one fsync per file; fall back to fsyncing each file."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        syncfs = libc.syncfs
    except (OSError, AttributeError):
        syncfs = None
    fd = os.open(path, os.O_RDONLY)
    try:
        if syncfs is not None and syncfs(fd) == 0:
            return
    finally:
        os.close(fd)
    for dirpath, _dirs, names in os.walk(path):
        for name in names:
            with open(os.path.join(dirpath, name), "rb") as fh:
                os.fsync(fh.fileno())


_local = threading.local()


def _buffer() -> bytearray:
    """One reusable block buffer per thread (allocating 1 MB per small file costs more than
    hashing it)."""
    buf: bytearray | None = getattr(_local, "buf", None)
    if buf is None:
        buf = _local.buf = bytearray(BLOCK)
    return buf


def _read_blocks(source: Path) -> Iterator[memoryview]:
    buf = _buffer()
    view = memoryview(buf)
    with open(source, "rb", buffering=0) as src:
        while True:
            n = src.readinto(buf)
            if not n:
                return
            yield view[:n]


def copy_hashed(source: Path | bytes, target: Path) -> tuple[str, int]:
    """Copy ``source`` (a file or bytes) to ``target`` hashing each block once.

    Not fsynced here: the package is made durable as a whole (``sync_tree``) before it is
    renamed to its final name."""
    h = hashlib.sha512()
    try:
        if isinstance(source, bytes | bytearray | memoryview):
            h.update(source)
            _with_parent(_write_bytes, target, source)
            return h.hexdigest(), len(source)
        size = _with_parent(_copy_file, target, source, h)
    except OSError as exc:
        raise BagError(f"cannot copy {source if isinstance(source, Path) else 'data'} into the "
                       f"package: {exc.strerror or exc}") from None
    return h.hexdigest(), size


def link_hashed(source: Path, target: Path) -> tuple[str, int]:
    """Hard-link an immutable finished file into the bag and hash it (one read); copy instead
    when the two folders are on different file systems."""
    try:
        _with_parent(os.link, source, target)
    except OSError:
        return copy_hashed(source, target)
    try:
        return hash_file(target)
    except OSError as exc:
        raise BagError(f"cannot read {source}: {exc.strerror}") from None


T = TypeVar("T")


def run_bounded(
    fn: Callable[..., list[T]], jobs: Iterable[tuple[object, ...]], *, threads: int | None = None,
    on_done: Callable[[list[T]], None] | None = None,
) -> list[T]:
    """Run ``fn(*job)`` in a thread pool, keeping at most a few jobs in flight (flat memory)."""
    n = threads or workers()
    out: list[T] = []
    pending: list[Future[list[T]]] = []
    with ThreadPoolExecutor(max_workers=n) as pool:
        try:
            for job in jobs:
                pending.append(pool.submit(fn, *job))
                if len(pending) >= n * 4:
                    res = pending.pop(0).result()
                    out.extend(res)
                    if on_done:
                        on_done(res)
            for fut in pending:
                res = fut.result()
                out.extend(res)
                if on_done:
                    on_done(res)
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
    return out


def hash_file(path: Path) -> tuple[str, int]:
    h = hashlib.sha512()
    size = 0
    for block in _read_blocks(path):
        h.update(block)
        size += len(block)
    return h.hexdigest(), size


def manifest_text(entries: Iterable[Entry]) -> bytes:
    lines = sorted(f"{e.sha512}  {encode_path(e.relpath)}\n" for e in entries)
    return "".join(lines).encode("utf-8")


def parse_manifest(text: str) -> tuple[dict[str, str], list[str]]:
    """Manifest lines -> {path: hex}, plus unreadable lines."""
    entries: dict[str, str] = {}
    bad: list[str] = []
    for line in text.splitlines():
        if not line.strip():
            continue
        parts = line.split(None, 1)
        if len(parts) != 2:
            bad.append(line)
            continue
        entries[decode_path(parts[1].strip())] = parts[0].lower()
    return entries, bad


def bag_info_text(fields: list[tuple[str, str]]) -> bytes:
    lines = []
    for key, value in fields:
        clean = " ".join(str(value).split())
        lines.append(f"{key}: {clean}\n")
    return "".join(lines).encode("utf-8")


def parse_bag_info(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    key = None
    for line in text.splitlines():
        if line[:1] in (" ", "\t") and key:
            out[key] += " " + line.strip()
            continue
        if ":" in line:
            key, value = line.split(":", 1)
            key = key.strip()
            out[key] = value.strip()
    return out
