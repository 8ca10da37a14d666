"""Replay access for records managers (who change it) and auditors (who read it): URL prefixes
excluded from replay (until a date, or for good), prefixes allowed again, each site's embargo,
and the history of every change (the audit log's ``access.exclude|allow|embargo`` rows). The
page and its JSON API under /api/access; every change through ``bewaar.services.access``."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from archive.errors import BewaarError
from bewaar.services import access, queries
from bewaar.web.auth import AUDITOR, RECORDS, Principal, get_db, require, settings_of
from bewaar.web.pages import back, failure, form, render, tr

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/access", tags=["api"])

HISTORY = 200


class BadInput(BewaarError):
    """A form value that cannot be used (nothing was changed)."""


def parse_until(value: str | None) -> datetime | None:
    """``2030-01-31`` (a date field) as the start of that day in UTC, as ``bewaar replay
    exclude --until`` takes it; empty: no end."""
    value = (value or "").strip()
    if not value:
        return None
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise BadInput("until %(value)r: use a date like 2030-01-31", value=value) from None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def parse_days(value: str | None) -> int:
    try:
        days = int((value or "").strip())
    except ValueError:
        raise BadInput("embargo %(value)r: give a whole number of days (0 lifts it)",
                       value=value) from None
    if days < 0:
        raise BadInput("embargo days must be 0 or more")
    return days


def state(db: Session) -> dict[str, Any]:
    """What the page and ``GET /api/access`` show."""
    return {"rules": queries.access_rules(db),
            "embargoes": [e for e in queries.embargoes(db) if not e["retired"]],
            "history": queries.access_history(db, HISTORY)}


def _page(request: Request, db: Session, who: Principal, status: int = 200,
          **context: Any) -> HTMLResponse:
    context.setdefault("msg", None)
    context.setdefault("error", None)
    return render(request, "access.html", status=status, **state(db),
                  can_change=who.role in ("records", "admin"), **context)


@router.get("/access")
def access_page(request: Request, msg: str | None = None,
                who: Principal = Depends(require(*RECORDS, *AUDITOR)),
                db: Session = Depends(get_db)) -> HTMLResponse:
    return _page(request, db, who, msg=msg)


@router.post("/access/exclude")
async def access_exclude(request: Request, who: Principal = Depends(require(*RECORDS)),
                         db: Session = Depends(get_db)) -> Response:
    data = await form(request)
    prefix = data.get("url_prefix", "").strip()
    try:
        access.exclude(settings_of(request), who.name, prefix, parse_until(data.get("until")))
    except BewaarError as exc:
        return _page(request, db, who, 400, error=failure(request, exc), failed="exclude",
                     form=data)
    return back("/access", tr(request, "Excluded from replay: %(prefix)s", prefix=prefix))


@router.post("/access/allow")
async def access_allow(request: Request, who: Principal = Depends(require(*RECORDS)),
                       db: Session = Depends(get_db)) -> Response:
    data = await form(request)
    prefix = data.get("url_prefix", "").strip()
    try:
        access.allow(settings_of(request), who.name, prefix)
    except BewaarError as exc:
        return _page(request, db, who, 400, error=failure(request, exc), failed="allow", form=data)
    return back("/access", tr(request, "Shown in replay again: %(prefix)s", prefix=prefix))


@router.post("/access/embargo")
async def access_embargo(request: Request, who: Principal = Depends(require(*RECORDS)),
                         db: Session = Depends(get_db)) -> Response:
    data = await form(request)
    site = data.get("site", "")
    try:
        days = parse_days(data.get("days"))
        access.embargo(settings_of(request), who.name, site, days)
    except BewaarError as exc:
        return _page(request, db, who, 400, error=failure(request, exc),
                     failed=f"embargo:{site}", form=data)
    if days:
        return back("/access", tr(request, "Embargo of %(site)s: %(days)s days.", site=site,
                                  days=days))
    return back("/access", tr(request, "Embargo of %(site)s lifted.", site=site))


# JSON API --------------------------------------------------------------------------------------
class ExcludeIn(BaseModel):
    url_prefix: str = Field(examples=["https://www.justid.nl/medewerkers/"])
    until: datetime | None = Field(default=None, examples=["2030-01-01T00:00:00Z"])


class AllowIn(BaseModel):
    url_prefix: str = Field(examples=["https://www.justid.nl/medewerkers/"])


class EmbargoIn(BaseModel):
    days: int = Field(ge=0, examples=[30], description="0 lifts the embargo")


@api.get("")
def access_state(_: Principal = Depends(require(*RECORDS, *AUDITOR)),
                 db: Session = Depends(get_db)) -> dict[str, Any]:
    """Every access rule, each site's embargo and the history of changes (newest first)."""
    return state(db)


@api.get("/history")
def access_history(limit: int = HISTORY, _: Principal = Depends(require(*RECORDS, *AUDITOR)),
                   db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    """The audit log's rows of access changes, newest first: who changed what, when."""
    return queries.access_history(db, min(max(limit, 1), 5000))


@api.post("/exclude", status_code=201)
def exclude_api(body: ExcludeIn, request: Request,
                who: Principal = Depends(require(*RECORDS))) -> dict[str, Any]:
    """Exclude a URL prefix from replay (until a moment, if given)."""
    until = body.until
    if until is not None and until.tzinfo is None:
        until = until.replace(tzinfo=UTC)
    return access.exclude(settings_of(request), who.name, body.url_prefix.strip(), until)


@api.post("/allow")
def allow_api(body: AllowIn, request: Request,
              who: Principal = Depends(require(*RECORDS))) -> dict[str, Any]:
    """Lift the exclusion of a URL prefix, or open it inside a wider excluded one."""
    return access.allow(settings_of(request), who.name, body.url_prefix.strip())


@api.put("/embargoes/{site}")
def embargo_api(site: str, body: EmbargoIn, request: Request,
                who: Principal = Depends(require(*RECORDS))) -> dict[str, Any]:
    """Set a site's embargo in days (0 lifts it)."""
    return access.embargo(settings_of(request), who.name, site, body.days)
