"""The JSON API under /api (OpenAPI at /docs and /openapi.json). Every change is audited."""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from archive.errors import NotFoundError
from bewaar.web import records
from bewaar.web.auth import (
    ANYONE,
    AUDITOR,
    RECORDS,
    WEBTEAM,
    Principal,
    get_db,
    require,
    settings_of,
)
from scheduler.audit import audit
from scheduler.schedules import list_schedules, remove_schedule, set_schedule

router = APIRouter(prefix="/api", tags=["api"])


class SiteIn(BaseModel):
    name: str = Field(examples=["justid"])
    seeds: list[str] = Field(examples=[["https://www.justid.nl/"]])
    include: list[str] = []
    exclude: list[str] = []
    max_pages: int | None = None
    max_depth: int | None = None
    robots: str = "obey"
    category: str | None = None
    schedule: str | None = Field(default=None, examples=["0 3 * * *"])


class ScheduleIn(BaseModel):
    cron: str = Field(examples=["0 3 * * 1-5"])


class CategoryIn(BaseModel):
    category: str | None = None


def start_job(request: Request, kind: str, target: str) -> str:
    """Hand a crawl or export to this process's scheduler, or to the shared job store."""
    service = request.app.state.service
    if service is not None and service.running:
        jid: str = service.run_now(kind, target)
        return jid
    from scheduler.jobs import JOB_FUNCS
    from scheduler.service import enqueue

    return enqueue(settings_of(request), JOB_FUNCS[kind], [target])


def _sync(request: Request) -> None:
    service = request.app.state.service
    if service is not None and service.running:
        service.sync()


@router.get("/me")
def me(who: Principal = Depends(require(*ANYONE))) -> dict[str, Any]:
    return {"name": who.name, "role": who.role, "via": who.via}


@router.get("/sites")
def list_sites(_: Principal = Depends(require(*ANYONE)),
               db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    from sqlalchemy import select

    from archive.models import Site

    return [records.site_dict(s) for s in db.scalars(select(Site).order_by(Site.name))]


@router.post("/sites", status_code=201)
def add_site(body: SiteIn, request: Request, who: Principal = Depends(require(*WEBTEAM)),
             db: Session = Depends(get_db)) -> dict[str, Any]:
    site = records.create_site(db, body.model_dump(), actor=who.name)
    db.commit()
    _sync(request)
    return records.site_dict(site)


@router.get("/sites/{name}")
def show_site(name: str, request: Request, _: Principal = Depends(require(*ANYONE)),
              db: Session = Depends(get_db)) -> dict[str, Any]:
    site = records.get_site(db, name)
    data = records.site_dict(site)
    data["runs"] = [records.run_dict(r, settings_of(request)) for r in records.runs(db, name, 20)]
    data["jobs"] = [records.job_dict(j) for j in records.job_runs(db, name, 20)]
    return data


@router.put("/sites/{name}/schedule")
def put_schedule(name: str, body: ScheduleIn, request: Request,
                 who: Principal = Depends(require(*WEBTEAM)),
                 db: Session = Depends(get_db)) -> dict[str, Any]:
    entry = set_schedule(db, "crawl", name, body.cron, actor=who.name)
    db.commit()
    _sync(request)
    return entry.to_dict()


@router.delete("/sites/{name}/schedule")
def delete_schedule(name: str, request: Request, who: Principal = Depends(require(*WEBTEAM)),
                    db: Session = Depends(get_db)) -> dict[str, Any]:
    remove_schedule(db, "crawl", name, actor=who.name)
    db.commit()
    _sync(request)
    return {"removed": name}


@router.put("/sites/{name}/category")
def put_category(name: str, body: CategoryIn, who: Principal = Depends(require(*RECORDS)),
                 db: Session = Depends(get_db)) -> dict[str, Any]:
    site = records.set_category(db, name, body.category, actor=who.name)
    db.commit()
    return records.site_dict(site)


@router.post("/sites/{name}/crawl", status_code=202)
def crawl_now(name: str, request: Request, who: Principal = Depends(require(*WEBTEAM)),
              db: Session = Depends(get_db)) -> dict[str, Any]:
    records.get_site(db, name)
    jid = start_job(request, "crawl", name)
    audit(db, who.name, "crawl.request", name, job=jid)
    db.commit()
    return {"job_id": jid, "site": name}


@router.put("/chat/{name}/schedule")
def put_chat_schedule(name: str, body: ScheduleIn, request: Request,
                      who: Principal = Depends(require(*WEBTEAM, *RECORDS)),
                      db: Session = Depends(get_db)) -> dict[str, Any]:
    entry = set_schedule(db, "chat", name, body.cron, actor=who.name)
    db.commit()
    _sync(request)
    return entry.to_dict()


@router.get("/schedules")
def schedules(_: Principal = Depends(require(*ANYONE)),
              db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return [e.to_dict() for e in list_schedules(db)]


@router.get("/runs")
def runs(request: Request, site: str | None = None, _: Principal = Depends(require(*ANYONE)),
         db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return [records.run_dict(r, settings_of(request)) for r in records.runs(db, site)]


@router.get("/runs/{run_id}")
def show_run(run_id: int, request: Request, _: Principal = Depends(require(*ANYONE)),
             db: Session = Depends(get_db)) -> dict[str, Any]:
    from archive.models import CrawlRun

    run = db.get(CrawlRun, run_id)
    if run is None:
        raise NotFoundError(f"no crawl run {run_id}")
    return records.run_dict(run, settings_of(request))


@router.get("/runs/{run_id}/qa-report")
def qa_report(run_id: int, request: Request,
              _: Principal = Depends(require(*WEBTEAM, *RECORDS, *AUDITOR))) -> FileResponse:
    path = records.qa_report_path(settings_of(request), run_id)
    if path is None:
        raise NotFoundError(f"crawl run {run_id} has no QA report")
    return FileResponse(path, media_type="text/html")


@router.get("/jobs")
def jobs(target: str | None = None, _: Principal = Depends(require(*ANYONE)),
         db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return [records.job_dict(j) for j in records.job_runs(db, target)]


@router.get("/collections")
def collections(request: Request, _: Principal = Depends(require(*RECORDS)),
                db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return records.collections(db, settings_of(request))


@router.get("/selectielijst")
def selectielijst(_: Principal = Depends(require(*RECORDS, *WEBTEAM)),
                  db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return records.categories(db)


@router.get("/packages")
def packages(source: str | None = None, _: Principal = Depends(require(*AUDITOR, *RECORDS)),
             db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return records.packages(db, source)


@router.get("/chains")
def chains(_: Principal = Depends(require(*AUDITOR, *RECORDS)),
           db: Session = Depends(get_db)) -> dict[str, list[dict[str, Any]]]:
    return records.chains(db)


def verify(db: Session, package_id: str, actor: str) -> dict[str, Any]:
    """Run the package verifier and audit the outcome."""
    from archive.package import verify_package

    pkg = records.package(db, package_id)
    report = verify_package(Path(pkg["path"]))
    findings = [str(f) for f in getattr(report, "findings", [])]
    warnings = [str(w) for w in getattr(report, "warnings", [])]
    audit(db, actor, "package.verify", package_id, outcome="ok" if report.valid else "failed",
          findings=len(findings))
    db.commit()
    return {"id": package_id, "valid": bool(report.valid), "findings": findings,
            "warnings": warnings}


@router.post("/packages/{package_id}/verify")
def verify_package_api(package_id: str, who: Principal = Depends(require(*AUDITOR)),
                       db: Session = Depends(get_db)) -> dict[str, Any]:
    return verify(db, package_id, who.name)


def zip_folder(folder: Path, top: str, target: Path) -> int:
    """Write ``folder`` as a zip (entries under ``top/``) to ``target``; return its size."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{top}/{path.relative_to(folder).as_posix()}")
    return target.stat().st_size


@router.get("/packages/{package_id}/download")
def download(package_id: str, who: Principal = Depends(require(*AUDITOR)),
             db: Session = Depends(get_db)) -> FileResponse:
    pkg = records.package(db, package_id)
    folder = Path(pkg["path"])
    if not folder.is_dir():
        raise HTTPException(410, f"package {package_id} is listed but its folder is gone")
    fd, name = tempfile.mkstemp(prefix=".download-", suffix=".zip")
    os.close(fd)
    size = zip_folder(folder, package_id, Path(name))
    audit(db, who.name, "package.download", package_id, bytes=size)
    db.commit()
    return FileResponse(name, media_type="application/zip", filename=f"{package_id}.zip",
                        background=BackgroundTask(os.unlink, name))


@router.get("/audit")
def audit_log(limit: int = 200, _: Principal = Depends(require(*AUDITOR)),
              db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return records.audit_events(db, min(max(limit, 1), 5000))
