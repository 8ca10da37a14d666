"""Mend what a crash leaves: cut a ``.open`` WARC back to its last whole record.

Every record is one gzip member written with one ``write``, so a crash can only leave a partial
member at the end. We walk the members with zlib (which checks each member's CRC), keep the
complete ones, truncate the rest and rename the file to its finished name. A file without a
single whole record is set aside as ``NAME.damaged``. Its CDXJ lines past the cut are dropped.
"""

from __future__ import annotations

import hashlib
import json
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

from archive.warc.writer import OPEN_SUFFIX, sort_index

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


def whole_members(path: Path) -> tuple[int, int]:
    """Return (records, end offset of the last complete gzip member)."""
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


def repair_file(open_path: Path, index_dir: Path | None = None) -> RepairResult:
    final = open_path.with_name(open_path.name[: -len(OPEN_SUFFIX)])
    total = open_path.stat().st_size
    records, good_end = whole_members(open_path)
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
    os.replace(open_path, final)
    cdxj_path = cdxj_sha = None
    if index_open is not None and index_dir is not None:
        if not index_open.exists():
            index_open.touch()
        kept = []
        for line in index_open.read_bytes().splitlines(keepends=True):
            try:
                fields = json.loads(line.split(b" ", 2)[2])
                if int(fields["offset"]) + int(fields["length"]) <= good_end:
                    kept.append(line)
            except (IndexError, ValueError, KeyError):
                continue  # a line cut short by the crash
        index_open.write_bytes(b"".join(kept))
        cdxj_path = index_dir / f"{stem}.cdxj"
        cdxj_sha = sort_index(index_open, cdxj_path)
    sha256, sha512 = _digests(final)
    return RepairResult(final, "repaired", records, good_end, total - good_end, sha256,
                        cdxj_path, cdxj_sha, sha512)


def repair_open_files(directory: Path, index_dir: Path | None = None) -> list[RepairResult]:
    """Repair every ``*.warc.gz.open`` file in ``directory``."""
    return [repair_file(p, index_dir) for p in sorted(Path(directory).glob(f"*.warc.gz{OPEN_SUFFIX}"))]
