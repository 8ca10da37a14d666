"""Server-rendered pages for the three user groups. Forms post url-encoded bodies."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.errors import BewaarError, NotFoundError
from archive.models import CrawlRun, Site
from bewaar.web import records
from bewaar.web.accounts import authenticate, new_token, revoke
from bewaar.web.api import start_job, verify
from bewaar.web.auth import (
    ANYONE,
    AUDITOR,
    COOKIE,
    RECORDS,
    WEBTEAM,
    Principal,
    check_csrf,
    csrf_token,
    get_db,
    require,
    settings_of,
)
from scheduler.audit import audit
from scheduler.schedules import list_schedules, remove_schedule, set_schedule

router = APIRouter(include_in_schema=False)
templates = Environment(loader=PackageLoader("bewaar.web", "templates"),
                        autoescape=select_autoescape(["html"]))


def render(request: Request, name: str, status: int = 200, **context: Any) -> HTMLResponse:
    who = getattr(request.state, "principal", None)
    secret = request.cookies.get(COOKIE)
    html = templates.get_template(name).render(
        request=request, who=who, csrf=csrf_token(secret) if secret else "", **context)
    return HTMLResponse(html, status_code=status)


async def form(request: Request) -> dict[str, str]:
    body = (await request.body()).decode("utf-8", "replace")
    return {k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()}


def back(url: str, message: str | None = None) -> RedirectResponse:
    if message:
        url += ("&" if "?" in url else "?") + "msg=" + quote(message)
    return RedirectResponse(url, status_code=303)


def _safe_next(target: str | None) -> str:
    return target if target and target.startswith("/") and not target.startswith("//") else "/"


@router.get("/login")
def login_page(request: Request, next: str = "/") -> HTMLResponse:
    return render(request, "login.html", next=_safe_next(next), error=None)


@router.post("/login")
async def login(request: Request, db: Session = Depends(get_db)) -> Response:
    data = await form(request)
    name = data.get("name", "")
    user = authenticate(db, name, data.get("password", ""))
    target = _safe_next(data.get("next"))
    if user is None:
        audit(db, name or "?", "login", name, outcome="denied")
        db.commit()
        return render(request, "login.html", status=401, next=target,
                      error="Wrong user name or password.")
    secret = new_token(db, user, kind="session", label="browser")
    audit(db, user.name, "login", user.name)
    db.commit()
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, secret, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=12 * 3600)
    return response


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request, db: Session = Depends(get_db)) -> Response:
    if request.cookies.get(COOKIE):
        revoke(db, request.cookies[COOKIE])
        db.commit()
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/")
def home(request: Request, who: Principal = Depends(require(*ANYONE)),
         db: Session = Depends(get_db)) -> HTMLResponse:
    return render(request, "home.html", counts=records.counts(db),
                  jobs=[records.job_dict(j) for j in records.job_runs(db, limit=10)])


# Web team ------------------------------------------------------------------------------------
@router.get("/sites")
def sites_page(request: Request, msg: str | None = None,
               who: Principal = Depends(require(*ANYONE)),
               db: Session = Depends(get_db)) -> HTMLResponse:
    sites = [records.site_dict(s) for s in db.scalars(select(Site).order_by(Site.name))]
    schedules = {e.target: e for e in list_schedules(db) if e.kind == "crawl"}
    return render(request, "sites.html", sites=sites, schedules=schedules, msg=msg,
                  can_edit=who.role in ("webteam", "admin"))


@router.post("/sites")
async def sites_add(request: Request, who: Principal = Depends(require(*WEBTEAM)),
                    db: Session = Depends(get_db)) -> Response:
    data = await form(request)
    try:
        records.create_site(db, dict(data), actor=who.name)
    except BewaarError as exc:
        db.rollback()
        sites = [records.site_dict(s) for s in db.scalars(select(Site).order_by(Site.name))]
        return render(request, "sites.html", status=400, sites=sites, schedules={},
                      msg=None, error=str(exc), form=data, can_edit=True)
    db.commit()
    _sync(request)
    return back("/sites", f"Site {data.get('name')} added.")


def _sync(request: Request) -> None:
    service = request.app.state.service
    if service is not None and service.running:
        service.sync()


@router.get("/sites/{name}")
def site_page(name: str, request: Request, msg: str | None = None,
              who: Principal = Depends(require(*ANYONE)),
              db: Session = Depends(get_db)) -> HTMLResponse:
    site = records.get_site(db, name)
    settings = settings_of(request)
    return render(
        request, "site.html", site=records.site_dict(site), msg=msg,
        runs=[records.run_dict(r, settings) for r in records.runs(db, name, 30)],
        jobs=[records.job_dict(j) for j in records.job_runs(db, name, 30)],
        categories=records.categories(db), can_edit=who.role in ("webteam", "admin"),
        can_categorise=who.role in ("records", "admin"),
    )


@router.post("/sites/{name}/schedule")
async def site_schedule(name: str, request: Request, who: Principal = Depends(require(*WEBTEAM)),
                        db: Session = Depends(get_db)) -> Response:
    cron = (await form(request)).get("cron", "").strip()
    try:
        if cron:
            set_schedule(db, "crawl", name, cron, actor=who.name)
        else:
            remove_schedule(db, "crawl", name, actor=who.name)
    except BewaarError as exc:
        db.rollback()
        return render(request, "error.html", status=400, title="Schedule not changed",
                      message=str(exc), link=f"/sites/{name}")
    db.commit()
    _sync(request)
    return back(f"/sites/{name}", "Schedule saved." if cron else "Schedule removed.")


@router.post("/sites/{name}/crawl")
def site_crawl(name: str, request: Request, who: Principal = Depends(require(*WEBTEAM)),
               db: Session = Depends(get_db)) -> Response:
    records.get_site(db, name)
    jid = start_job(request, "crawl", name)
    audit(db, who.name, "crawl.request", name, job=jid)
    db.commit()
    return back(f"/sites/{name}", f"Crawl of {name} started.")


@router.post("/sites/{name}/category")
async def site_category(name: str, request: Request, who: Principal = Depends(require(*RECORDS)),
                        db: Session = Depends(get_db)) -> Response:
    code = (await form(request)).get("category")
    try:
        records.set_category(db, name, code, actor=who.name)
    except BewaarError as exc:
        db.rollback()
        return render(request, "error.html", status=400, title="Category not changed",
                      message=str(exc), link=f"/sites/{name}")
    db.commit()
    return back(f"/sites/{name}", "Category saved.")


@router.get("/runs/{run_id}")
def run_page(run_id: int, request: Request, _: Principal = Depends(require(*ANYONE)),
             db: Session = Depends(get_db)) -> HTMLResponse:
    run = db.get(CrawlRun, run_id)
    if run is None:
        raise NotFoundError(f"no crawl run {run_id}")
    jobs = [records.job_dict(j) for j in records.job_runs(db, run.site.name, 50)
            if j.crawl_run_id == run_id]
    return render(request, "run.html", run=records.run_dict(run, settings_of(request)),
                  jobs=jobs, skipped=len(run.skipped),
                  replay=f"{records.replay_base(settings_of(request))}/{run.site.name}/")


# Records manager -------------------------------------------------------------------------------
@router.get("/collections")
def collections_page(request: Request, _: Principal = Depends(require(*RECORDS)),
                     db: Session = Depends(get_db)) -> HTMLResponse:
    return render(request, "collections.html",
                  collections=records.collections(db, settings_of(request)),
                  categories=records.categories(db))


# Auditor ---------------------------------------------------------------------------------------
@router.get("/packages")
def packages_page(request: Request, _: Principal = Depends(require(*AUDITOR, *RECORDS)),
                  db: Session = Depends(get_db)) -> HTMLResponse:
    return render(request, "packages.html", chains=records.chains(db), result=None)


@router.post("/packages/{package_id}/verify")
def packages_verify(package_id: str, request: Request, who: Principal = Depends(require(*AUDITOR)),
                    db: Session = Depends(get_db)) -> HTMLResponse:
    result = verify(db, package_id, who.name)
    return render(request, "packages.html", chains=records.chains(db), result=result)


@router.get("/audit")
def audit_page(request: Request, _: Principal = Depends(require(*AUDITOR)),
               db: Session = Depends(get_db)) -> HTMLResponse:
    return render(request, "audit.html", events=records.audit_events(db))
