"""Mend what a crash leaves: cut a ``.open`` WARC back to its last whole record.

Every record is one gzip member written with one ``write``, so a crash can only leave a partial
member at the end. We walk the members with zlib (which checks each member's CRC), keep the
complete ones, truncate the rest and rename the file to its finished name. A file without a
single whole record is set aside as ``NAME.damaged``. Its CDXJ lines past the cut are dropped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from archive.files import write_atomic
from archive.warc.writer import OPEN_SUFFIX

log = logging.getLogger(__name__)

BLOCK = 1 << 20


@dataclass(frozen=True)
class RepairResult:
    path: Path  # the finished (or set-aside) file
    status: str  # "repaired" or "set-aside"
    records: int
    size: int
    cut_bytes: int
    sha256: str | None
    cdxj_path: Path | None
    cdxj_sha256: str | None
    sha512: str | None = None


def whole_members(path: Path, limit: int | None = None) -> tuple[int, int]:
    """Return (records, end offset of the last complete gzip member), counting only the first
    (the warcinfo) and the members that end at or before ``limit`` when it is given."""
    records = 0
    good_end = 0
    with open(path, "rb") as fh:
        pos = 0  # file offset where the current member starts
        fed = 0  # bytes of the current member fed so far
        d = zlib.decompressobj(31)
        pending = b""
        while True:
            chunk = pending or fh.read(BLOCK)
            pending = b""
            if not chunk:
                break
            try:
                d.decompress(chunk)
            except zlib.error:
                break
            if d.eof:
                used = len(chunk) - len(d.unused_data)
                pos = pos + fed + used
                if limit is not None and pos > limit and records:  # the warcinfo stays
                    break
                good_end = pos
                records += 1
                pending = d.unused_data
                fed = 0
                d = zlib.decompressobj(31)
            else:
                fed += len(chunk)
    return records, good_end


def _digests(path: Path) -> tuple[str, str]:
    """sha256 and sha512 of a file, in one read."""
    h256, h512 = hashlib.sha256(), hashlib.sha512()
    with open(path, "rb") as fh:
        while block := fh.read(BLOCK):
            h256.update(block)
            h512.update(block)
    return h256.hexdigest(), h512.hexdigest()


def repair_file(open_path: Path, index_dir: Path | None = None,
                keep_until: int | None = None) -> RepairResult:
    """Cut ``open_path`` back to its last whole record (or to the last one ending at or before
    ``keep_until``: the records past what was recorded are dropped, to be fetched again rather
    than held twice) and give it its finished name."""
    final = open_path.with_name(open_path.name[: -len(OPEN_SUFFIX)])
    total = open_path.stat().st_size
    records, good_end = whole_members(open_path, keep_until)
    stem = final.name.removesuffix(".warc.gz")
    index_open = index_dir / f"{stem}.cdxj.open" if index_dir else None
    if records == 0:
        aside = final.with_name(final.name + ".damaged")
        os.replace(open_path, aside)
        if index_open is not None:
            index_open.unlink(missing_ok=True)
        return RepairResult(aside, "set-aside", 0, total, total, None, None, None)
    with open(open_path, "r+b") as fh:
        fh.truncate(good_end)
        fh.flush()
        os.fsync(fh.fileno())
    cdxj_path = cdxj_sha = None
    if index_open is not None and index_dir is not None:
        # The index first, the WARC's finished name last: should this fail (a full disk), the
        # file stays ``.open`` and the next repair starts again.
        kept = []
        for line in (index_open.read_bytes() if index_open.exists() else b"").splitlines(keepends=True):
            try:
                fields = json.loads(line.split(b" ", 2)[2])
                if int(fields["offset"]) + int(fields["length"]) <= good_end:
                    kept.append(line)
            except (IndexError, ValueError, KeyError):
                continue  # a line cut short by the crash
        kept.sort()
        data = b"".join(kept)
        cdxj_path = index_dir / f"{stem}.cdxj"
        write_atomic(cdxj_path, data)
        cdxj_sha = hashlib.sha256(data).hexdigest()
    os.replace(open_path, final)
    if index_open is not None:
        index_open.unlink(missing_ok=True)
    sha256, sha512 = _digests(final)
    return RepairResult(final, "repaired", records, good_end, total - good_end, sha256,
                        cdxj_path, cdxj_sha, sha512)


def repair_open_files(directory: Path, index_dir: Path | None = None,
                      keep_until: Callable[[str], int | None] | None = None) -> list[RepairResult]:
    """Repair every ``*.warc.gz.open`` file in ``directory``; ``keep_until(finished name)``
    gives each file's ``keep_until``. One that cannot be repaired now (``OSError``: a full
    disk) is left ``.open`` for the next repair and logged."""
    results = []
    for p in sorted(Path(directory).glob(f"*.warc.gz{OPEN_SUFFIX}")):
        try:
            name = p.name[: -len(OPEN_SUFFIX)]
            results.append(repair_file(p, index_dir, keep_until(name) if keep_until else None))
        except OSError as exc:
            log.error("cannot repair %s now: %s", p, exc.strerror)
    return results
