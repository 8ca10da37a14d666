"""A queued job run again after its `bewaar worker` went silent (``scheduler.tasks``): the run
the dead worker left ``running`` is taken over (marked interrupted, its lock freed, what to
resume named), and its crawl's unfinished WARC, whose index is on the dead worker's disk, is
set aside rather than recorded.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from archive.db import open_db
from archive.models import JobRun, utcnow
from archive.settings import Settings
from bewaar.services.audit import SERVICE
from bewaar.services.audit import record as audit_row
from scheduler import locks

if TYPE_CHECKING:
    from scheduler.jobs import Runtime

log = logging.getLogger(__name__)


def acquire(rt: Runtime, lock: str, *, patient: bool) -> bool:
    """Take the target's lock; a job taken over from a silent worker waits (bounded) for the
    dead worker's lock to lapse."""
    if locks.acquire(rt.sessions, lock, rt.owner, rt.lock_ttl):
        return True
    if not patient:
        return False
    deadline = time.monotonic() + rt.lock_ttl * 2 + 5
    while time.monotonic() < deadline:
        time.sleep(0.5)
        if locks.acquire(rt.sessions, lock, rt.owner, rt.lock_ttl):
            return True
    return False


def take_over(rt: Runtime, kind: str, target: str, lock: str) -> dict[str, Any]:
    """A queued job run again after its worker went silent: mark the run that worker left
    ``running`` interrupted, free its lock, and say what to resume. ``{}`` when it left none
    (it died before it started the job)."""
    from sqlalchemy import delete, select, update

    from archive.models import CrawlRun, ServiceLock
    from scheduler.recovery import interrupted_crawl

    with rt.sessions() as db:
        run = db.scalar(select(JobRun).where(JobRun.job_id == f"queue:{rt.queue_job}",
                                             JobRun.status == "running", JobRun.owner != rt.owner)
                        .order_by(JobRun.id.desc()))
        if run is None:
            return {}
        won = db.execute(update(JobRun).where(JobRun.id == run.id, JobRun.status == "running")
                         .values(status="interrupted", finished_at=utcnow(),
                                 error=f"interrupted: worker {run.owner} stopped"))
        if won.rowcount != 1:  # type: ignore[attr-defined]
            db.rollback()
            return {}
        out: dict[str, Any] = {"job_run": run.id, "attempt": run.attempt + 1, "owner": run.owner}
        if kind == "crawl":
            _wait_for_crawler(db, run)
            out["resume_run_id"] = interrupted_crawl(db, run, rt.lock_ttl)
            if out["resume_run_id"] is None and run.crawl_run_id is not None \
                    and not (run.result or {}).get("after_crawl"):
                crawl = db.get(CrawlRun, run.crawl_run_id)
                if crawl is not None and crawl.status == "finished":
                    # its crawl had ended; the worker died in the after-steps: do those
                    out["resume_run_id"] = crawl.id
        if kind == "harvest":  # its sites' runs: interrupted, for the harvest to resume
            since = locks.as_utc(run.started_at) - timedelta(seconds=5)
            for crawl in db.scalars(select(CrawlRun).where(CrawlRun.status == "running",
                                                           CrawlRun.started_at >= since)):
                crawl.status = "interrupted"
                crawl.finished_at = utcnow()
                crawl.error = f"interrupted: worker {run.owner} stopped"
                out.setdefault("runs", []).append(crawl.id)
        db.execute(delete(ServiceLock).where(ServiceLock.name == lock,
                                             ServiceLock.owner == run.owner))
        audit_row(db, SERVICE, "job.interrupted", f"{kind}:{target}", outcome="failed",
                  job_run=run.id, owner=run.owner, next="resume" if out.get("resume_run_id")
                  else "retry", taken_over_by=rt.owner)
        db.commit()
    for crawl_id in out.get("runs", []):
        set_aside_foreign_open_files(rt.settings, crawl_id)
    log.warning("took over %s %s from silent worker %s (job run %s, crawl run %s)", kind,
                target, out["owner"], out["job_run"], out.get("resume_run_id") or
                out.get("runs"))
    return out


def _wait_for_crawler(db: Session, run: JobRun) -> None:
    """On the dead worker's own host, wait (bounded) until its crawl process has stopped too:
    it stops at its next write to the gone worker, and must not write while the run resumes."""
    from archive.models import CrawlRun

    if run.crawl_run_id is None or run.owner.partition(":")[0] != locks.HOST:
        return
    crawl = db.get(CrawlRun, run.crawl_run_id)
    pid = crawl.pid if crawl is not None else None
    deadline = time.monotonic() + 30
    while pid and locks.pid_running(pid) and time.monotonic() < deadline:
        time.sleep(0.2)


def set_aside_foreign_open_files(settings: Settings, run_id: int) -> list[str]:
    """Before a run resumes on another machine: its ``.open`` WARC, written by the worker that
    died, has its index on that worker's disk, so it is not repaired here (it would be recorded
    with no index). It is set aside as ``….open.abandoned``, never recorded as stored; the
    captures that pointed into it are dropped by the resume's repair and fetched again."""
    from archive.models import CrawlRun

    with open_db(settings)() as db:
        crawl = db.get(CrawlRun, run_id)
        if crawl is None:
            return []
        site = crawl.site.name
    warcs = settings.warc_dir / site / str(run_id)
    index = settings.index_dir / site
    aside = []
    for path in sorted(warcs.glob("*.warc.gz.open")) if warcs.is_dir() else []:
        stem = path.name.removesuffix(".warc.gz.open")
        if not (index / f"{stem}.cdxj.open").exists():
            path.replace(path.with_name(path.name + ".abandoned"))
            aside.append(path.name)
    if aside:
        log.warning("run %s: set aside %s, written by a worker that stopped", run_id, aside)
    return aside
