"""Server-rendered pages for the three user groups. Forms post url-encoded bodies."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from sqlalchemy.orm import Session

from archive.errors import BewaarError
from archive.models.service import ROLES
from bewaar.services import accounts, packages, queries, sites
from bewaar.services.audit import events
from bewaar.web import charts, i18n, layout
from bewaar.web.api import start_job, sync
from bewaar.web.auth import (
    ADMIN,
    ANYONE,
    AUDITOR,
    COOKIE,
    RECORDS,
    WEBTEAM,
    Principal,
    check_csrf,
    get_db,
    require,
    settings_of,
)
from scheduler.schedules import list_schedules

router = APIRouter(include_in_schema=False)
templates = layout.templates


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """``template`` in the viewer's language, inside the shared frame (bewaar.web.layout)."""
    return layout.render_page(request, template, status, **context)


def tr(request: Request, message: str, **values: Any) -> str:
    """``message`` in the viewer's language (bewaar/web/locale), placeholders filled."""
    return i18n.translate(i18n.locale_of(request), message, **values)


def failure(request: Request, exc: BaseException) -> str:
    """An error's message in the viewer's language (bewaar.web.i18n.error_message)."""
    return i18n.error_message(i18n.locale_of(request), exc)


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
async def login(request: Request) -> Response:
    data = await form(request)
    target = _safe_next(data.get("next"))
    secret = accounts.login(settings_of(request), data.get("name", ""), data.get("password", ""))
    if secret is None:
        return render(request, "login.html", status=401, next=target, name=data.get("name", ""),
                      error=tr(request, "Wrong user name or password."))
    response = RedirectResponse(target, status_code=303)
    response.set_cookie(COOKIE, secret, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https", max_age=12 * 3600)
    return response


@router.post("/logout", dependencies=[Depends(check_csrf)])
def logout(request: Request) -> Response:
    if request.cookies.get(COOKIE):
        accounts.logout(settings_of(request), request.cookies[COOKIE])
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE)
    return response


@router.get("/")
def home(request: Request, who: Principal = Depends(require(*ANYONE)),
         db: Session = Depends(get_db)) -> HTMLResponse:
    return render(request, "home.html", counts=queries.counts(db),
                  jobs=[queries.job_dict(j) for j in queries.job_runs(db, limit=10)])


def _refused(request: Request, exc: BewaarError, title: str, link: str) -> HTMLResponse:
    return render(request, "error.html", status=400, title=title, message=failure(request, exc),
                  link=link)


# Web team ------------------------------------------------------------------------------------
@router.get("/sites")
def sites_page(request: Request, msg: str | None = None,
               who: Principal = Depends(require(*ANYONE)),
               db: Session = Depends(get_db)) -> HTMLResponse:
    schedules = {e.target: e for e in list_schedules(db) if e.kind == "crawl"}
    return render(request, "sites.html", sites=queries.sites(db), schedules=schedules, msg=msg,
                  can_edit=who.role in ("webteam", "admin"))


@router.post("/sites")
async def sites_add(request: Request, who: Principal = Depends(require(*WEBTEAM)),
                    db: Session = Depends(get_db)) -> Response:
    data = await form(request)
    try:
        sites.add_site(settings_of(request), who.name,
                       {k: v for k, v in data.items() if k != "csrf"})
    except BewaarError as exc:
        return render(request, "sites.html", status=400, sites=queries.sites(db), schedules={},
                      msg=None, error=failure(request, exc), form=data, can_edit=True,
                      error_field=getattr(exc, "field", None))
    sync(request)
    return back("/sites", tr(request, "Site %(name)s added.", name=data.get("name")))


@router.get("/sites/{name}")
def site_page(name: str, request: Request, msg: str | None = None,
              who: Principal = Depends(require(*ANYONE)),
              db: Session = Depends(get_db)) -> HTMLResponse:
    site = sites.get_site(db, name)
    settings = settings_of(request)
    return render(
        request, "site.html", site=sites.site_dict(site), msg=msg,
        runs=[queries.run_dict(r, settings) for r in queries.runs(db, name, 30)],
        jobs=[queries.job_dict(j) for j in queries.job_runs(db, name, 30)],
        categories=queries.categories(db), can_edit=who.role in ("webteam", "admin"),
        can_categorise=who.role in ("records", "admin"),
        history=charts.site_history(db, name, i18n.locale_of(request)),
    )


@router.get("/sites/{name}/edit")
def site_edit_page(name: str, request: Request, _: Principal = Depends(require(*WEBTEAM)),
                   db: Session = Depends(get_db)) -> HTMLResponse:
    site = sites.site_dict(sites.get_site(db, name))
    return render(request, "site_edit.html", site=site, form=None, error=None)


EDIT_FIELDS = ("seeds", "include", "exclude", "max_pages", "max_depth", "robots", "schedule")


@router.post("/sites/{name}/edit")
async def site_edit(name: str, request: Request, who: Principal = Depends(require(*WEBTEAM)),
                    db: Session = Depends(get_db)) -> Response:
    data = await form(request)
    try:
        result = sites.edit_site(settings_of(request), who.name, name,
                                 {k: data[k] for k in EDIT_FIELDS if k in data})
    except BewaarError as exc:
        return render(request, "site_edit.html", status=400,
                      site=sites.site_dict(sites.get_site(db, name)), form=data,
                      error=failure(request, exc))
    sync(request)
    changed = ", ".join(result["changed"])
    return back(f"/sites/{name}", tr(request, "Changed: %(fields)s.", fields=changed) if changed
                else tr(request, "Nothing changed."))


@router.post("/sites/{name}/remove")
def site_remove(name: str, request: Request, who: Principal = Depends(require(*WEBTEAM))
                ) -> Response:
    try:
        result = sites.remove_site(settings_of(request), who.name, name)
    except BewaarError as exc:
        return _refused(request, exc, tr(request, "Site not removed"), f"/sites/{name}")
    sync(request)
    if result["outcome"] == "deleted":
        return back("/sites", tr(request, "Site %(name)s deleted.", name=name))
    return back(f"/sites/{name}", tr(request, "Site %(name)s retired: no more crawls; its "
                                               "archives are kept.", name=name))


@router.post("/sites/{name}/schedule")
async def site_schedule(name: str, request: Request, who: Principal = Depends(require(*WEBTEAM))
                        ) -> Response:
    cron = (await form(request)).get("cron", "").strip()
    try:
        if cron:
            sites.set_schedule(settings_of(request), who.name, "crawl", name, cron)
        else:
            sites.remove_schedule(settings_of(request), who.name, "crawl", name)
    except BewaarError as exc:
        return _refused(request, exc, tr(request, "Schedule not changed"), f"/sites/{name}")
    sync(request)
    return back(f"/sites/{name}", tr(request, "Schedule saved.") if cron
                else tr(request, "Schedule removed."))


@router.post("/sites/{name}/crawl")
def site_crawl(name: str, request: Request, who: Principal = Depends(require(*WEBTEAM))
               ) -> Response:
    try:
        sites.request_run(settings_of(request), who.name, "crawl", name,
                          lambda k, t: start_job(request, k, t))
    except BewaarError as exc:
        return _refused(request, exc, tr(request, "Crawl not started"), f"/sites/{name}")
    return back(f"/sites/{name}", tr(request, "Crawl of %(name)s started.", name=name))


@router.post("/sites/{name}/category")
async def site_category(name: str, request: Request, who: Principal = Depends(require(*RECORDS))
                        ) -> Response:
    code = (await form(request)).get("category")
    try:
        sites.set_category(settings_of(request), who.name, name, code)
    except BewaarError as exc:
        return _refused(request, exc, tr(request, "Category not changed"), f"/sites/{name}")
    return back(f"/sites/{name}", tr(request, "Category saved."))


@router.get("/runs/{run_id}")
def run_page(run_id: int, request: Request, _: Principal = Depends(require(*ANYONE)),
             db: Session = Depends(get_db)) -> HTMLResponse:
    run = queries.get_run(db, run_id)
    jobs = [queries.job_dict(j) for j in queries.job_runs(db, run.site.name, 50)
            if j.crawl_run_id == run_id]
    return render(request, "run.html", run=queries.run_dict(run, settings_of(request)),
                  jobs=jobs, skipped=len(run.skipped),
                  replay=f"{queries.replay_base(settings_of(request))}/{run.site.name}/")


# Records manager -------------------------------------------------------------------------------
@router.get("/collections")
def collections_page(request: Request, _: Principal = Depends(require(*RECORDS)),
                     db: Session = Depends(get_db)) -> HTMLResponse:
    return render(request, "collections.html",
                  collections=queries.collections(db, settings_of(request)),
                  categories=queries.categories(db))


# Auditor ---------------------------------------------------------------------------------------
@router.get("/packages")
def packages_page(request: Request, _: Principal = Depends(require(*AUDITOR, *RECORDS)),
                  db: Session = Depends(get_db)) -> HTMLResponse:
    return render(request, "packages.html", chains=queries.chains(db), result=None)


@router.post("/packages/{package_id}/verify")
def packages_verify(package_id: str, request: Request, who: Principal = Depends(require(*AUDITOR)),
                    db: Session = Depends(get_db)) -> HTMLResponse:
    result = packages.verify_recorded(settings_of(request), who.name, package_id)
    return render(request, "packages.html", chains=queries.chains(db), result=result)


@router.get("/audit")
def audit_page(request: Request, actor: str | None = None, action: str | None = None,
               _: Principal = Depends(require(*AUDITOR)),
               db: Session = Depends(get_db)) -> HTMLResponse:
    return render(request, "audit.html", actor=actor or "", action=action or "",
                  events=events(db, limit=500, actor=actor or None, action=action or None))


# Admin: users and API tokens -------------------------------------------------------------------
@router.get("/admin")
def users_page(request: Request, msg: str | None = None,
               _: Principal = Depends(require(*ADMIN)),
               db: Session = Depends(get_db)) -> HTMLResponse:
    return render(request, "users.html", users=accounts.users(db), tokens=accounts.tokens(db),
                  roles=ROLES, msg=msg, error=None, new_token=None)


def _users_refused(request: Request, db: Session, exc: BewaarError) -> HTMLResponse:
    return render(request, "users.html", status=400, users=accounts.users(db),
                  tokens=accounts.tokens(db), roles=ROLES, msg=None, error=failure(request, exc),
                  new_token=None)


@router.post("/admin/users")
async def users_add(request: Request, who: Principal = Depends(require(*ADMIN)),
                    db: Session = Depends(get_db)) -> Response:
    data = await form(request)
    try:
        accounts.add_user(settings_of(request), who.name, data.get("name", "").strip(),
                          data.get("role", ""), data.get("password", ""))
    except BewaarError as exc:
        return _users_refused(request, db, exc)
    return back("/admin", tr(request, "User %(name)s added.", name=data.get("name")))


USER_ACTIONS = ("disable", "enable", "remove", "password", "role")


@router.post("/admin/users/{name}/{action}")
async def users_change(name: str, action: str, request: Request,
                       who: Principal = Depends(require(*ADMIN)),
                       db: Session = Depends(get_db)) -> Response:
    if action not in USER_ACTIONS:
        return _users_refused(request, db, BewaarError("unknown action %(action)r",
                                                       action=action))
    data = await form(request)
    s = settings_of(request)
    try:
        if action in ("disable", "remove") and name == who.name:
            raise BewaarError("you cannot disable or remove yourself")
        if action == "disable":
            accounts.set_disabled(s, who.name, name, True)
        elif action == "enable":
            accounts.set_disabled(s, who.name, name, False)
        elif action == "remove":
            accounts.remove_user(s, who.name, name)
        elif action == "password":
            accounts.set_password(s, who.name, name, data.get("password", ""))
        else:
            accounts.set_role(s, who.name, name, data.get("role", ""))
    except BewaarError as exc:
        return _users_refused(request, db, exc)
    done = {"disable": tr(request, "User %(name)s disabled.", name=name),
            "enable": tr(request, "User %(name)s enabled.", name=name),
            "remove": tr(request, "User %(name)s removed.", name=name),
            "password": tr(request, "User %(name)s has a new password.", name=name),
            "role": tr(request, "User %(name)s has a new role.", name=name)}[action]
    return back("/admin", done)


@router.post("/admin/tokens")
async def tokens_create(request: Request, who: Principal = Depends(require(*ADMIN)),
                        db: Session = Depends(get_db)) -> Response:
    data = await form(request)
    try:
        made = accounts.create_token(settings_of(request), who.name, data.get("user", ""),
                                     data.get("label") or None)
    except BewaarError as exc:
        return _users_refused(request, db, exc)
    # Shown once, on this page only; never in a URL or a log.
    return render(request, "users.html", users=accounts.users(db), tokens=accounts.tokens(db),
                  roles=ROLES, msg=None, error=None, new_token=made)


@router.post("/admin/tokens/{token_id}/revoke")
def tokens_revoke(token_id: int, request: Request, who: Principal = Depends(require(*ADMIN)),
                  db: Session = Depends(get_db)) -> Response:
    try:
        accounts.revoke_token(settings_of(request), who.name, token_id)
    except BewaarError as exc:
        return _users_refused(request, db, exc)
    return back("/admin", tr(request, "API token %(id)s revoked.", id=token_id))
