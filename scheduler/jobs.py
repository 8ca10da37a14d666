"""Job functions the scheduler runs, referenced as ``"module:function"`` strings.

``@tracked(kind)`` turns a body ``f(ctx, target, *args)`` into a job ``f(target, *args)`` that
takes the database lock ``kind:target`` (so a site or source never runs twice at once, also not
from two service processes), records a ``JobRun`` (start, end, result, error) and an audit row.
The same jobs run in `bewaar worker` from the task queue (``scheduler.tasks``); one run again
after its worker went silent takes the dead run over first (``scheduler.takeover``).
``harvest_window`` is the ``harvest_window`` setting's job: one harvest of the due sites.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from archive.db import open_db
from archive.errors import BewaarError
from archive.models import JobRun, utcnow
from archive.settings import Settings, load_settings
from bewaar.services.audit import SERVICE
from bewaar.services.audit import record as audit_row
from scheduler import locks, takeover

log = logging.getLogger(__name__)

# How long a job waits for the database to come back (a restart, a fail-over) before it gives up
# recording or resuming what it was doing.
DATABASE_PATIENCE = 120.0
CRAWL_TRIES = 3  # a crawl whose database went away resumes, at most this often in one job


@dataclass
class Runtime:
    """What a job needs from the service process that runs it."""

    settings: Settings
    sessions: sessionmaker[Session]
    owner: str
    lock_ttl: float = 60.0
    # Set when a `bewaar worker` runs the job from the task queue (scheduler.tasks): the
    # queue's job id and which attempt this is (above 1: its earlier worker went silent).
    queue_job: int | None = None
    queue_attempt: int = 1


_local = threading.local()
_default: Runtime | None = None
_default_lock = threading.Lock()


def set_runtime(runtime: Runtime | None) -> None:
    """The runtime of jobs run in this thread (the service's executor sets it)."""
    _local.runtime = runtime


def runtime() -> Runtime:
    rt: Runtime | None = getattr(_local, "runtime", None)
    if rt is not None:
        return rt
    global _default
    with _default_lock:
        if _default is None:
            settings = load_settings()
            _default = Runtime(settings, open_db(settings), locks.make_owner())
        return _default


@dataclass
class JobContext:
    """Handed to a job body: settings, the database, and the job run being recorded."""

    settings: Settings
    sessions: sessionmaker[Session]
    job_run_id: int
    attempt: int

    def note(self, **data: Any) -> None:
        """Merge ``data`` into the run's recorded result (progress, the crawl run id, …)."""
        with self.sessions() as db:
            run = db.get(JobRun, self.job_run_id)
            if run is None:
                return
            run.result = {**(run.result or {}), **data}
            if isinstance(data.get("crawl_run_id"), int):
                run.crawl_run_id = data["crawl_run_id"]
            db.commit()


def database_lost(exc: BaseException) -> bool:
    """Whether ``exc`` is the database connection going away (not a bad statement)."""
    from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError

    return isinstance(exc, (OperationalError, InterfaceError)) or (
        isinstance(exc, DBAPIError) and bool(exc.connection_invalidated))


def wait_for_database(sessions: sessionmaker[Session], patience: float = DATABASE_PATIENCE) -> bool:
    """Wait (bounded) until the database answers again; whether it does."""
    from sqlalchemy import text

    deadline = time.monotonic() + patience
    while True:
        try:
            with sessions() as db:
                db.execute(text("SELECT 1"))
            return True
        except Exception as exc:  # noqa: BLE001 - only a lost connection is waited for
            if not database_lost(exc) or time.monotonic() >= deadline:
                return False
            time.sleep(1.0)


def _when_database_back(sessions: sessionmaker[Session], what: Callable[[], None]) -> None:
    """Do ``what`` (a write); if the database is gone, again once it is back (bounded)."""
    try:
        what()
    except Exception as exc:
        if not database_lost(exc) or not wait_for_database(sessions):
            raise
        log.warning("the database came back after %s", type(exc).__name__)
        what()


Body = Callable[..., dict[str, Any]]


def tracked(kind: str) -> Callable[[Body], Callable[..., dict[str, Any]]]:
    """Decorate a job body ``f(ctx, target, *args, **kwargs) -> dict``."""

    def decorate(body: Body) -> Callable[..., dict[str, Any]]:
        ref = f"{body.__module__}:{body.__name__}"

        @functools.wraps(body)
        def job(target: str, *args: Any, retry_of: int | None = None, attempt: int = 1,
                **kwargs: Any) -> dict[str, Any]:
            rt = runtime()
            lock = f"{kind}:{target}"
            took: dict[str, Any] = {}
            if rt.queue_job is not None and rt.queue_attempt > 1:
                took = takeover.take_over(rt, kind, target, lock)
                if took:
                    retry_of, attempt = took["job_run"], took["attempt"]
                    if took.get("resume_run_id") is not None:
                        kwargs["resume_run_id"] = took["resume_run_id"]
            record = JobRun(
                kind=kind, target=target, func=ref, args=[target, *args], owner=rt.owner,
                retry_of=retry_of, attempt=attempt, result={"kwargs": kwargs} if kwargs else {},
                job_id=f"queue:{rt.queue_job}" if rt.queue_job is not None else None,
            )
            if not takeover.acquire(rt, lock, patient=bool(took)):
                other = locks.holder(rt.sessions, lock)
                with rt.sessions() as db:
                    record.status = "skipped"
                    record.finished_at = utcnow()
                    record.error = f"{kind} {target!r} is already running (lock held by {other})"
                    db.add(record)
                    audit_row(db, SERVICE, f"{kind}.skip", target, outcome="skipped",
                          reason=record.error)
                    db.commit()
                log.info("skipped %s %s: already running", kind, target)
                return {"skipped": True}
            try:
                with rt.sessions() as db:
                    db.add(record)
                    audit_row(db, SERVICE, f"{kind}.start", target, attempt=attempt)
                    db.commit()
                    run_id = record.id
                ctx = JobContext(rt.settings, rt.sessions, run_id, attempt)
                status, error, result = "finished", None, {}
                try:
                    result = body(ctx, target, *args, **kwargs) or {}
                except Exception as exc:  # recorded, then the next run is tried as scheduled
                    status, error = "failed", f"{type(exc).__name__}: {exc}"
                    log.error("%s %s failed: %s\n%s", kind, target, error, traceback.format_exc())

                def end() -> None:
                    with rt.sessions() as db:
                        run = db.get(JobRun, run_id)
                        if run is not None:
                            run.status = status
                            run.error = error
                            run.finished_at = utcnow()
                            run.result = {**(run.result or {}), **result}
                        audit_row(db, SERVICE, f"{kind}.{status}", target,
                                  outcome="ok" if status == "finished" else "failed",
                                  job_run=run_id, error=error)
                        db.commit()
                _when_database_back(rt.sessions, end)  # never left `running` by a restart
                return {"status": status, "job_run_id": run_id, **result}
            finally:
                _when_database_back(rt.sessions,
                                    lambda: locks.release(rt.sessions, lock, rt.owner))

        job.__dict__["job_kind"] = kind
        return job

    return decorate


def _finished(ctx: JobContext, run_id: int) -> bool:
    from archive.models import CrawlRun

    with ctx.sessions() as db:
        crawl = db.get(CrawlRun, run_id)
        return crawl is not None and crawl.status == "finished"


@tracked("crawl")
def crawl_site(ctx: JobContext, name: str, resume_run_id: int | None = None) -> dict[str, Any]:
    """Crawl a registered site (or resume an interrupted run of it), then index, QA and seal."""
    from bewaar.services.crawls import crawl

    started: list[int] = []

    def progress(p: Any) -> None:
        run_id = getattr(p, "run_id", None)
        if isinstance(run_id, int):
            if not started:
                started.append(run_id)
            ctx.note(crawl_run_id=run_id)

    if resume_run_id is not None and _finished(ctx, resume_run_id):
        # taken over after its crawl had ended: only the after-steps are left
        from bewaar.services.crawls import after_crawl
        from bewaar.services.queries import get_run

        ctx.note(crawl_run_id=resume_run_id, resumed_from=resume_run_id)
        steps = after_crawl(ctx.settings, SERVICE, resume_run_id)
        with ctx.sessions() as db:
            done = get_run(db, resume_run_id)
            return {"crawl_run_id": done.id, "crawl_status": done.status, "pages": done.pages,
                    "bytes": done.bytes, "errors": done.errors, "revisits": done.revisits,
                    "after_crawl": steps}
    if resume_run_id is not None:
        ctx.note(crawl_run_id=resume_run_id, resumed_from=resume_run_id)
        aside = takeover.set_aside_foreign_open_files(ctx.settings, resume_run_id)
        if aside:
            ctx.note(set_aside=aside)
        started.append(resume_run_id)
    for tries in range(1, CRAWL_TRIES + 1):
        try:
            if started:
                result, after = crawl(ctx.settings, SERVICE, resume=started[0],
                                      progress=progress)
            else:
                result, after = crawl(ctx.settings, SERVICE, site=name, progress=progress)
            break
        except Exception as exc:
            # The database went away mid-crawl (a restart): the crawl stopped, as nothing more
            # could be recorded. Once it is back, the same run resumes from what it stored.
            if not database_lost(exc) or not started or tries == CRAWL_TRIES \
                    or not wait_for_database(ctx.sessions):
                raise
            from scheduler.tasks import _scrub  # a password in the message shown as ***

            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            reason = _scrub(reason, ctx.settings)
            log.warning("crawl run %s: the database went away (%s); resuming it", started[0],
                        reason)
            ctx.note(database_lost=tries, resumed_from=started[0])
    ctx.note(crawl_run_id=result.run_id, crawl_status=result.status, pages=result.pages)
    if result.status == "failed":  # it captured nothing: the job failed too
        raise BewaarError(f"crawl run {result.run_id} failed: {result.error}")
    return {
        "crawl_run_id": result.run_id,
        "crawl_status": result.status,
        "pages": result.pages,
        "bytes": result.bytes,
        "errors": result.errors,
        "revisits": result.revisits,
        "after_crawl": after,
    }


@tracked("chat")
def export_chat(ctx: JobContext, name: str) -> dict[str, Any]:
    """Export a chat source incrementally into a sealed package."""
    from bewaar.services.chats import export

    result = export(ctx.settings, SERVICE, name)
    return {
        "package": str(result.package) if result.package else None,
        "events": result.events,
        "rooms": result.rooms,
    }


def due_sites(ctx: JobContext) -> list[str]:
    """The sites a harvest window takes: active sites whose schedule fired since the last
    finished window began (a day back for the first) and that finished no crawl since it
    fired (a killed window's finished sites are not crawled again), and those whose last run
    is unfinished (a killed window's: resumed)."""
    from sqlalchemy import func, select

    from archive.models import CrawlRun, Site
    from crawler.harvest import unfinished_runs
    from scheduler.cron import parse_cron

    now = utcnow()
    with ctx.sessions() as db:
        last = db.scalar(select(JobRun.started_at)
                         .where(JobRun.kind == "harvest", JobRun.status == "finished",
                                JobRun.id != ctx.job_run_id)
                         .order_by(JobRun.started_at.desc()).limit(1))
        sites = list(db.execute(select(Site.name, Site.schedule)
                                .where(Site.retired_at.is_(None), Site.schedule.is_not(None))
                                .order_by(Site.name)))
        crawled: dict[str, Any] = {name: at for name, at in db.execute(
            select(Site.name, func.max(CrawlRun.started_at))
            .join(CrawlRun, CrawlRun.site_id == Site.id)
            .where(CrawlRun.status == "finished", CrawlRun.kind == "crawl")
            .group_by(Site.name))}
    since = locks.as_utc(last) if last is not None else now - timedelta(days=1)
    due = []
    for name, cron in sites:
        try:
            fire = parse_cron(str(cron)).get_next_fire_time(None, since)
        except Exception as exc:  # noqa: BLE001 - a bad row must not stop the others
            log.error("site %s: schedule %r: %s", name, cron, exc)
            continue
        last_crawl = crawled.get(name)
        if fire is not None and fire <= now \
                and (last_crawl is None or locks.as_utc(last_crawl) < fire):
            due.append(name)
    unfinished = unfinished_runs(ctx.settings, [n for n, _ in sites])
    return sorted({*due, *unfinished})


@tracked("harvest")
def harvest_window(ctx: JobContext, name: str) -> dict[str, Any]:
    """The harvest window (``harvest_window``): every due site at once, each its own run."""
    from bewaar.services.harvesting import harvest

    due = due_sites(ctx)
    ctx.note(sites=due)
    if not due:
        return {"sites": [], "failed": 0}
    result = harvest(ctx.settings, SERVICE, sites=due)
    return {"sites": due, "failed": result["failed"], "seconds": result["seconds"],
            "runs": [{k: r.get(k) for k in ("site", "run_id", "status", "pages", "package",
                                             "error")} for r in result["runs"]]}


JOB_FUNCS = {"crawl": "scheduler.jobs:crawl_site", "chat": "scheduler.jobs:export_chat",
             "harvest": "scheduler.jobs:harvest_window"}
