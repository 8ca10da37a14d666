"""Schedules of sites (``Site.schedule``) and chat sources (``ChatSchedule``): set, remove, list.

The database rows are the truth; every running service brings its APScheduler jobs in line
with them (``Service.sync``), so a schedule set from the CLI reaches a running service.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import inspect, select, text
from sqlalchemy.orm import Session

from archive.models import ChatSchedule, Site
from scheduler.cron import ScheduleError, next_fire, parse_cron


@dataclass
class ScheduleEntry:
    kind: str  # crawl | chat
    target: str
    cron: str
    job_id: str
    next_run: datetime | None
    previous: str | None = None  # the cron it replaced (set_schedule)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["next_run"] = self.next_run.isoformat() if self.next_run else None
        return data


def job_id(kind: str, target: str) -> str:
    return f"{kind}:{target}"


def _chat_source_exists(db: Session, name: str) -> bool | None:
    """Whether the chat part knows source ``name`` (None when chat sources are not set up)."""
    bind = db.get_bind()
    try:
        insp = inspect(bind)
        if not insp.has_table("chat_sources"):
            return None
        if "name" not in {c["name"] for c in insp.get_columns("chat_sources")}:
            return None
    except Exception:
        return None
    row = db.execute(text("SELECT 1 FROM chat_sources WHERE name = :n"), {"n": name}).first()
    return row is not None


def set_schedule(db: Session, kind: str, target: str, cron: str) -> ScheduleEntry:
    """Validate ``cron`` and store it for the site (kind "crawl") or chat source (kind "chat").
    Raises ``ScheduleError`` (nothing changed) for a bad expression or an unknown target.
    Callers audit the change (``bewaar.services.sites``)."""
    parse_cron(cron)
    cron = " ".join(cron.split())
    if kind == "crawl":
        site = db.scalar(select(Site).where(Site.name == target))
        if site is None:
            raise ScheduleError("no site named %(name)r (see `bewaar site list`)", name=target)
        old = site.schedule
        site.schedule = cron
    elif kind == "chat":
        if _chat_source_exists(db, target) is False:
            raise ScheduleError("no chat source named %(name)r (see `bewaar chat list`)",
                                name=target)
        row = db.scalar(select(ChatSchedule).where(ChatSchedule.source == target))
        old = row.cron if row else None
        if row is None:
            db.add(ChatSchedule(source=target, cron=cron))
        else:
            row.cron = cron
    else:
        raise ScheduleError("unknown schedule kind %(kind)r", kind=kind)
    return ScheduleEntry(kind, target, cron, job_id(kind, target), next_fire(cron), old)


def remove_schedule(db: Session, kind: str, target: str) -> str:
    """Remove the schedule; returns the cron it had."""
    if kind == "crawl":
        site = db.scalar(select(Site).where(Site.name == target))
        if site is None:
            raise ScheduleError("no site named %(name)r (see `bewaar site list`)", name=target)
        if site.schedule is None:
            raise ScheduleError("site %(name)r has no schedule", name=target)
        old = site.schedule
        site.schedule = None
    elif kind == "chat":
        row = db.scalar(select(ChatSchedule).where(ChatSchedule.source == target))
        if row is None:
            raise ScheduleError("chat source %(name)r has no schedule", name=target)
        old = row.cron
        db.delete(row)
    else:
        raise ScheduleError("unknown schedule kind %(kind)r", kind=kind)
    return old


def list_schedules(db: Session) -> list[ScheduleEntry]:
    entries = [
        ScheduleEntry("crawl", s.name, s.schedule, job_id("crawl", s.name), next_fire(s.schedule))
        for s in db.scalars(select(Site).where(Site.schedule.is_not(None)).order_by(Site.name))
        if s.schedule
    ]
    entries += [
        ScheduleEntry("chat", c.source, c.cron, job_id("chat", c.source), next_fire(c.cron))
        for c in db.scalars(select(ChatSchedule).order_by(ChatSchedule.source))
    ]
    return entries
