"""Fixity audit: re-hash every stored WARC and its CDXJ index against the database.

A destroyed package's WARC rows are deleted with its files (``bewaar.services.disposal``): it is
not checked, and the report lists it as destroyed (from its tombstone), never as missing."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC
from pathlib import Path
from typing import Any

from sqlalchemy import select

from archive.db import session_scope
from archive.errors import Finding
from archive.models import FixityCheck, Tombstone, WarcFile
from archive.settings import Settings
from replay.collections import collection_names, sha256_file, verify_collection


@dataclass
class FixityReport:
    check_id: int
    files: int
    bytes: int
    findings: list[Finding] = field(default_factory=list)
    # Packages destroyed by a destruction list: their files are gone by decision, not damage.
    destroyed: list[dict[str, Any]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.findings

    def to_dict(self) -> dict[str, Any]:
        return {
            "check_id": self.check_id,
            "ok": self.ok,
            "files": self.files,
            "bytes": self.bytes,
            "findings": [f.to_dict() for f in self.findings],
            "destroyed": self.destroyed,
        }


def _check(path: Path, sha256: str | None, size: int | None, what: str,
           findings: list[Finding]) -> int:
    if not path.is_file():
        findings.append(Finding(str(path), f"{what} is missing"))
        return 0
    actual_size = path.stat().st_size
    if size is not None and actual_size != size:
        findings.append(Finding(str(path), f"{what} size changed", str(size), str(actual_size)))
    if sha256:
        found = sha256_file(path)
        if found != sha256:
            findings.append(Finding(str(path), f"{what} sha256 changed", sha256, found))
    return actual_size


def _check_object(settings: Settings, location: str, sha256: str | None, size: int | None,
                  what: str, findings: list[Finding]) -> int:
    """Like ``_check`` for an object in the bucket, read from the bucket itself (never the
    local cache): a missing object, another size or another digest is damage."""
    import hashlib

    from archive.errors import StorageError
    from archive.storage import open_location, remote_size

    try:
        actual_size = remote_size(settings, location)
    except StorageError as exc:
        findings.append(Finding(location, f"{what} cannot be read: {exc}"))
        return 0
    if actual_size is None:
        findings.append(Finding(location, f"{what} is missing from the bucket"))
        return 0
    if size is not None and actual_size != size:
        findings.append(Finding(location, f"{what} size changed", str(size), str(actual_size)))
    if sha256:
        h = hashlib.sha256()
        try:
            with contextlib.closing(open_location(settings, location)) as body:
                while chunk := body.read(1 << 20):
                    h.update(chunk)
        except (StorageError, OSError) as exc:
            findings.append(Finding(location, f"{what} cannot be read: {exc}"))
            return 0
        if h.hexdigest() != sha256:
            findings.append(Finding(location, f"{what} sha256 changed", sha256, h.hexdigest()))
    return actual_size


def audit(settings: Settings, progress: Callable[[int, int], None] | None = None) -> FixityReport:
    """Hash every WARC and index the database knows (in the bucket: the objects themselves);
    record the audit; return the findings."""
    from archive.storage import check_storage

    check_storage(settings)
    with session_scope(settings) as db:
        rows = [
            (w.path, w.size, w.sha256, w.cdxj_path, w.cdxj_sha256)
            for w in db.scalars(select(WarcFile).order_by(WarcFile.id))
        ]
    total = sum(r[1] for r in rows)
    findings: list[Finding] = []
    files = done = 0
    for path, size, sha, cdxj, cdxj_sha in rows:
        if path.startswith("s3://"):
            done += _check_object(settings, path, sha, size, "WARC", findings)
        else:
            done += _check(Path(path.removeprefix("file://")), sha, size, "WARC", findings)
        files += 1
        if cdxj and cdxj.startswith("s3://"):
            _check_object(settings, cdxj, cdxj_sha, None, "CDXJ index", findings)
            files += 1
        elif cdxj:
            _check(Path(cdxj), cdxj_sha, None, "CDXJ index", findings)
            files += 1
        if progress:
            progress(done, total)
    for name in collection_names(settings):
        findings.extend(Finding(name, p) for p in verify_collection(settings, name))
    with session_scope(settings) as db:
        destroyed = [{"package": t.package_id, "run_id": t.run_id, "list": t.list_id,
                      "destroyed_at": (t.destroyed_at if t.destroyed_at.tzinfo
                                       else t.destroyed_at.replace(tzinfo=UTC)).isoformat()}
                     for t in db.scalars(select(Tombstone).order_by(Tombstone.package_id))]
        row = FixityCheck(files=files, bytes=done, ok=not findings,
                          findings=[f.to_dict() for f in findings])
        db.add(row)
        db.flush()
        check_id = row.id
    return FixityReport(check_id, files, done, findings, destroyed)
