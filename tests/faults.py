"""What the fault tests share: a size-limited file system, and the checks made after a fault with
tools other than the product's own (warcio, bagit-python, hashlib, SQL)."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

WARCIO = str(Path(sys.executable).with_name("warcio"))


def cannot_run(reason: str) -> None:
    """Skip with ``reason``; fail instead under ``BEWAAR_REQUIRE_FAULTS=1`` (.ci/run, as root)."""
    if os.environ.get("BEWAAR_REQUIRE_FAULTS") == "1":
        pytest.fail(f"BEWAAR_REQUIRE_FAULTS=1 but {reason}")
    pytest.skip(reason)


@contextmanager
def small_disk(path: Path, kib: int) -> Iterator[Path]:
    """A tmpfs of ``kib`` KiB mounted on ``path`` (made if missing), unmounted afterwards even
    when the test fails. Skips when this process may not mount (not root, no CAP_SYS_ADMIN)."""
    path.mkdir(parents=True, exist_ok=True)
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={kib}k", "tmpfs", str(path)],
                          capture_output=True, text=True, timeout=30)
    if done.returncode != 0:
        cannot_run(f"cannot mount a size-limited tmpfs here ({done.stderr.strip() or 'not root'}); "
                   "the disk-full faults need it (they run under .ci/run as root)")
    try:
        yield path
    finally:
        if subprocess.run(["umount", str(path)], capture_output=True, timeout=30).returncode:
            subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=30)


def grow(path: Path, kib: int) -> None:
    """Free space on a ``small_disk``: make it ``kib`` KiB, its files kept."""
    subprocess.run(["mount", "-o", f"remount,size={kib}k", str(path)], check=True, timeout=30)


def sql(db: Path, query: str, *args: Any) -> list[Any]:
    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=10)
    try:
        return con.execute(query, args).fetchall()
    finally:
        con.close()


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def read_warc(path: Path) -> list[str]:
    """Every record of a WARC read to its end with warcio (raises on a cut or bad member);
    the target URIs of its responses and revisits."""
    from warcio.archiveiterator import ArchiveIterator

    uris = []
    with open(path, "rb") as fh:
        for rec in ArchiveIterator(fh, check_digests="raise"):
            rec.content_stream().read()
            if rec.rec_type in ("response", "revisit"):
                uris.append(rec.rec_headers.get_header("WARC-Target-URI"))
    check = subprocess.run([WARCIO, "check", str(path)], capture_output=True, text=True,
                           timeout=120)
    assert check.returncode == 0, (path, check.stdout, check.stderr)
    return uris


def assert_recorded_files_true(db: Path, run_id: int) -> None:
    """Every WARC file row of the run: its file exists with the recorded size and sha256, and
    its CDXJ likewise; every capture points inside a recorded file."""
    rows = sql(db, "select path, size, sha256, cdxj_path, cdxj_sha256 from warc_files "
                   "where run_id = ?", run_id)
    sizes = {}
    for path, size, sha, cdxj, cdxj_sha in rows:
        p = Path(path)
        assert p.is_file(), f"recorded but missing: {p}"
        assert p.stat().st_size == size and sha256_of(p) == sha, f"recorded wrong: {p}"
        if cdxj:
            assert sha256_of(Path(cdxj)) == cdxj_sha, f"index recorded wrong: {cdxj}"
        sizes[p.name] = size
    for name, offset, length in sql(db, "select warc_filename, offset, length from captures "
                                        "where run_id = ? and warc_filename is not null", run_id):
        assert name in sizes, f"a capture points into {name}, which is not recorded"
        assert offset + length <= sizes[name]


def assert_finished_warcs_whole(folder: Path) -> dict[str, list[str]]:
    """Every WARC under a finished name in ``folder`` (recursively) reads completely."""
    out = {}
    for p in sorted(folder.rglob("*.warc.gz")):
        out[p.name] = read_warc(p)
    return out


def env_without_bewaar() -> dict[str, str]:
    return {k: v for k, v in os.environ.items()
            if not k.startswith("BEWAAR_") or k.startswith("BEWAAR_TEST")}
