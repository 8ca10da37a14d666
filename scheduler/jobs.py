"""Job functions the scheduler runs, referenced as ``"module:function"`` strings.

``@tracked(kind)`` turns a body ``f(ctx, target, *args)`` into a job ``f(target, *args)`` that
takes the database lock ``kind:target`` (so a site or source never runs twice at once, also not
from two service processes), records a ``JobRun`` (start, end, result, error) and an audit row.
"""

from __future__ import annotations

import functools
import logging
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from archive.db import open_db
from archive.errors import BewaarError
from archive.models import JobRun, utcnow
from archive.settings import Settings, load_settings
from bewaar.services.audit import SERVICE
from bewaar.services.audit import record as audit_row
from scheduler import locks

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What a job needs from the service process that runs it."""

    settings: Settings
    sessions: sessionmaker[Session]
    owner: str
    lock_ttl: float = 60.0


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
            record = JobRun(
                kind=kind, target=target, func=ref, args=[target, *args], owner=rt.owner,
                retry_of=retry_of, attempt=attempt, result={"kwargs": kwargs} if kwargs else {},
            )
            if not locks.acquire(rt.sessions, lock, rt.owner, rt.lock_ttl):
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
                return {"status": status, "job_run_id": run_id, **result}
            finally:
                locks.release(rt.sessions, lock, rt.owner)

        job.__dict__["job_kind"] = kind
        return job

    return decorate


@tracked("crawl")
def crawl_site(ctx: JobContext, name: str, resume_run_id: int | None = None) -> dict[str, Any]:
    """Crawl a registered site (or resume an interrupted run of it), then index, QA and seal."""
    from bewaar.services.crawls import crawl

    def progress(p: Any) -> None:
        run_id = getattr(p, "run_id", None)
        if isinstance(run_id, int):
            ctx.note(crawl_run_id=run_id)

    if resume_run_id is not None:
        ctx.note(crawl_run_id=resume_run_id, resumed_from=resume_run_id)
        result, after = crawl(ctx.settings, SERVICE, resume=resume_run_id, progress=progress)
    else:
        result, after = crawl(ctx.settings, SERVICE, site=name, progress=progress)
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


JOB_FUNCS = {"crawl": "scheduler.jobs:crawl_site", "chat": "scheduler.jobs:export_chat"}
