"""What the web team reads about harvests: each site's runs over time (for its chart) and the
last harvest of every site (failed, late or fine). Reads only: no changes, no audit rows.

A scheduled site is *late* when its schedule fired (at least ``margin`` ago) and no run of it
started since: the previous fire time comes from the site's cron expression
(:mod:`scheduler.cron`, Europe/Amsterdam).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import CrawlRun, JobRun, Site
from archive.timefmt import as_utc
from bewaar.services.queries import has_table

MARGIN = timedelta(hours=2)  # a run may start this much after its fire time and not be late
# Look-back windows for the previous fire time, each wider than the last: the first one that
# holds a fire time bounds the walk forward to about the schedule's frequency.
_WINDOWS = (timedelta(minutes=2), timedelta(hours=2), timedelta(days=2), timedelta(days=40),
            timedelta(days=400), timedelta(days=5 * 366))
_MAX_STEPS = 10_000
FAILED = ("failed", "interrupted")


def previous_fire(expr: str, before: datetime) -> datetime | None:
    """The last time ``expr`` fired at or before ``before`` (None: a bad expression, or it did
    not fire in the last five years)."""
    from scheduler.cron import ScheduleError, parse_cron

    try:
        trigger = parse_cron(expr)
    except ScheduleError:
        return None
    before = as_utc(before)
    for window in _WINDOWS:
        fire = trigger.get_next_fire_time(None, before - window)
        if fire is None or as_utc(fire) > before:
            continue
        last = fire
        for _ in range(_MAX_STEPS):
            nxt = trigger.get_next_fire_time(last, last + timedelta(seconds=1))
            if nxt is None or as_utc(nxt) > before:
                break
            last = nxt
        return as_utc(last)
    return None


def qa_results(db: Session, run_ids: list[int]) -> dict[int, dict[str, Any]]:
    """The latest replay check of each run: ``{"passed", "pages", "failed"}``."""
    if not run_ids or not has_table(db, "qa_checks"):
        return {}
    from archive.models.replay import QaCheck

    out: dict[int, dict[str, Any]] = {}
    for check in db.scalars(select(QaCheck).where(QaCheck.run_id.in_(run_ids))
                            .order_by(QaCheck.id)):
        out[check.run_id] = {"passed": check.ok, "pages": check.pages, "failed": check.failed}
    return out


def run_history(db: Session, site: str, limit: int = 30) -> list[dict[str, Any]]:
    """The site's last ``limit`` crawl runs, oldest first: pages, bytes, errors, QA result
    (``qa`` is None when the run was not checked)."""
    runs = list(db.scalars(select(CrawlRun).join(Site).where(Site.name == site)
                           .order_by(CrawlRun.id.desc()).limit(limit)))
    runs.reverse()
    qa = qa_results(db, [r.id for r in runs])
    return [
        {"id": r.id, "status": r.status, "kind": r.kind, "started_at": r.started_at,
         "finished_at": r.finished_at, "pages": r.pages or 0, "bytes": r.bytes or 0,
         "errors": r.errors or 0, "qa": qa.get(r.id)}
        for r in runs
    ]


def _attention(row: dict[str, Any]) -> int:
    if row["state"] == "failed":
        return 0
    if row["late"]:
        return 1
    if row["state"] == "qa-failed":
        return 2
    return 3


def overview(db: Session, now: datetime | None = None,
             margin: timedelta = MARGIN) -> list[dict[str, Any]]:
    """Every site that is still harvested, with its last run (status, when, pages, QA) and
    whether it is late; failed first, then late, then failed QA, then the rest (by name).

    ``state`` is ``failed`` (the last run, or a later crawl job, failed), ``running``,
    ``qa-failed``, ``ok`` or ``never`` (no run yet)."""
    now = as_utc(now or datetime.now(UTC))
    sites = list(db.scalars(select(Site).where(Site.retired_at.is_(None)).order_by(Site.name)))
    last_runs: dict[int, CrawlRun] = {}
    for crawl in db.scalars(select(CrawlRun).order_by(CrawlRun.id)):
        last_runs[crawl.site_id] = crawl
    last_jobs: dict[str, JobRun] = {}
    for job_run in db.scalars(select(JobRun).where(JobRun.kind == "crawl")
                              .order_by(JobRun.id)):
        last_jobs[job_run.target] = job_run
    qa = qa_results(db, [r.id for r in last_runs.values()])
    rows = []
    for site in sites:
        run = last_runs.get(site.id)
        job = last_jobs.get(site.name)
        row: dict[str, Any] = {
            "site": site.name, "schedule": site.schedule, "run_id": None, "status": None,
            "started_at": None, "finished_at": None, "pages": None, "errors": None,
            "qa": None, "error": None, "late": False, "due_at": None,
        }
        if run is not None:
            row.update(run_id=run.id, status=run.status, started_at=run.started_at,
                       finished_at=run.finished_at, pages=run.pages, errors=run.errors,
                       qa=qa.get(run.id), error=run.error)
        # A crawl job that failed before it made a run (e.g. the worker did not start).
        if job is not None and job.status in FAILED and (
                run is None or as_utc(job.started_at) > as_utc(run.started_at)):
            row.update(status=job.status, started_at=job.started_at,
                       finished_at=job.finished_at, error=job.error, run_id=None,
                       pages=None, errors=None, qa=None)
        if row["status"] in FAILED:
            row["state"] = "failed"
        elif row["status"] == "running":
            row["state"] = "running"
        elif row["qa"] is not None and not row["qa"]["passed"]:
            row["state"] = "qa-failed"
        elif row["status"] is None:
            row["state"] = "never"
        else:
            row["state"] = "ok"
        if site.schedule and row["state"] != "running":
            due = previous_fire(site.schedule, now - margin)
            started = as_utc(row["started_at"]) if row["started_at"] else None
            if due is not None and as_utc(site.created_at) < due and (
                    started is None or started < due):
                row.update(late=True, due_at=due)
        rows.append(row)
    rows.sort(key=lambda r: (_attention(r), r["site"]))
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, int]:
    """How many sites are failed, late, failed QA, fine (each site counted once, by rank)."""
    names = {0: "failed", 1: "late", 2: "qa_failed", 3: "fine"}
    counts = dict.fromkeys(names.values(), 0)
    for r in rows:
        counts[names[_attention(r)]] += 1
    return counts
