"""``run_crawl``: start a crawl run in a worker process and keep the database record of it.

A run that captured none of its seeds (each refused, unreachable, answered with an error,
disallowed by robots.txt…) ends ``failed``, even though the worker finished: its report says
why, seed by seed (``crawler.seeds``). One that captured some seeds finishes, with the outcome of
every seed in its report.

Runs: a fresh crawl (kind "crawl"), a patch crawl of given URLs (kind "patch", with
``parent_run_id``), or a resume. A resume continues the SAME run id: the interrupted run's open
WARC is repaired first, and what the run stored already is read back from its WARCs instead of
being fetched again (links are still followed from it).
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import delete, func, select

from archive.db import session_scope
from archive.errors import BewaarError, NotFoundError, StorageError
from archive.files import write_atomic
from archive.models import Capture, CrawlRun, Site, WarcFile
from archive.settings import Settings
from archive.urls import normalise_seed
from crawler import ledger, prestart
from crawler.job import CrawlJob, encode_job
from crawler.seeds import any_captured, why_none_captured

log = logging.getLogger(__name__)


@dataclass
class CrawlProgress:
    run_id: int
    pages: int = 0
    fetches: int = 0
    bytes: int = 0
    errors: int = 0
    revisits: int = 0
    queue: int = 0
    skipped: int = 0


@dataclass
class CrawlResult:
    run_id: int
    status: str
    pages: int
    bytes: int
    errors: int
    revisits: int
    # local paths, or s3:// URLs (text) with a bucket as storage_url
    warc_files: list[Path | str] = field(default_factory=list)
    cdxj_files: list[Path | str] = field(default_factory=list)
    skipped: int = 0
    fetches: int = 0
    failed: list[dict[str, str]] = field(default_factory=list)
    skipped_by_reason: dict[str, int] = field(default_factory=dict)
    report: Path | None = None
    error: str | None = None
    seeds: list[dict[str, Any]] = field(default_factory=list)  # see crawler.seeds

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id, "status": self.status, "pages": self.pages,
            "bytes": self.bytes, "errors": self.errors, "revisits": self.revisits,
            "skipped": self.skipped, "fetches": self.fetches,
            "warc_files": [str(p) for p in self.warc_files],
            "cdxj_files": [str(p) for p in self.cdxj_files],
            "skipped_by_reason": self.skipped_by_reason, "failed": self.failed,
            "report": str(self.report) if self.report else None, "error": self.error,
            "seeds": self.seeds,
        }


def site_name_for(url: str) -> str:
    p = urlsplit(url)
    name = (p.hostname or "site") + (f"-{p.port}" if p.port else "")
    return re.sub(r"[^A-Za-z0-9._-]", "-", name)[:100]


def _check_writable(settings: Settings) -> None:
    """The folders a crawl writes and the bucket it stores in (``check_storage``): a problem
    stops the command before it crawls."""
    from archive.storage import check_storage

    check_storage(settings)
    for d in (settings.warc_dir, settings.index_dir, settings.runs_dir):
        try:
            d.mkdir(parents=True, exist_ok=True)
            probe = d / f".probe-{os.getpid()}"
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            raise StorageError(f"cannot write in {d}: {exc.strerror}") from None


def _prepare(
    settings: Settings, site_name: str | None, urls: list[str] | None,
    resume_run_id: int | None, patch_run_id: int | None,
) -> CrawlJob:
    with session_scope(settings) as db:
        if resume_run_id is not None:
            run = db.get(CrawlRun, resume_run_id)
            if run is None:
                raise NotFoundError(f"no crawl run {resume_run_id}")
            if run.status == "running" and run.pid and _alive(run.pid):
                raise BewaarError(f"run {resume_run_id} is still running (pid {run.pid})")
            site = run.site
            job = _job(settings, run, site, run.seeds, kind=run.kind,
                       follow=run.kind != "patch", resume=True)
            run.status, run.finished_at, run.error = "running", None, None
            return job
        if patch_run_id is not None:
            parent = db.get(CrawlRun, patch_run_id)
            if parent is None:
                raise NotFoundError(f"no crawl run {patch_run_id}")
            seeds = _seeds(urls or [])
            if not seeds:
                raise BewaarError(f"nothing to patch for run {patch_run_id}: no URLs given")
            site = parent.site
            run = CrawlRun(site_id=site.id, kind="patch", parent_run_id=patch_run_id, seeds=seeds)
            db.add(run)
            db.flush()
            return _job(settings, run, site, seeds, kind="patch", follow=False, resume=False)
        if site_name:
            found = db.scalar(select(Site).where(Site.name == site_name))
            if found is None:
                raise NotFoundError(f"no site named {site_name!r} (see `bewaar site list`)")
            site = found
            seeds = _seeds(urls) if urls else list(site.seeds)
        elif urls:
            seeds = _seeds(urls)
            name = site_name_for(seeds[0])
            existing = db.scalar(select(Site).where(Site.name == name))
            if existing is None:
                existing = Site(name=name, seeds=seeds, include=[], exclude=[], robots="obey")
                db.add(existing)
                db.flush()
            site = existing
        else:
            raise BewaarError("give one or more URLs or --site NAME")
        if not seeds:
            raise BewaarError(f"site {site.name!r} has no seeds")
        run = CrawlRun(site_id=site.id, kind="crawl", seeds=seeds)
        db.add(run)
        db.flush()
        return _job(settings, run, site, seeds, kind="crawl", follow=True, resume=False)


def _seeds(urls: list[str]) -> list[str]:
    out = []
    for u in urls:
        try:
            out.append(normalise_seed(u))
        except ValueError as exc:
            raise BewaarError(str(exc)) from None
    return out


def _job(settings: Settings, run: CrawlRun, site: Site, seeds: list[str], *, kind: str,
         follow: bool, resume: bool) -> CrawlJob:
    return CrawlJob(
        run_id=run.id, site_id=site.id, site_name=site.name, kind=kind, seeds=seeds,
        include=list(site.include or []), exclude=list(site.exclude or []),
        max_pages=site.max_pages or settings.default_max_pages,
        max_depth=site.max_depth if site.max_depth is not None else settings.default_max_depth,
        robots=site.robots or "obey", follow_links=follow, resume=resume,
    ).bind(settings)


def _alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (an exited one that nobody reaped is a zombie: dead)."""
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def repair_run(settings: Settings, job: CrawlJob) -> int:
    """Repair the run's .open WARCs, register them, drop captures their repair cut off."""
    from archive.warc.repair import repair_open_files  # only after a crash: keep start-up light

    if not job.warc_dir.is_dir():
        return 0
    with session_scope(settings) as db:  # where the records that were recorded end, per file
        ends: dict[str, int] = {str(name): int(end or 0) for name, end in db.execute(
            select(Capture.warc_filename, func.max(Capture.offset + Capture.length))
            .where(Capture.run_id == job.run_id, Capture.warc_filename.is_not(None))
            .group_by(Capture.warc_filename))}
    # A record written but not recorded (its rows were lost with the worker, or the database
    # refused them) is cut off with the rest: the resume fetches it again, not held twice.
    results = repair_open_files(job.warc_dir, job.index_dir, lambda name: ends.get(name, 0))
    with session_scope(settings) as db:
        for r in results:
            if r.status != "repaired" or not r.sha256:
                continue
            db.add(WarcFile(run_id=job.run_id, filename=r.path.name, path=str(r.path),
                            size=r.size, sha256=r.sha256, sha512=r.sha512, records=r.records,
                            cdxj_path=str(r.cdxj_path) if r.cdxj_path else None,
                            cdxj_sha256=r.cdxj_sha256))
        db.flush()
        sizes = {f.filename: f.size for f in db.scalars(
            select(WarcFile).where(WarcFile.run_id == job.run_id))}
        bad = [c.id for c in db.execute(
            select(Capture.id, Capture.warc_filename, Capture.offset, Capture.length)
            .where(Capture.run_id == job.run_id, Capture.warc_filename.is_not(None)))
            if c.warc_filename not in sizes
            or (c.offset or 0) + (c.length or 0) > sizes[c.warc_filename]]
        if bad:
            db.execute(delete(Capture).where(Capture.id.in_(bad)))
    return len(results)


def run_crawl(
    settings: Settings,
    *,
    site_name: str | None = None,
    urls: list[str] | None = None,
    resume_run_id: int | None = None,
    patch_run_id: int | None = None,
    progress: Callable[[CrawlProgress], None] | None = None,
) -> CrawlResult:
    """Crawl in a worker process; return when the run has ended (finished or interrupted)."""
    from archive.storage import in_use

    with in_use(settings):  # a resume's WARCs fetched from a bucket stay while it reads them
        return _run_crawl(settings, site_name=site_name, urls=urls,
                          resume_run_id=resume_run_id, patch_run_id=patch_run_id,
                          progress=progress)


def _run_crawl(
    settings: Settings,
    *,
    site_name: str | None = None,
    urls: list[str] | None = None,
    resume_run_id: int | None = None,
    patch_run_id: int | None = None,
    progress: Callable[[CrawlProgress], None] | None = None,
) -> CrawlResult:
    _check_writable(settings)
    proc = prestart.take()  # it imports Scrapy while this process prepares the run
    assert proc.stdin is not None and proc.stdout is not None and proc.stderr is not None
    try:
        job = start_job(settings, proc.pid, site_name=site_name, urls=urls,
                        resume_run_id=resume_run_id, patch_run_id=patch_run_id)
    except BaseException:
        proc.kill()
        prestart.wait_closed(proc)
        raise
    run_dir = settings.runs_dir / str(job.run_id)
    state = RunState(settings, job, progress)
    try:
        proc.stdin.write(encode_job(job, settings))
        proc.stdin.close()
    except BrokenPipeError:
        pass

    def read_worker() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            try:
                msg = json.loads(line)
            except ValueError:
                continue
            state.handle(msg)

    try:
        read_worker()
    except KeyboardInterrupt:
        # Ctrl-C reached the worker too (same process group): Scrapy stops gracefully, closes
        # its WARC and reports. A second Ctrl-C stops waiting; the run is then repaired.
        try:
            read_worker()
        except KeyboardInterrupt:
            proc.kill()
    except BaseException:  # the record cannot be kept (the database failed): stop the crawl
        proc.kill()
        prestart.wait_closed(proc)
        raise
    early_stderr = proc.stderr.read()  # what the worker wrote before it opened worker.log
    prestart.wait_closed(proc)
    if early_stderr:
        try:
            with open(run_dir / "worker.log", "ab") as fh:
                fh.write(early_stderr)
        except OSError as exc:  # a full disk: the run's outcome is recorded all the same
            log.error("cannot write %s: %s", run_dir / "worker.log", exc.strerror)
    state.wait_uploads()
    return _finish(settings, job, state.done, proc.returncode, state.seeds)


def start_job(settings: Settings, pid: int, *, site_name: str | None = None,
              urls: list[str] | None = None, resume_run_id: int | None = None,
              patch_run_id: int | None = None) -> CrawlJob:
    """Make (or reopen, for a resume) the run and the job a worker with ``pid`` will crawl:
    the resumed run's WARCs repaired and its stored captures read back, the site's known
    payload digests read, the run marked as crawled by ``pid``."""
    job = _prepare(settings, site_name, urls, resume_run_id, patch_run_id)
    if job.resume:
        repair_run(settings, job)
        job.stored = ledger.stored_captures(settings, job).to_json()
    job.known_digests = ledger.known_digests(settings, job.site_id)
    (settings.runs_dir / str(job.run_id)).mkdir(parents=True, exist_ok=True)
    with session_scope(settings) as db:
        run = db.get(CrawlRun, job.run_id)
        assert run is not None
        run.pid = pid
    return job


class RunState:
    """What the command keeps of one run while a worker crawls it: each ``rows``/``warc``
    message stored as it arrives, progress passed on, the seeds' outcome and the ``done``
    line kept for ``finish_run``."""

    def __init__(self, settings: Settings, job: CrawlJob,
                 progress: Callable[[CrawlProgress], None] | None = None) -> None:
        self.settings, self.job, self.progress = settings, job, progress
        self.done: dict[str, Any] | None = None
        self.seeds: list[dict[str, Any]] | None = None
        self.last = CrawlProgress(run_id=job.run_id)
        self._uploads: Any = None  # one thread that hands finished WARCs to the bucket
        self.upload_errors: list[str] = []

    def handle(self, msg: dict[str, Any]) -> None:
        kind = msg.get("type")
        if kind == "warc" and self.settings.storage_url \
                and self.settings.storage_url.startswith("s3://"):
            if self._uploads is None:  # uploads must not hold up reading the worker's lines
                from concurrent.futures import ThreadPoolExecutor

                self._uploads = ThreadPoolExecutor(1, thread_name_prefix="upload")
            self._uploads.submit(self._store_warc, msg)
        elif kind in ("rows", "warc"):
            ledger.store(self.settings, self.job.run_id, msg)
        elif kind == "progress":
            self.last = CrawlProgress(run_id=self.job.run_id, **{
                k: int(msg.get(k, 0)) for k in
                ("pages", "fetches", "bytes", "errors", "revisits", "queue", "skipped")})
            if self.progress is not None:
                self.progress(self.last)
        elif kind == "seeds":
            self.seeds = list(msg.get("seeds") or [])
        elif kind == "done":
            self.done = msg

    def _store_warc(self, msg: dict[str, Any]) -> None:
        """Upload a finished WARC and its CDXJ, then record it (under its local path when the
        upload failed: ``push_run`` retries it)."""
        from archive.handover import store_warc

        try:
            stored, error = store_warc(self.settings, self.job.site_name, msg)
            if error:
                self.upload_errors.append(error)
            ledger.store(self.settings, self.job.run_id, stored)
        except Exception as exc:  # noqa: BLE001 - kept for the run's end, never lost
            self.upload_errors.append(f"cannot record WARC {msg.get('filename')}: {exc}")

    def wait_uploads(self) -> None:
        """Wait for the WARCs handed to the upload thread (each recorded when it is done)."""
        if self._uploads is not None:
            self._uploads.shutdown(wait=True)
            self._uploads = None


def finish_run(settings: Settings, state: RunState, returncode: int | None) -> CrawlResult:
    """End the run's record: ``finished``, ``failed`` (no seed captured, with the reason) or
    ``interrupted`` (no ``done`` line: the worker stopped), with its counts and report."""
    state.wait_uploads()
    return _finish(settings, state.job, state.done, returncode, state.seeds)


def _finish(settings: Settings, job: CrawlJob, done: dict[str, Any] | None,
            returncode: int | None, seeds: list[dict[str, Any]] | None = None) -> CrawlResult:
    error: str | None
    not_stored_from: str | None = None
    if done is None:
        status = "interrupted"
        error = f"the crawl worker stopped (exit {returncode}); resume with --resume {job.run_id}"
        repair_run(settings, job)
    else:
        status = str(done.get("status", "failed"))
        error = done.get("error")
        if status != "finished":
            repair_run(settings, job)  # a .open file the worker could not finish
        elif seeds is not None and not any_captured(seeds):
            status, error = "failed", why_none_captured(seeds)
    if settings.storage_url and settings.storage_url.startswith("s3://"):
        from archive.handover import push_run  # failed uploads once more, repaired files

        problems = push_run(settings, job.run_id)
        if problems:
            not_stored_from = status  # what it is again once push_run has stored them
            status = "failed"
            error = (f"{len(problems)} WARC file(s) are finished on this machine but not "
                     f"stored: {problems[0]}; `bewaar seal {job.run_id}` stores "
                     "them once the bucket takes them")
    with session_scope(settings) as db:
        run = db.get(CrawlRun, job.run_id)
        assert run is not None
        base = select(func.count()).select_from(Capture).where(Capture.run_id == job.run_id)
        pages = db.scalar(base.where(Capture.is_page.is_(True))) or 0
        errors = db.scalar(base.where(Capture.status.is_(None))) or 0
        revisits = db.scalar(base.where(Capture.record_type == "revisit")) or 0
        fetches = db.scalar(base) or 0
        files = list(db.scalars(select(WarcFile).where(WarcFile.run_id == job.run_id)
                                .order_by(WarcFile.id)))
        new_bytes = int(done.get("bytes", 0)) if done else 0
        run.bytes = (run.bytes or 0) + new_bytes if job.resume else new_bytes
        run.status = status
        run.finished_at = datetime.now(UTC)
        run.pages, run.errors, run.revisits = pages, errors, revisits
        run.error = error
        run.pid = None
        stats = dict(run.stats or {})
        stats.update({
            "fetches": fetches,
            "skipped": (done or {}).get("skipped", stats.get("skipped", 0)),
            "skipped_by_reason": (done or {}).get("skipped_by_reason",
                                                  stats.get("skipped_by_reason", {})),
            "warc_bytes": sum(f.size for f in files),
        })
        if seeds is not None:
            stats["seeds"] = seeds
        if not_stored_from is not None:
            stats["not_stored_from"] = not_stored_from
        else:
            stats.pop("not_stored_from", None)
        run.stats = stats
        result = CrawlResult(
            run_id=job.run_id, status=status, pages=pages, bytes=run.bytes, errors=errors,
            revisits=revisits, warc_files=[_shown(f.path) for f in files],
            cdxj_files=[_shown(f.cdxj_path) for f in files if f.cdxj_path],
            skipped=int(stats.get("skipped", 0)), fetches=fetches,
            failed=list((done or {}).get("failed", [])),
            skipped_by_reason=dict(stats.get("skipped_by_reason", {})),
            report=(settings.runs_dir / str(job.run_id) / "report.json"), error=error,
            seeds=list(stats.get("seeds", [])),
        )
    result.report = _write_report(settings, job, result)
    return result


def _shown(location: str) -> Path | str:
    """A recorded location as CrawlResult lists it: a local path, or an s3:// URL as text."""
    return location if "://" in location else Path(location)


def _write_report(settings: Settings, job: CrawlJob, result: CrawlResult) -> Path | None:
    """The run's report.json with the run's final status, its error and every seed's outcome.

    The worker wrote the counts; the status it knew was only whether Scrapy finished.
    None when it cannot be written (the run's record in the database stands).
    """
    path = settings.runs_dir / str(job.run_id) / "report.json"
    report: dict[str, Any] = {}
    try:
        report = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):  # the worker died before it wrote one
        report = {"run_id": job.run_id, "site": job.site_name, "kind": job.kind,
                  "pages": result.pages, "fetches": result.fetches, "bytes": result.bytes,
                  "errors": result.errors, "revisits": result.revisits,
                  "skipped": result.skipped, "skipped_by_reason": result.skipped_by_reason,
                  "failed": result.failed,
                  "warc_files": [str(p) for p in result.warc_files]}
    report.update({"status": result.status, "error": result.error, "seeds": result.seeds})
    try:
        write_atomic(path, json.dumps(report, indent=2, ensure_ascii=False).encode("utf-8"))
    except OSError as exc:  # a full disk: the database holds the run's outcome all the same
        log.error("cannot write %s: %s", path, exc.strerror)
        return None
    return path
