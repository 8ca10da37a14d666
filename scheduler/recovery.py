"""Recovery at start (and now and then while running): job runs left "running" by a service
process that died are marked interrupted; an interrupted crawl is resumed from its crawl run,
any other job is retried, up to ``MAX_ATTEMPTS`` attempts. Runs of `bewaar worker` jobs
(``job_id`` "queue:…") are left to the task queue, which retries a job whose worker went
silent (``scheduler.tasks.retry_stalled``, ``scheduler.jobs.take_over``)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session, sessionmaker

from archive.models import CrawlRun, JobRun, Site, utcnow
from bewaar.services.audit import SERVICE, record
from scheduler import locks

log = logging.getLogger(__name__)
MAX_ATTEMPTS = 3

Enqueue = Callable[[str, list[Any], dict[str, Any]], str]


def interrupted_crawl(db: Session, run: JobRun, ttl: float) -> int | None:
    """Mark the crawl run(s) the dead job left running as interrupted; return the one to resume."""
    if run.crawl_run_id is not None:
        candidates = [db.get(CrawlRun, run.crawl_run_id)]
    else:
        since = locks.as_utc(run.started_at) - timedelta(seconds=5)
        candidates = list(
            db.scalars(
                select(CrawlRun)
                .join(Site)
                .where(Site.name == run.target, CrawlRun.started_at >= since)
                .order_by(CrawlRun.id.desc())
            )
        )
    resume: int | None = None
    for crawl in candidates:
        if crawl is None:
            continue
        if crawl.status == "running":
            crawl.status = "interrupted"
            crawl.finished_at = utcnow()
            crawl.error = (crawl.error or "") + "interrupted: the service process stopped"
        if crawl.status == "interrupted" and resume is None:
            resume = crawl.id
    return resume


def recover(sessions: sessionmaker[Session], me: str, ttl: float, enqueue: Enqueue) -> list[dict[str, Any]]:
    """Find job runs of dead owners, mark them interrupted, release their locks, resubmit."""
    done: list[dict[str, Any]] = []
    with sessions() as db:
        candidates = list(db.scalars(select(JobRun).where(JobRun.status == "running")))
        dead_owners: set[str] = set()
        for run in candidates:
            if run.owner == me or not locks.owner_dead(run.owner, run.heartbeat_at, ttl):
                continue
            if (run.job_id or "").startswith("queue:"):
                continue  # the task queue retries it when its worker stalls (scheduler.tasks)
            # Only one recovering process wins each run.
            won = db.execute(
                update(JobRun)
                .where(JobRun.id == run.id, JobRun.status == "running")
                .values(status="interrupted", finished_at=utcnow(),
                        error=f"interrupted: service process {run.owner} stopped")
            )
            if won.rowcount != 1:  # type: ignore[attr-defined]
                continue
            dead_owners.add(run.owner)
            kwargs: dict[str, Any] = {}
            if run.kind == "crawl":
                resume = interrupted_crawl(db, run, ttl)
                if resume is not None:
                    kwargs["resume_run_id"] = resume
            action = "retry" if run.attempt < MAX_ATTEMPTS else "give up"
            record(db, SERVICE, "job.interrupted", f"{run.kind}:{run.target}", outcome="failed",
                  job_run=run.id, owner=run.owner, next=action, **kwargs)
            done.append({"job_run": run.id, "kind": run.kind, "target": run.target,
                         "func": run.func, "args": list(run.args or []), "attempt": run.attempt,
                         "action": action, "kwargs": kwargs})
        for owner in dead_owners:
            locks.release_owner(db, owner)
        db.commit()
    for item in done:
        if item["action"] != "retry":
            continue
        kwargs = {**item["kwargs"], "retry_of": item["job_run"], "attempt": item["attempt"] + 1}
        item["retry_job"] = enqueue(item["func"], item["args"], kwargs)
        log.warning("job run %s (%s %s) was interrupted; resubmitted as %s",
                    item["job_run"], item["kind"], item["target"], item["retry_job"])
    return done
