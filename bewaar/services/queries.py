"""What the faces read: sites, runs, job runs, collections, QA reports, categories, packages and
their chains. Plain functions on a session; they change nothing and write no audit rows."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import func, inspect, select
from sqlalchemy.orm import Session

from archive.errors import NotFoundError
from archive.models import CrawlRun, JobRun, Site
from archive.settings import Settings
from bewaar.services.sites import site_dict


def sites(db: Session, *, retired: bool = True) -> list[dict[str, Any]]:
    q = select(Site).order_by(Site.name)
    if not retired:
        q = q.where(Site.retired_at.is_(None))
    return [site_dict(s) for s in db.scalars(q)]


def run_dict(run: CrawlRun, settings: Settings | None = None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "id": run.id, "site": run.site.name, "kind": run.kind, "status": run.status,
        "parent_run_id": run.parent_run_id, "seeds": run.seeds, "started_at": run.started_at,
        "finished_at": run.finished_at, "pages": run.pages, "bytes": run.bytes,
        "errors": run.errors, "revisits": run.revisits, "stats": run.stats, "error": run.error,
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


def get_run(db: Session, run_id: int) -> CrawlRun:
    run = db.get(CrawlRun, run_id)
    if run is None:
        raise NotFoundError("no crawl run %(id)s (see `bewaar runs`)", id=run_id)
    return run


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
        coll = settings.collections_dir / site.name
        out.append({
            "site": site.name, "category": site.category, "collection": coll.is_dir(),
            "replay": f"{replay_base(settings)}/{site.name}/*/{site.seeds[0]}" if site.seeds else None,
            "runs": [run_dict(r, settings) for r in runs(db, site.name, limit=10)],
        })
    return out


def has_table(db: Session, name: str) -> bool:
    try:
        return bool(inspect(db.get_bind()).has_table(name))
    except Exception:  # noqa: BLE001 - a database that cannot say has no such table for us
        return False


def categories(db: Session) -> list[dict[str, Any]]:
    if not has_table(db, "selectielijst_categories"):
        return []
    from archive.models.package import SelectielijstCategory

    return [
        {"code": c.code, "name": c.name, "waardering": c.waardering,
         "bewaartermijn": c.bewaartermijn, "list": c.list_name}
        for c in db.scalars(select(SelectielijstCategory).order_by(SelectielijstCategory.code))
    ]


def packages(db: Session, source: str | None = None, *, newest_first: bool = True
             ) -> list[dict[str, Any]]:
    """Sealed packages with the chain link to the previous one."""
    if not has_table(db, "packages"):
        return []
    from archive.models.package import Package

    order = (Package.created_at.desc(), Package.id.desc()) if newest_first else (
        Package.created_at, Package.id)
    q = select(Package).order_by(*order)
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
    from archive.models.package import Package

    if has_table(db, "packages") and db.get(Package, package_id) is not None:
        for p in packages(db):
            if p["id"] == package_id:
                return p
    raise NotFoundError("no package %(id)r (see `bewaar package list`)", id=package_id)


def chains(db: Session) -> dict[str, list[dict[str, Any]]]:
    """Packages per source, oldest first; ``linked`` is False where the chain is broken."""
    by_source: dict[str, list[dict[str, Any]]] = {}
    for p in packages(db, newest_first=False):
        by_source.setdefault(f"{p['source_kind']}:{p['source_name']}", []).append(p)
    for items in by_source.values():
        prev = None
        for p in items:
            p["linked"] = p["previous_id"] == (prev["id"] if prev else None)
            prev = p
    return by_source


def counts(db: Session) -> dict[str, int]:
    return {
        "sites": db.scalar(select(func.count(Site.id))) or 0,
        "runs": db.scalar(select(func.count(CrawlRun.id))) or 0,
        "running": db.scalar(select(func.count(JobRun.id)).where(JobRun.status == "running")) or 0,
    }


# Access rules, fixity ---------------------------------------------------------------------------
def access_rules(db: Session) -> list[dict[str, Any]]:
    """Every replay access rule (``block`` or ``allow``), with whether it still holds."""
    from datetime import UTC, datetime

    from archive.models import AccessRule
    from archive.timefmt import as_utc

    now = datetime.now(UTC)
    return [
        {"url_prefix": r.url_prefix, "access": r.access, "until": r.until,
         "active": r.until is None or as_utc(r.until) > now, "created_at": r.created_at}
        for r in db.scalars(select(AccessRule).order_by(AccessRule.url_prefix))
    ]


def embargoes(db: Session) -> list[dict[str, Any]]:
    """Each site's embargo in days (None: no embargo)."""
    return [{"site": s.name, "embargo_days": s.embargo_days, "retired": s.retired_at is not None}
            for s in db.scalars(select(Site).order_by(Site.name))]


ACCESS_ACTIONS = ("access.exclude", "access.allow", "access.embargo")


def access_history(db: Session, limit: int = 200) -> list[dict[str, Any]]:
    """The changes of replay access (exclude, allow, embargo; also refused ones), newest first;
    not the ``access.denied`` rows, which are about roles."""
    from archive.models import AuditEvent

    q = (select(AuditEvent).where(AuditEvent.action.in_(ACCESS_ACTIONS))
         .order_by(AuditEvent.id.desc()).limit(limit))
    return [{"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "target": e.target,
             "outcome": e.outcome, "detail": e.detail} for e in db.scalars(q)]


def fixity_checks(db: Session, limit: int = 10) -> list[dict[str, Any]]:
    """The last fixity checks, newest first, with their findings."""
    if not has_table(db, "fixity_checks"):
        return []
    from archive.models import FixityCheck

    q = select(FixityCheck).order_by(FixityCheck.id.desc()).limit(limit)
    return [{"id": c.id, "at": c.at, "files": c.files, "bytes": c.bytes, "ok": c.ok,
             "findings": list(c.findings or [])} for c in db.scalars(q)]


def last_verifies(db: Session) -> list[dict[str, Any]]:
    """The last recorded verification of each package (the audit log's package.verify rows),
    beside every package; ``verify`` is None for a package never verified here."""
    from archive.models import AuditEvent

    last: dict[str, AuditEvent] = {}
    for row in db.scalars(select(AuditEvent).where(AuditEvent.action == "package.verify")
                          .order_by(AuditEvent.id)):
        if row.target:
            last[row.target] = row
    out = []
    for p in packages(db):
        e = last.get(p["id"])
        out.append({"package": p["id"], "source": f"{p['source_kind']}:{p['source_name']}",
                    "created_at": p["created_at"],
                    "verify": None if e is None else {
                        "at": e.at, "actor": e.actor, "outcome": e.outcome,
                        "valid": (e.detail or {}).get("valid"),
                        "findings": (e.detail or {}).get("findings"),
                        "error": (e.detail or {}).get("error")}})
    return out


def chat_source(db: Session, name: str) -> Any:
    from archive.models import ChatSource

    source = db.scalar(select(ChatSource).where(ChatSource.name == name))
    if source is None:
        raise NotFoundError("no chat source named %(name)r (see `bewaar chat list`)",
                            name=name)
    return source


def chat_summary(db: Session, source: Any) -> dict[str, Any]:
    """A chat source with the events archived and its latest export or import."""
    from archive.models import ChatExport, ChatRoom
    from bewaar.services.chats import source_dict

    events = db.scalar(select(func.coalesce(func.sum(ChatRoom.events), 0))
                       .where(ChatRoom.source_id == source.id)) or 0
    latest = db.scalar(select(ChatExport).where(ChatExport.source_id == source.id)
                       .order_by(ChatExport.id.desc()).limit(1))
    data = source_dict(source, int(events), latest)
    if latest is not None and data["last_export"] is not None:
        data["last_export"]["package_id"] = latest.package_id
    return data


def chat_sources(db: Session) -> list[dict[str, Any]]:
    from archive.models import ChatSource

    return [chat_summary(db, s)
            for s in db.scalars(select(ChatSource).order_by(ChatSource.name))]
