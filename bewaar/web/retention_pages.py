"""Retention and holds for records managers (who put holds on and release them) and auditors
(who read): every package with its waardering, end date (termijnEinddatum) and state, filtered
by state, and the holds. The page and its JSON API under /api/retention and /api/holds; every
change through ``bewaar.services.records``."""

from __future__ import annotations

from datetime import date
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from archive.errors import BewaarError
from archive.package.retention import STATES
from bewaar.services import records
from bewaar.web.auth import ARCHIVIST, AUDITOR, RECORDS, Principal, get_db, require, settings_of
from bewaar.web.pages import back, failure, form, render, tr

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["api"])


def _page(request: Request, db: Session, who: Principal, status: int = 200,
          state: str | None = None, **context: Any) -> HTMLResponse:
    context.setdefault("msg", None)
    context.setdefault("error", None)
    wanted = state if state in STATES else None
    return render(request, "retention.html", status=status,
                  packages=records.retention(db, None, wanted), holds=records.holds(db),
                  states=STATES, state=wanted, can_change=who.role in ("records", "admin"),
                  **context)


@router.get("/retention")
def retention_page(request: Request, msg: str | None = None, state: str | None = None,
                   who: Principal = Depends(require(*RECORDS, *ARCHIVIST, *AUDITOR)),
                   db: Session = Depends(get_db)) -> HTMLResponse:
    return _page(request, db, who, state=state or None, msg=msg)


@router.post("/retention/holds")
async def hold_add(request: Request, who: Principal = Depends(require(*RECORDS)),
                   db: Session = Depends(get_db)) -> Response:
    data = await form(request)
    scope = data.get("scope", "")
    try:
        h = records.add_hold(settings_of(request), who.name, scope, data.get("target", ""),
                             data.get("reason", ""), data.get("until"))
    except BewaarError as exc:
        return _page(request, db, who, 400, error=failure(request, exc), failed="hold", form=data)
    return back("/retention", tr(request, "Hold %(id)s put on %(target)s.", id=h["id"],
                                 target=h["target"]))


@router.post("/retention/holds/{hold_id}/release")
async def hold_release(hold_id: str, request: Request,
                       who: Principal = Depends(require(*RECORDS)),
                       db: Session = Depends(get_db)) -> Response:
    try:
        records.release_hold(settings_of(request), who.name, hold_id)
    except BewaarError as exc:
        return _page(request, db, who, 400, error=failure(request, exc))
    return back("/retention", tr(request, "Hold %(id)s released.", id=hold_id))


# JSON API --------------------------------------------------------------------------------------
class HoldIn(BaseModel):
    scope: str = Field(examples=["site"], description="site, source or package")
    target: str = Field(examples=["justid"], description="the site, chat source or package")
    reason: str = Field(examples=["Woo-verzoek 2026-0142"])
    until: date | None = Field(default=None, examples=["2027-06-30"],
                               description="the last day it holds; none: until released")


@api.get("/retention")
def retention_api(as_of: date | None = None, state: str | None = None,
                  _: Principal = Depends(require(*RECORDS, *ARCHIVIST, *AUDITOR)),
                  db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    """Every package with its category, waardering, end date and state on ``as_of``
    (default today); ``state`` filters (keep, due, held, transfer-due, destroyed,
    transferred)."""
    return records.retention(db, as_of, state)


@api.get("/holds")
def holds_api(active: bool = False,
              _: Principal = Depends(require(*RECORDS, *ARCHIVIST, *AUDITOR)),
              db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    """Every hold, newest first; ``active`` only those that hold today."""
    return records.holds(db, active_only=active)


@api.post("/holds", status_code=201)
def hold_add_api(body: HoldIn, request: Request,
                 who: Principal = Depends(require(*RECORDS))) -> dict[str, Any]:
    """Put a hold on a site's, a chat source's or one package's archives."""
    return records.add_hold(settings_of(request), who.name, body.scope, body.target,
                            body.reason, body.until)


@api.post("/holds/{hold_id}/release")
def hold_release_api(hold_id: int, request: Request,
                     who: Principal = Depends(require(*RECORDS))) -> dict[str, Any]:
    """Release a hold."""
    return records.release_hold(settings_of(request), who.name, hold_id)
