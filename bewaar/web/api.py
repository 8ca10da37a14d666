"""The JSON API under /api (OpenAPI at /docs and /openapi.json). Every change goes through
``bewaar.services``, which writes its audit row."""

from __future__ import annotations

import os
import re
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session
from starlette.background import BackgroundTask

from archive.errors import NotFoundError
from bewaar.services import accounts, packages, queries, sites
from bewaar.services.audit import events
from bewaar.web.auth import (
    ADMIN,
    ANYONE,
    AUDITOR,
    RECORDS,
    WEBTEAM,
    Principal,
    get_db,
    require,
    settings_of,
)
from scheduler.schedules import list_schedules

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


class SiteChange(BaseModel):
    """Only the fields given change."""

    seeds: list[str] | None = None
    include: list[str] | None = None
    exclude: list[str] | None = None
    max_pages: int | None = None
    max_depth: int | None = None
    robots: str | None = None
    category: str | None = None
    schedule: str | None = Field(default=None, examples=["0 3 * * *", ""])


class ScheduleIn(BaseModel):
    cron: str = Field(examples=["0 3 * * 1-5"])


class CategoryIn(BaseModel):
    category: str | None = None


class UserIn(BaseModel):
    name: str
    role: str
    password: str


class UserChange(BaseModel):
    role: str | None = None
    disabled: bool | None = None
    password: str | None = None


class TokenIn(BaseModel):
    user: str
    label: str | None = None


def start_job(request: Request, kind: str, target: str) -> str:
    """Hand a crawl or export to this process's scheduler, or to the shared job store."""
    service = request.app.state.service
    if service is not None and service.running:
        jid: str = service.run_now(kind, target)
        return jid
    from scheduler.jobs import JOB_FUNCS
    from scheduler.service import enqueue

    return enqueue(settings_of(request), JOB_FUNCS[kind], [target])


def sync(request: Request) -> None:
    """Bring a running scheduler in line with changed schedules at once."""
    service = request.app.state.service
    if service is not None and service.running:
        service.sync()


@router.get("/me")
def me(who: Principal = Depends(require(*ANYONE))) -> dict[str, Any]:
    return {"name": who.name, "role": who.role, "via": who.via}


@router.get("/sites")
def list_sites(_: Principal = Depends(require(*ANYONE)),
               db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return queries.sites(db)


@router.post("/sites", status_code=201)
def add_site(body: SiteIn, request: Request,
             who: Principal = Depends(require(*WEBTEAM))) -> dict[str, Any]:
    site = sites.add_site(settings_of(request), who.name, body.model_dump())
    sync(request)
    return site


@router.get("/sites/{name}")
def show_site(name: str, request: Request, _: Principal = Depends(require(*ANYONE)),
              db: Session = Depends(get_db)) -> dict[str, Any]:
    data = sites.site_dict(sites.get_site(db, name))
    data["runs"] = [queries.run_dict(r, settings_of(request)) for r in queries.runs(db, name, 20)]
    data["jobs"] = [queries.job_dict(j) for j in queries.job_runs(db, name, 20)]
    return data


@router.patch("/sites/{name}")
def edit_site(name: str, body: SiteChange, request: Request,
              who: Principal = Depends(require(*WEBTEAM))) -> dict[str, Any]:
    site = sites.edit_site(settings_of(request), who.name, name,
                           body.model_dump(exclude_unset=True))
    sync(request)
    return site


@router.delete("/sites/{name}")
def remove_site(name: str, request: Request,
                who: Principal = Depends(require(*WEBTEAM))) -> dict[str, Any]:
    result = sites.remove_site(settings_of(request), who.name, name)
    sync(request)
    return result


@router.put("/sites/{name}/schedule")
def put_schedule(name: str, body: ScheduleIn, request: Request,
                 who: Principal = Depends(require(*WEBTEAM))) -> dict[str, Any]:
    entry = sites.set_schedule(settings_of(request), who.name, "crawl", name, body.cron)
    sync(request)
    return entry


@router.delete("/sites/{name}/schedule")
def delete_schedule(name: str, request: Request,
                    who: Principal = Depends(require(*WEBTEAM))) -> dict[str, Any]:
    sites.remove_schedule(settings_of(request), who.name, "crawl", name)
    sync(request)
    return {"removed": name}


@router.put("/sites/{name}/category")
def put_category(name: str, body: CategoryIn, request: Request,
                 who: Principal = Depends(require(*RECORDS))) -> dict[str, Any]:
    return sites.set_category(settings_of(request), who.name, name, body.category)


@router.post("/sites/{name}/crawl", status_code=202)
def crawl_now(name: str, request: Request,
              who: Principal = Depends(require(*WEBTEAM))) -> dict[str, Any]:
    data = sites.request_run(settings_of(request), who.name, "crawl", name,
                             lambda k, t: start_job(request, k, t))
    return {"job_id": data["job_id"], "site": name}


@router.put("/chat/{name}/schedule")
def put_chat_schedule(name: str, body: ScheduleIn, request: Request,
                      who: Principal = Depends(require(*WEBTEAM, *RECORDS))) -> dict[str, Any]:
    entry = sites.set_schedule(settings_of(request), who.name, "chat", name, body.cron)
    sync(request)
    return entry


@router.get("/schedules")
def schedules(_: Principal = Depends(require(*ANYONE)),
              db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return [e.to_dict() for e in list_schedules(db)]


@router.get("/runs")
def runs(request: Request, site: str | None = None, _: Principal = Depends(require(*ANYONE)),
         db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return [queries.run_dict(r, settings_of(request)) for r in queries.runs(db, site)]


@router.get("/runs/{run_id}")
def show_run(run_id: int, request: Request, _: Principal = Depends(require(*ANYONE)),
             db: Session = Depends(get_db)) -> dict[str, Any]:
    return queries.run_dict(queries.get_run(db, run_id), settings_of(request))


@router.get("/runs/{run_id}/qa-report")
def qa_report(run_id: int, request: Request,
              _: Principal = Depends(require(*WEBTEAM, *RECORDS, *AUDITOR))) -> FileResponse:
    path = queries.qa_report_path(settings_of(request), run_id)
    if path is None:
        raise NotFoundError("crawl run %(id)s has no QA report", id=run_id)
    return FileResponse(path, media_type="text/html")


@router.get("/runs/{run_id}/qa-shots/{name}")
def qa_screenshot(run_id: int, name: str, request: Request,
                  _: Principal = Depends(require(*WEBTEAM, *RECORDS, *AUDITOR))) -> FileResponse:
    """A screenshot the QA report shows (its ``qa-shots/…`` links resolve here)."""
    path = settings_of(request).runs_dir / str(run_id) / "qa-shots" / name
    if not re.fullmatch(r"[0-9]{1,6}-(live|replay)\.png", name) or not path.is_file():
        raise NotFoundError("crawl run %(id)s has no screenshot %(name)r", id=run_id, name=name)
    return FileResponse(path, media_type="image/png")


@router.get("/jobs")
def jobs(target: str | None = None, _: Principal = Depends(require(*ANYONE)),
         db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return [queries.job_dict(j) for j in queries.job_runs(db, target)]


@router.get("/collections")
def collections(request: Request, _: Principal = Depends(require(*RECORDS)),
                db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return queries.collections(db, settings_of(request))


@router.get("/selectielijst")
def selectielijst(_: Principal = Depends(require(*RECORDS, *WEBTEAM)),
                  db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return queries.categories(db)


@router.get("/packages")
def list_packages(source: str | None = None, _: Principal = Depends(require(*AUDITOR, *RECORDS)),
                  db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return queries.packages(db, source)


@router.get("/chains")
def chains(_: Principal = Depends(require(*AUDITOR, *RECORDS)),
           db: Session = Depends(get_db)) -> dict[str, list[dict[str, Any]]]:
    return queries.chains(db)


@router.post("/packages/{package_id}/verify")
def verify_package(package_id: str, request: Request,
                   who: Principal = Depends(require(*AUDITOR))) -> dict[str, Any]:
    return packages.verify_recorded(settings_of(request), who.name, package_id)


@router.get("/packages/{package_id}/download")
def download(package_id: str, request: Request,
             who: Principal = Depends(require(*AUDITOR))) -> FileResponse:
    path = packages.download(settings_of(request), who.name, package_id)
    return FileResponse(path, media_type="application/zip", filename=f"{package_id}.zip",
                        background=BackgroundTask(os.unlink, path))


@router.get("/audit")
def audit_log(limit: int = 200, actor: str | None = None, action: str | None = None,
              _: Principal = Depends(require(*AUDITOR)),
              db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return events(db, limit=min(max(limit, 1), 5000), actor=actor, action=action)


# Accounts (admin) ----------------------------------------------------------------------------
@router.get("/users")
def list_users(_: Principal = Depends(require(*ADMIN)),
               db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return accounts.users(db)


@router.post("/users", status_code=201)
def add_user(body: UserIn, request: Request,
             who: Principal = Depends(require(*ADMIN))) -> dict[str, Any]:
    return accounts.add_user(settings_of(request), who.name, body.name, body.role,
                             body.password)


@router.patch("/users/{name}")
def change_user(name: str, body: UserChange, request: Request,
                who: Principal = Depends(require(*ADMIN))) -> dict[str, Any]:
    s = settings_of(request)
    data: dict[str, Any] = {}
    if body.role is not None:
        data = accounts.set_role(s, who.name, name, body.role)
    if body.password is not None:
        data = accounts.set_password(s, who.name, name, body.password)
    if body.disabled is not None:
        data = accounts.set_disabled(s, who.name, name, body.disabled)
    if not data:
        raise accounts.AccountError("nothing to change: give role, password or disabled")
    return data


@router.delete("/users/{name}")
def remove_user(name: str, request: Request,
                who: Principal = Depends(require(*ADMIN))) -> dict[str, Any]:
    return accounts.remove_user(settings_of(request), who.name, name)


@router.get("/tokens")
def list_tokens(user: str | None = None, _: Principal = Depends(require(*ADMIN)),
                db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    return accounts.tokens(db, user)


@router.post("/tokens", status_code=201)
def create_token(body: TokenIn, request: Request,
                 who: Principal = Depends(require(*ADMIN))) -> dict[str, Any]:
    return accounts.create_token(settings_of(request), who.name, body.user, body.label)


@router.delete("/tokens/{token_id}")
def revoke_token(token_id: int, request: Request,
                 who: Principal = Depends(require(*ADMIN))) -> dict[str, Any]:
    return accounts.revoke_token(settings_of(request), who.name, token_id)
