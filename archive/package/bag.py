"""BagIt 1.0 (RFC 8493) writing and reading with single-pass sha512 hashing.

Every payload byte is hashed while it is copied into the bag (no second read). Files go to a
few threads in batches (``run_batched``): hashlib and file I/O release the GIL, so two cores
hash two files at once, and a batch per thread job keeps the hand-over of the GIL rare.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import islice
from pathlib import Path
from typing import NamedTuple, TypeVar

from archive.errors import BewaarError

BLOCK = 1 << 20
BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"


class BagError(BewaarError):
    """A bag cannot be written or read."""


class Entry(NamedTuple):
    """One manifest line. A tuple of strings and ints, which the garbage collector stops
    tracking: a bag of 10,000 files makes 20,000 of these."""

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


StrPath = str | os.PathLike[str]


def _copy_file(target: StrPath, source: StrPath, h: hashlib._Hash) -> int:
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


def _write_bytes(target: StrPath, data: bytes | bytearray | memoryview) -> None:
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view):]
    finally:
        os.close(fd)


def _with_parent(fn: Callable[..., T], *args: StrPath | hashlib._Hash | bytes) -> T:
    """Call ``fn(target, …)`` or ``os.link(source, target)``; when it fails for a missing path,
    make the target's folder and try once more (saves a mkdir call per file). A missing source
    fails the second time too."""
    try:
        return fn(*args)
    except FileNotFoundError:
        target = args[1] if fn is os.link else args[0]
        assert isinstance(target, str | os.PathLike)
        os.makedirs(os.path.dirname(target), exist_ok=True)
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


def copy_hashed(source: StrPath | bytes, target: StrPath) -> tuple[str, int]:
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
        what = "data" if isinstance(source, bytes | bytearray | memoryview) else source
        raise BagError(f"cannot copy {what} into the "
                       f"package: {exc.strerror or exc}") from None
    return h.hexdigest(), size


def link_hashed(source: StrPath, target: StrPath) -> tuple[str, int]:
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
J = TypeVar("J")


def run_batched(
    fn: Callable[[list[J]], list[T]], items: Iterable[J], *, batch: int = 64,
    weight: Callable[[J], int] | None = None, max_weight: int = 32 << 20,
    threads: int | None = None, on_done: Callable[[list[T]], None] | None = None,
) -> list[T]:
    """Run ``fn`` over ``items`` in batches in a thread pool, a few batches in flight (flat
    memory). Batches, not single items, keep the hand-over of the GIL between threads rare:
    one future per small file costs more than hashing it. A batch ends at ``batch`` items or,
    with ``weight`` (bytes, say), once it reaches ``max_weight``, so big files spread evenly."""
    n = threads or workers()
    out: list[T] = []
    pending: deque[Future[list[T]]] = deque()

    def collect(fut: Future[list[T]]) -> None:
        res = fut.result()
        out.extend(res)
        if on_done:
            on_done(res)

    with ThreadPoolExecutor(max_workers=n) as pool:
        try:
            for chunk in _chunks(items, batch, weight, max_weight):
                pending.append(pool.submit(fn, chunk))
                if len(pending) >= n * 2:
                    collect(pending.popleft())
            while pending:
                collect(pending.popleft())
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
    return out


def _chunks(items: Iterable[J], batch: int, weight: Callable[[J], int] | None,
            max_weight: int) -> Iterator[list[J]]:
    if weight is None:
        it = iter(items)
        while chunk := list(islice(it, batch)):
            yield chunk
        return
    chunk, total = [], 0
    for item in items:
        chunk.append(item)
        total += weight(item)
        if len(chunk) >= batch or total >= max_weight:
            yield chunk
            chunk, total = [], 0
    if chunk:
        yield chunk


def hash_file(path: StrPath) -> tuple[str, int]:
    h = hashlib.sha512()
    buf = _buffer()
    view = memoryview(buf)
    size = 0
    with open(path, "rb", buffering=0) as src:
        while n := src.readinto(buf):
            h.update(view[:n])
            size += n
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
