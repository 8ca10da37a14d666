"""The digital archivist's suggestions for records managers to review: each suggested value with
its confidence and the text it was found in (the span marked), accepted or rejected in one click,
or accepted in bulk above a confidence the reviewer chooses. Auditors read. Every decision goes
through ``bewaar.services.suggestions`` (audited; accepting a value MDTO carries seals a new
package version, never changing the sealed one). The JSON API lives under /api/suggestions."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from archive.errors import BewaarError
from bewaar.services import suggestions
from bewaar.services.sites import InputError
from bewaar.web.auth import AUDITOR, RECORDS, Principal, get_db, require, settings_of
from bewaar.web.pages import back, failure, form, render, tr

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["api"])

PAGE = "/suggestions"
FIELDS = ("language", "keyword", "person", "organisation", "location", "summary", "category",
          "pii")
SHOWN = 200  # suggestions on one page (the most confident first)


def _confidence(value: str | None) -> float:
    try:
        number = float((value or "").replace(",", "."))
    except ValueError:
        raise InputError("the confidence is a number from 0 to 1, such as 0.9",
                         field="confidence") from None
    if not 0 <= number <= 1:
        raise InputError("the confidence is a number from 0 to 1, such as 0.9",
                         field="confidence")
    return number


def _page(request: Request, db: Session, who: Principal, status: int = 200,
          field: str | None = None, state: str | None = None,
          **context: Any) -> HTMLResponse:
    context.setdefault("msg", None)
    context.setdefault("error", None)
    wanted_field = field if field in FIELDS else None
    wanted_state = state if state in suggestions.STATES else "proposed"
    rows = suggestions.suggestions(db, field=wanted_field, state=wanted_state)
    rows.sort(key=lambda s: (-s["confidence"], s["id"]))
    return render(request, "suggestions.html", status=status, rows=rows[:SHOWN],
                  total=len(rows), fields=FIELDS, field=wanted_field, state=wanted_state,
                  states=suggestions.STATES, can_decide=who.role in ("records", "admin"),
                  **context)


@router.get(PAGE)
def suggestions_page(request: Request, msg: str | None = None, field: str | None = None,
                     state: str | None = None,
                     who: Principal = Depends(require(*RECORDS, *AUDITOR)),
                     db: Session = Depends(get_db)) -> HTMLResponse:
    return _page(request, db, who, field=field, state=state, msg=msg)


@router.post(PAGE + "/{suggestion_id}/accept")
def accept(suggestion_id: int, request: Request, who: Principal = Depends(require(*RECORDS)),
           db: Session = Depends(get_db)) -> Response:
    try:
        out = suggestions.accept(settings_of(request), who.name, suggestion_id)
    except BewaarError as exc:
        db.expire_all()
        return _page(request, db, who, 400, error=failure(request, exc))
    if out.get("new_package"):
        return back(PAGE, tr(request, "Accepted: new package version %(id)s.",
                             id=out["new_package"]))
    return back(PAGE, tr(request, "Suggestion %(id)s accepted.", id=suggestion_id))


@router.post(PAGE + "/{suggestion_id}/reject")
async def reject(suggestion_id: int, request: Request,
                 who: Principal = Depends(require(*RECORDS)),
                 db: Session = Depends(get_db)) -> Response:
    data = await form(request)
    try:
        suggestions.reject(settings_of(request), who.name, suggestion_id,
                           data.get("reason", ""))
    except BewaarError as exc:
        db.expire_all()
        return _page(request, db, who, 400, error=failure(request, exc), failed=suggestion_id,
                     form=data)
    return back(PAGE, tr(request, "Suggestion %(id)s rejected.", id=suggestion_id))


@router.post(PAGE + "/bulk")
async def bulk_accept(request: Request, who: Principal = Depends(require(*RECORDS)),
                      db: Session = Depends(get_db)) -> Response:
    """Accept every proposed suggestion of the chosen field at or above the confidence."""
    data = await form(request)
    field = data.get("field") or None
    try:
        if field is not None and field not in FIELDS:
            raise InputError("unknown field %(name)r", field="field", name=field)
        least = _confidence(data.get("confidence"))
        rows = [r for r in suggestions.suggestions(db, field=field, state="proposed")
                if r["confidence"] >= least]
        if not rows:
            raise InputError("no proposed suggestion has that confidence or more",
                             field="confidence")
        db.close()  # each accept is its own change
        made = suggestions.accept_many(settings_of(request), who.name, [r["id"] for r in rows])
    except BewaarError as exc:
        db.expire_all()
        return _page(request, db, who, 400, field=field, error=failure(request, exc), failed="bulk",
                     form=data)
    return back(PAGE, tr(request, "%(n)s suggestions accepted; %(v)s new package versions.",
                         n=len(rows), v=len(made)))


# JSON API --------------------------------------------------------------------------------------
class RejectIn(BaseModel):
    reason: str = Field(examples=["Geen persoon: een straatnaam"])


@api.get("/suggestions")
def suggestions_api(package: str | None = None, field: str | None = None,
                    state: str | None = None,
                    _: Principal = Depends(require(*RECORDS, *AUDITOR)),
                    db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    """Suggestions with their confidence and evidence; ``field`` ``pii`` gives all personal
    data; ``state`` proposed, accepted or rejected."""
    return suggestions.suggestions(db, package=package, field=field, state=state)


@api.post("/suggestions/{suggestion_id}/accept")
def accept_api(suggestion_id: int, request: Request,
               who: Principal = Depends(require(*RECORDS))) -> dict[str, Any]:
    """Accept a suggestion; a value MDTO carries seals a new package version."""
    return suggestions.accept(settings_of(request), who.name, suggestion_id)


@api.post("/suggestions/{suggestion_id}/reject")
def reject_api(suggestion_id: int, body: RejectIn, request: Request,
               who: Principal = Depends(require(*RECORDS))) -> dict[str, Any]:
    """Reject a suggestion, with the reason."""
    return suggestions.reject(settings_of(request), who.name, suggestion_id, body.reason)
