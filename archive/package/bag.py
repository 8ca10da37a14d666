"""BagIt 1.0 (RFC 8493) writing and reading with single-pass sha512 hashing.

Every payload byte is hashed while it is copied into the bag (no second read). The callers
spread files over the cores with ``parallel.run_batched``.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import TypeVar

from archive.errors import BewaarError
from archive.package.parallel import can_fork

BLOCK = 1 << 17  # read, hash and write in 128 KB blocks, which stay in the CPU cache
BAGIT_TXT = b"BagIt-Version: 1.0\nTag-File-Character-Encoding: UTF-8\n"


class BagError(BewaarError):
    """A bag cannot be written or read."""


class Manifest:
    """Manifest lines, formatted as each file is written (so little is left for the end, when
    the other cores have nothing to do), with the Payload-Oxum counts."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.bytes = 0

    def add(self, relpath: str, sha512: str, size: int) -> None:
        """``relpath`` relative to the bag root, e.g. data/x.warc.gz."""
        self.lines.append(f"{sha512}  {encode_path(relpath)}\n")
        self.bytes += size

    def __len__(self) -> int:
        return len(self.lines)

    def text(self) -> bytes:
        return "".join(sorted(self.lines)).encode("utf-8")


def encode_path(path: str) -> str:
    return path.replace("%", "%25").replace("\n", "%0A").replace("\r", "%0D")


def decode_path(path: str) -> str:
    return path.replace("%0A", "\n").replace("%0a", "\n").replace("%0D", "\r").replace(
        "%0d", "\r").replace("%25", "%")


StrPath = str | os.PathLike[str]
T = TypeVar("T")


def _copy_file(target: StrPath, source: StrPath, h: hashlib._Hash) -> int:
    """Copy block by block, hashing each block; the source is opened first, so a missing
    source fails before the target exists."""
    buf = _buffer()
    view = memoryview(buf)
    size = 0
    src = os.open(source, os.O_RDONLY)
    try:
        out = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
        try:
            while n := os.readv(src, [buf]):
                block = view[:n]
                h.update(block)
                while block:
                    block = block[os.write(out, block):]
                size += n
        finally:
            os.close(out)
    finally:
        os.close(src)
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


@lru_cache(maxsize=1)
def _syncfs() -> Callable[[int], int] | None:
    try:
        fn: Callable[[int], int] = ctypes.CDLL(None, use_errno=True).syncfs
    except (OSError, AttributeError):
        return None
    return fn


@contextmanager
def flushing(path: Path, every: float = 0.2) -> Iterator[None]:
    """Write back what is written under ``path`` while the writing goes on: a forked child
    flushes its file system every ``every`` seconds, so the disk works while the cores hash
    and the closing ``sync_tree`` finds little left. Only where forking is safe (no other
    thread); elsewhere this does nothing."""
    syncfs = _syncfs()
    if syncfs is None or not can_fork():
        yield
        return
    parent = os.getpid()
    pid = os.fork()
    if pid == 0:  # the flusher: no exit handlers of the parent, no output
        try:
            fd = os.open(path, os.O_RDONLY)
            while os.getppid() == parent:
                syncfs(fd)
                time.sleep(every)
        finally:
            os._exit(0)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)


def sync_tree(path: Path) -> None:
    """Make everything written under ``path`` durable with one flush of its file system
    (``syncfs``) instead of one fsync per file; fall back to fsyncing each file."""
    syncfs = _syncfs()
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


def link_file(source: StrPath, target: StrPath) -> None:
    """Hard-link an immutable finished file into the bag; copy it when the two folders are on
    different file systems."""
    try:
        _with_parent(os.link, source, target)
    except OSError:
        copy_hashed(source, target)


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


def hash_file(path: StrPath) -> tuple[str, int]:
    """sha512 and size of a file (plain system calls into one small buffer per thread: a file
    object per file and a big buffer that falls out of the CPU cache cost a quarter more)."""
    h = hashlib.sha512()
    buf = _buffer()
    view = memoryview(buf)
    size = 0
    fd = os.open(path, os.O_RDONLY)
    try:
        while n := os.readv(fd, [buf]):
            h.update(view[:n])
            size += n
    finally:
        os.close(fd)
    return h.hexdigest(), size


def read_bytes(path: StrPath) -> bytes:
    """A small file's bytes, with three system calls and no file object."""
    fd = os.open(path, os.O_RDONLY)
    try:
        parts = []
        while chunk := os.read(fd, BLOCK):
            parts.append(chunk)
    finally:
        os.close(fd)
    return parts[0] if len(parts) == 1 else b"".join(parts)


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
