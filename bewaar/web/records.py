"""What the web pages and the API read and change: sites, runs, job runs, collections, QA
reports, packages and the audit log. Plain functions on a session; no HTTP here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from archive.errors import BewaarError, NotFoundError
from archive.models import AuditEvent, CrawlRun, JobRun, Site
from archive.settings import Settings
from archive.urls import normalise_seed
from scheduler.audit import audit
from scheduler.schedules import set_schedule

NAME_RE = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"


class InputError(BewaarError):
    """A request with bad input: nothing was changed."""


def site_dict(site: Site) -> dict[str, Any]:
    return {
        "id": site.id, "name": site.name, "seeds": site.seeds, "include": site.include,
        "exclude": site.exclude, "max_pages": site.max_pages, "max_depth": site.max_depth,
        "robots": site.robots, "category": site.category, "schedule": site.schedule,
        "embargo_days": site.embargo_days,
    }


def run_dict(run: CrawlRun, settings: Settings | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": run.id, "site": run.site.name, "kind": run.kind, "status": run.status,
        "parent_run_id": run.parent_run_id, "started_at": run.started_at,
        "finished_at": run.finished_at, "pages": run.pages, "bytes": run.bytes,
        "errors": run.errors, "revisits": run.revisits, "error": run.error,
        "warc_files": [w.filename for w in run.warc_files],
    }
    if settings is not None:
        data["qa_report"] = qa_report_path(settings, run.id) is not None
    return data


def job_dict(run: JobRun) -> dict[str, Any]:
    return {
        "id": run.id, "job_id": run.job_id, "kind": run.kind, "target": run.target,
        "status": run.status, "started_at": run.started_at, "finished_at": run.finished_at,
        "attempt": run.attempt, "retry_of": run.retry_of, "crawl_run_id": run.crawl_run_id,
        "error": run.error, "result": run.result,
    }


def get_site(db: Session, name: str) -> Site:
    site = db.scalar(select(Site).where(Site.name == name))
    if site is None:
        raise NotFoundError(f"no site named {name!r}")
    return site


def create_site(db: Session, data: dict[str, Any], *, actor: str) -> Site:
    """Validate everything first; on any problem raise ``InputError`` and change nothing."""
    name = str(data.get("name") or "").strip()
    if not re.fullmatch(NAME_RE, name):
        raise InputError(f"site name {name!r}: use letters, digits, '.', '_' or '-'")
    raw_seeds = data.get("seeds") or []
    if isinstance(raw_seeds, str):
        raw_seeds = raw_seeds.split()
    if not raw_seeds:
        raise InputError("give at least one seed URL")
    seeds = []
    for s in raw_seeds:
        try:
            seeds.append(normalise_seed(str(s)))
        except ValueError as exc:
            raise InputError(str(exc)) from None
    patterns: dict[str, list[str]] = {}
    for key in ("include", "exclude"):
        value = data.get(key) or []
        if isinstance(value, str):
            value = [p for p in value.splitlines() if p.strip()]
        for p in value:
            try:
                re.compile(p)
            except re.error as exc:
                raise InputError(f"bad {key} pattern {p!r}: {exc}") from None
        patterns[key] = [str(p) for p in value]
    robots = str(data.get("robots") or "obey")
    if robots not in ("obey", "ignore"):
        raise InputError(f"robots must be 'obey' or 'ignore', not {robots!r}")
    limits: dict[str, int | None] = {}
    for key, low in (("max_pages", 1), ("max_depth", 0)):
        value = data.get(key)
        if value in (None, ""):
            limits[key] = None
            continue
        try:
            limits[key] = int(str(value))
        except ValueError:
            raise InputError(f"{key} must be a whole number, not {value!r}") from None
        if limits[key] < low:  # type: ignore[operator]
            raise InputError(f"{key} must be at least {low}")
    if db.scalar(select(Site).where(Site.name == name)) is not None:
        raise InputError(f"a site named {name!r} exists already")
    site = Site(name=name, seeds=seeds, include=patterns["include"], exclude=patterns["exclude"],
                robots=robots, category=(data.get("category") or None), **limits)
    db.add(site)
    db.flush()
    audit(db, actor, "site.add", name, seeds=seeds)
    schedule = (data.get("schedule") or "").strip()
    if schedule:
        set_schedule(db, "crawl", name, schedule, actor=actor)
    return site


def runs(db: Session, site: str | None = None, limit: int = 100) -> list[CrawlRun]:
    q = select(CrawlRun).order_by(CrawlRun.id.desc()).limit(limit)
    if site:
        q = q.join(Site).where(Site.name == site)
    return list(db.scalars(q))


def job_runs(db: Session, target: str | None = None, limit: int = 100) -> list[JobRun]:
    q = select(JobRun).order_by(JobRun.id.desc()).limit(limit)
    if target:
        q = q.where(JobRun.target == target)
    return list(db.scalars(q))


def qa_report_path(settings: Settings, run_id: int) -> Path | None:
    path = settings.runs_dir / str(run_id) / "qa-report.html"
    return path if path.is_file() else None


def replay_base(settings: Settings) -> str:
    return f"http://{settings.replay_host}:{settings.replay_port}"


def collections(db: Session, settings: Settings) -> list[dict[str, Any]]:
    """Per site: its collection folder, the latest runs with replay links and QA reports."""
    out = []
    for site in db.scalars(select(Site).order_by(Site.name)):
        site_runs = runs(db, site.name, limit=10)
        coll = settings.collections_dir / site.name
        out.append({
            "site": site.name, "category": site.category, "collection": coll.is_dir(),
            "replay": f"{replay_base(settings)}/{site.name}/*/{site.seeds[0]}" if site.seeds else None,
            "runs": [run_dict(r, settings) for r in site_runs],
        })
    return out


def _table(db: Session, name: str) -> bool:
    try:
        return bool(inspect(db.get_bind()).has_table(name))
    except Exception:
        return False


def categories(db: Session) -> list[dict[str, Any]]:
    if not _table(db, "selectielijst_categories"):
        return []
    from archive.models.package import SelectielijstCategory

    return [
        {"code": c.code, "name": c.name, "waardering": c.waardering,
         "bewaartermijn": c.bewaartermijn, "list": c.list_name}
        for c in db.scalars(select(SelectielijstCategory).order_by(SelectielijstCategory.code))
    ]


def set_category(db: Session, site_name: str, code: str | None, *, actor: str) -> Site:
    site = get_site(db, site_name)
    code = (code or "").strip() or None
    known = {c["code"] for c in categories(db)}
    if code is not None and known and code not in known:
        raise InputError(f"unknown selectielijst category {code!r}; known: {', '.join(sorted(known))}")
    old = site.category
    site.category = code
    audit(db, actor, "site.category", site_name, category=code, previous=old)
    return site


def packages(db: Session, source: str | None = None) -> list[dict[str, Any]]:
    """Sealed packages, newest first, with the chain link to the previous one."""
    if not _table(db, "packages"):
        return []
    from archive.models.package import Package

    q = select(Package).order_by(Package.created_at.desc())
    if source:
        q = q.where(Package.source_name == source)
    return [
        {"id": p.id, "source_kind": p.source_kind, "source_name": p.source_name,
         "run_id": p.run_id, "title": p.title, "category": p.category, "path": p.path,
         "tagmanifest_sha512": p.tagmanifest_sha512, "previous_id": p.previous_id,
         "timestamped": p.timestamped, "files": p.files, "bytes": p.bytes,
         "created_at": p.created_at}
        for p in db.scalars(q)
    ]


def package(db: Session, package_id: str) -> dict[str, Any]:
    for p in packages(db):
        if p["id"] == package_id:
            return p
    raise NotFoundError(f"no package {package_id!r}")


def chains(db: Session) -> dict[str, list[dict[str, Any]]]:
    """Packages per source, oldest first; ``linked`` is False where the chain is broken."""
    by_source: dict[str, list[dict[str, Any]]] = {}
    for p in reversed(packages(db)):
        by_source.setdefault(f"{p['source_kind']}:{p['source_name']}", []).append(p)
    for items in by_source.values():
        prev = None
        for p in items:
            p["linked"] = p["previous_id"] == (prev["id"] if prev else None)
            prev = p
    return by_source


def audit_events(db: Session, limit: int = 200) -> list[dict[str, Any]]:
    return [
        {"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "target": e.target,
         "outcome": e.outcome, "detail": e.detail}
        for e in db.scalars(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit))
    ]


def counts(db: Session) -> dict[str, int]:
    return {
        "sites": db.scalar(select(func.count(Site.id))) or 0,
        "runs": db.scalar(select(func.count(CrawlRun.id))) or 0,
        "running": db.scalar(select(func.count(JobRun.id)).where(JobRun.status == "running")) or 0,
    }
