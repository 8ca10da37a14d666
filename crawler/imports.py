"""Archives made elsewhere, recorded as a run of a site the way a crawl is recorded.

``import_warcs(settings, site, sources, origin=…)`` takes WARC files that another tool made
(wget, Heritrix, Browsertrix, a contractor's delivery) and makes them one new run of the site,
of kind ``import``:

1. each file is copied bit for bit into the site's WARC storage (``warc_dir/SITE/RUN/``),
   hashed (sha256, sha512) on the way, under a temporary name;
2. the copy, not the source, is checked record by record (``archive.warc.check``): a file that
   is not a WARC or is cut off is refused, and nothing of it stays behind;
3. its CDXJ index is written as the crawler writes one (``archive.warc.writer.cdxj_line``, with
   the project's sha256 payload digests, so that pywb finds the originals of later revisits);
4. in one transaction: the run (``finished``, its period the capture dates), its ``WarcFile``
   rows, a ``Capture`` per indexed record, and the payload digests the site had not stored yet
   (``PayloadDigest``: the dedup store, so a later crawl of the site writes revisit records
   against the imported payloads). Only then do the files get their finished names.

The run's folder (``runs_dir/RUN``) gets ``import.json``: the provenance (which tool made each
file, when, its original name and hashes) and every finding; the seal puts it in the package.
A file whose name is taken already (names are unique across the archive) is stored as
``NAME-importRUN.warc.gz``; the same bytes imported into the same site twice are refused.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from archive.db import session_scope
from archive.errors import BewaarError, NotFoundError, StorageError
from archive.files import write_atomic
from archive.models import Capture, CrawlRun, PayloadDigest, Site, WarcFile
from archive.settings import Settings
from archive.warc.check import WarcCheck, WarcUnreadable, check_warc
from archive.warc.records import digest_of
from archive.warc.writer import cdx_timestamp, cdxj_line

EMPTY_DIGEST = digest_of([b""])
DISK_MARGIN = 256 * 1024 * 1024  # left free beyond what the copies need
REPORT_NAME = "import.json"


class AlreadyImported(BewaarError):
    """The same bytes are in the site's archive already."""


@dataclass
class ImportedFile:
    source: str  # the name it came with
    filename: str  # the name it is kept under
    path: Path
    size: int
    sha256: str
    sha512: str
    check: WarcCheck
    cdxj_path: Path | None = None
    cdxj_sha256: str | None = None

    def provenance(self) -> dict[str, Any]:
        dates = sorted(r.date for r in self.check.records)
        return {
            "source": self.source, "filename": self.filename, "bytes": self.size,
            "sha256": self.sha256, "sha512": self.sha512,
            "compressed": self.check.compressed,
            "software": self.check.warcinfo.get("software"),
            "warcinfo": self.check.warcinfo, "warcinfo_date": self.check.warcinfo_date,
            "first_capture": dates[0] if dates else None,
            "last_capture": dates[-1] if dates else None,
            "records": self.check.summary(),
        }


@dataclass
class ImportResult:
    run_id: int
    site: str
    files: list[ImportedFile]
    report: Path
    pages: int = 0
    dedup_added: int = 0
    origin: dict[str, Any] = field(default_factory=dict)

    @property
    def records(self) -> dict[str, Any]:
        by_type: dict[str, int] = {}
        for f in self.files:
            for k, v in f.check.records_by_type.items():
                by_type[k] = by_type.get(k, 0) + v
        return {"total": sum(by_type.values()), "by_type": dict(sorted(by_type.items())),
                "problems": sum(f.check.problem_count for f in self.files),
                "notes": sum(f.check.note_count for f in self.files)}

    @property
    def problems(self) -> list[dict[str, Any]]:
        return [{"file": f.source, **p} for f in self.files for p in f.check.problems]

    @property
    def notes(self) -> list[dict[str, Any]]:
        return [{"file": f.source, **n} for f in self.files for n in f.check.notes]


def _safe_name(name: str, compressed: bool) -> str:
    base = re.sub(r"[^A-Za-z0-9._-]", "-", Path(name).name).lstrip(".-")[:200] or "import"
    suffix = ".warc.gz" if compressed else ".warc"
    if not base.lower().endswith(suffix):
        base = base.removesuffix(".gz").removesuffix(".warc") + suffix
    return base


def _copy_hashed(src: Path, dst: Path, move: bool) -> tuple[int, str, str]:
    """Copy ``src`` to the new file ``dst`` (fsynced), or hash it and move it there when
    ``move``; return size, sha256, sha512."""
    h256, h512 = hashlib.sha256(), hashlib.sha512()
    size = 0
    with open(src, "rb") as fin, (contextlib.nullcontext(None) if move
                                  else open(dst, "xb")) as fout:
        while chunk := fin.read(1 << 20):
            h256.update(chunk)
            h512.update(chunk)
            if fout is not None:
                fout.write(chunk)
            size += len(chunk)
        if fout is not None:
            fout.flush()
            os.fsync(fout.fileno())
    if move:
        os.replace(src, dst)
    return size, h256.hexdigest(), h512.hexdigest()


def _space_for(settings: Settings, sources: list[Path], owned: bool) -> None:
    need = sum(p.stat().st_size for p in sources) * (1 if owned else 2) + DISK_MARGIN
    settings.warc_dir.mkdir(parents=True, exist_ok=True)
    free = shutil.disk_usage(settings.warc_dir).free
    if need > free:
        raise StorageError(f"not enough free space in {settings.warc_dir}: the import needs "
                           f"about {need >> 20} MiB, {free >> 20} MiB are free")


def import_warcs(settings: Settings, site_name: str, sources: list[Path], *,
                 origin: dict[str, Any] | None = None, owned: bool = False,
                 progress: Callable[[str], None] | None = None) -> ImportResult:
    """Import ``sources`` (local WARC files) as one new run of ``site_name``; see the module
    docstring. Raises ``WarcUnreadable`` (nothing imported) for a file that is no whole WARC.
    ``owned``: the sources are scratch copies on the same file system (unpacked from a WACZ),
    moved instead of copied."""
    say = progress or (lambda _m: None)
    with session_scope(settings) as db:
        site = db.scalar(select(Site).where(Site.name == site_name))
        if site is None:
            raise NotFoundError(f"no site named {site_name!r} (see `bewaar site list`)")
        site_id = site.id
    for src in sources:
        if not src.is_file():
            raise WarcUnreadable(f"{src.name}: not a file")
    _space_for(settings, sources, owned)
    staging = settings.warc_dir / site_name / f".importing-{secrets.token_hex(4)}"
    staging.mkdir(parents=True, exist_ok=True)
    finished: list[Path] = []
    try:
        files = []
        for i, src in enumerate(sources):
            say(f"{src.name}: {'hashing' if owned else 'copying'}")
            tmp = staging / f"{i:04d}.part"
            size, sha256, sha512 = _copy_hashed(src, tmp, owned)
            say(f"{src.name}: checking {size / 1e6:.1f} MB record by record")
            try:
                check = check_warc(tmp)
            except WarcUnreadable as exc:
                raise WarcUnreadable(f"{src.name}: {exc}") from None
            files.append(ImportedFile(src.name, "", tmp, size, sha256, sha512, check))
        return _record(settings, site_name, site_id, files, staging, finished, origin or {},
                       say)
    except BaseException:
        for p in finished:
            with contextlib.suppress(OSError):
                p.unlink()
        raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _record(settings: Settings, site_name: str, site_id: int, files: list[ImportedFile],
            staging: Path, finished: list[Path], origin: dict[str, Any],
            say: Callable[[str], None]) -> ImportResult:
    now = datetime.now(UTC)
    whens = [r.when for f in files for r in f.check.records]
    with session_scope(settings) as db:
        for f in files:
            held = db.execute(
                select(WarcFile.filename, WarcFile.run_id).join(CrawlRun)
                .where(CrawlRun.site_id == site_id, WarcFile.sha256 == f.sha256)).first()
            if held is not None:
                raise AlreadyImported(f"{f.source}: the same file is in site {site_name} "
                                      f"already, as {held.filename} (run {held.run_id})")
        run = CrawlRun(site_id=site_id, kind="import", status="finished", seeds=[],
                       started_at=min(whens, default=now), finished_at=max(whens, default=now))
        db.add(run)
        db.flush()
        run_id = run.id
        warc_dir = settings.warc_dir / site_name / str(run_id)
        index_dir = settings.index_dir / site_name
        warc_dir.mkdir(parents=True, exist_ok=True)
        index_dir.mkdir(parents=True, exist_ok=True)
        taken = set(db.scalars(select(WarcFile.filename).where(
            WarcFile.filename.in_([_safe_name(f.source, f.check.compressed) for f in files]))))
        captures: list[dict[str, Any]] = []
        digests: dict[str, dict[str, Any]] = {}
        for f in files:
            name = first = _safe_name(f.source, f.check.compressed)
            n = 0
            while name in taken or (warc_dir / name).exists():
                n += 1
                suffix = ".warc.gz" if f.check.compressed else ".warc"
                # run ids are unique: only this run's own files can take such a name
                name = f"{first.removesuffix(suffix)}-import{run_id}{f'-{n}' if n > 1 else ''}" \
                       f"{suffix}"
            taken.add(name)
            f.filename = name
            say(f"{f.source}: indexing {len(f.check.records)} records")
            lines = sorted(_cdxj(f, name))
            data = b"".join(lines)
            f.cdxj_path = index_dir / f"{name}.cdxj"  # unique as the name is
            if f.cdxj_path.exists():
                raise StorageError(f"index {f.cdxj_path} exists already; not replacing it")
            write_atomic(f.cdxj_path, data)
            finished.append(f.cdxj_path)
            f.cdxj_sha256 = hashlib.sha256(data).hexdigest()
            final = warc_dir / name
            os.replace(f.path, final)
            finished.append(final)
            f.path = final
            db.add(WarcFile(run_id=run_id, filename=name, path=str(final), size=f.size,
                            sha256=f.sha256, sha512=f.sha512, records=f.check.total,
                            cdxj_path=str(f.cdxj_path), cdxj_sha256=f.cdxj_sha256))
            for r in f.check.records:
                is_page = (r.record_type == "response" and r.status is not None
                           and 200 <= r.status < 300 and "html" in (r.mime or ""))
                captures.append({
                    "run_id": run_id, "url": r.url, "status": r.status, "mime": r.mime,
                    "is_page": is_page, "record_type": r.record_type,
                    "payload_digest": r.digest, "warc_filename": name, "offset": r.offset,
                    "length": r.length, "fetched_at": r.when, "error": None})
                if r.record_type == "response" and r.status and r.digest \
                        and r.digest != EMPTY_DIGEST and len(r.record_id) <= 100 \
                        and len(r.date) <= 40:  # a revisit names it whole, or not at all
                    digests.setdefault(r.digest, {
                        "site_id": site_id, "digest": r.digest, "uri": r.url, "date": r.date,
                        "record_id": r.record_id, "run_id": run_id})
        known = set(db.scalars(select(PayloadDigest.digest).where(
            PayloadDigest.site_id == site_id, PayloadDigest.digest.in_(list(digests)))))
        new_digests = [d for k, d in digests.items() if k not in known]
        if captures:
            db.execute(insert(Capture), captures)
        if new_digests:
            db.execute(insert(PayloadDigest), new_digests)
        result = ImportResult(run_id, site_name, files, settings.runs_dir / str(run_id) /
                              REPORT_NAME, origin=origin, dedup_added=len(new_digests))
        result.pages = sum(1 for c in captures if c["is_page"])
        run.pages = result.pages
        run.revisits = sum(1 for c in captures if c["record_type"] == "revisit")
        run.bytes = sum(f.size for f in files)
        run.stats = {
            "fetches": len(captures), "warc_bytes": run.bytes, "records": result.records,
            "import": {"imported_at": now.isoformat(), **origin,
                       "software": sorted({str(f.check.warcinfo.get("software") or "unknown")
                                           for f in files}),
                       "files": [f.provenance() for f in files],
                       "dedup_added": len(new_digests)},
        }
        _write_report(result, now)
        finished.append(result.report)
    return result


def _cdxj(f: ImportedFile, name: str) -> list[bytes]:
    out = []
    for r in f.check.records:
        fields = {"url": r.url, "mime": r.mime or "unk", "status": str(r.status or 0)}
        if r.digest:
            fields["digest"] = r.digest
        fields.update({"length": str(r.length), "offset": str(r.offset), "filename": name})
        out.append(cdxj_line(r.url, cdx_timestamp(r.date), fields))
    return out


def _write_report(result: ImportResult, now: datetime) -> None:
    report = {
        "run_id": result.run_id, "site": result.site, "kind": "import",
        "imported_at": now.isoformat(), "origin": result.origin,
        "records": result.records, "pages": result.pages, "dedup_added": result.dedup_added,
        "files": [{**f.provenance(), "findings": f.check.findings,
                   "findings_not_listed": f.check.problem_count + f.check.note_count
                   - len(f.check.findings)} for f in result.files],
    }
    write_atomic(result.report, json.dumps(report, indent=2, ensure_ascii=False).encode())
