"""Destruction lists on the web, with four eyes as on the CLI: a records manager proposes what is
due, another records manager reviews it, an archivist approves it and, after the waiting period,
executes it; until then it can be cancelled. Auditors read. Each step is the logged-in user's,
through ``bewaar.services.destruction`` and ``bewaar.services.disposal`` (which check her role and
write the audit row); the pages only show the buttons her role and the list's state allow. The
JSON API lives under /api/destruction."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy.orm import Session

from archive.errors import BewaarError
from bewaar.services import destruction, disposal
from bewaar.services.sites import InputError
from bewaar.web.auth import ARCHIVIST, AUDITOR, RECORDS, Principal, get_db, require, settings_of
from bewaar.web.pages import back, failure, form, render, tr

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["api"])

READERS = (*RECORDS, *ARCHIVIST, *AUDITOR)
BASE = "/retention/destruction"


def _steps(dl: dict[str, Any], who: Principal) -> list[str]:
    """What ``who`` may do with the list in its state, in the order of the procedure (the
    service checks it again)."""
    state, role = dl["state"], who.role
    may: list[str] = []
    if state == "proposed" and role in destruction.PROPOSERS and dl["proposed_by"] != who.name:
        may.append("review")
    if state == "reviewed" and role in destruction.APPROVERS:
        may.append("approve")
    if state in ("approved", "executing") and role in disposal.EXECUTORS:
        may.append("execute")
    if state in destruction.OPEN and role in destruction.CANCELLERS:
        may.append("cancel")
    return may


def _lists_page(request: Request, db: Session, who: Principal, status: int = 200,
                **context: Any) -> HTMLResponse:
    context.setdefault("msg", None)
    context.setdefault("error", None)
    return render(request, "destruction.html", status=status, lists=destruction.lists(db),
                  can_propose=who.role in destruction.PROPOSERS, **context)


def _list_page(request: Request, db: Session, who: Principal, list_id: str,
               status: int = 200, **context: Any) -> HTMLResponse:
    context.setdefault("msg", None)
    context.setdefault("error", None)
    dl = destruction.show(db, list_id)
    return render(request, "destruction_list.html", status=status, dl=dl,
                  steps=_steps(dl, who), **context)


@router.get(BASE)
def lists_page(request: Request, msg: str | None = None,
               who: Principal = Depends(require(*READERS)),
               db: Session = Depends(get_db)) -> HTMLResponse:
    return _lists_page(request, db, who, msg=msg)


@router.post(BASE)
async def propose(request: Request, who: Principal = Depends(require(*RECORDS)),
                  db: Session = Depends(get_db)) -> Response:
    data = await form(request)
    try:
        made = destruction.propose(settings_of(request), who.name, data.get("as_of") or None)
    except BewaarError as exc:
        return _lists_page(request, db, who, 400, error=failure(request, exc), form=data)
    return back(f"{BASE}/{made['id']}", tr(request, "Destruction list %(id)s proposed.",
                                           id=made["id"]))


@router.get(BASE + "/{list_id}")
def list_page(list_id: str, request: Request, msg: str | None = None,
              who: Principal = Depends(require(*READERS)),
              db: Session = Depends(get_db)) -> HTMLResponse:
    return _list_page(request, db, who, list_id, msg=msg)


@router.post(BASE + "/{list_id}/{step}")
async def list_step(list_id: str, step: str, request: Request,
                    who: Principal = Depends(require(*RECORDS, *ARCHIVIST)),
                    db: Session = Depends(get_db)) -> Response:
    """One step of the procedure; the service refuses a role or state that may not take it."""
    data = await form(request)
    settings = settings_of(request)
    try:
        if step == "review":
            verdict = data.get("verdict", "")
            if verdict not in ("approve", "reject"):
                raise InputError("choose to agree with the list or to reject it",
                                 field="verdict")
            destruction.review(settings, who.name, list_id, approve=verdict == "approve",
                               reason=data.get("reason") or None)
            step = "review" if verdict == "approve" else "reject"
        elif step == "approve":
            destruction.approve(settings, who.name, list_id)
        elif step == "cancel":
            destruction.cancel(settings, who.name, list_id, data.get("reason", ""))
        elif step == "execute":  # long: it runs while the page waits (the CLI shows progress)
            disposal.execute(settings, who.name, list_id)
        else:
            return _list_page(request, db, who, list_id, 404,
                              error=tr(request, "There is no such step."))
    except BewaarError as exc:
        db.expire_all()
        return _list_page(request, db, who, list_id, 400, error=failure(request, exc), failed=step,
                          form=data)
    done = {"review": tr(request, "Destruction list %(id)s reviewed.", id=list_id),
            "reject": tr(request, "Destruction list %(id)s rejected.", id=list_id),
            "approve": tr(request, "Destruction list %(id)s approved.", id=list_id),
            "cancel": tr(request, "Destruction list %(id)s cancelled.", id=list_id),
            "execute": tr(request, "Destruction list %(id)s executed.", id=list_id)}
    return back(f"{BASE}/{list_id}", done[step])


# JSON API --------------------------------------------------------------------------------------
class ProposeIn(BaseModel):
    as_of: str | None = Field(default=None, examples=["2026-12-01"],
                              description="list what is due on this day (default today)")


class ReviewIn(BaseModel):
    approve: bool = Field(description="true: agree with the list; false: reject it")
    reason: str | None = Field(default=None, description="why it is rejected (required then)")


class CancelIn(BaseModel):
    reason: str = Field(examples=["Woo-verzoek ontvangen"])


@api.get("/destruction")
def lists_api(_: Principal = Depends(require(*READERS)),
              db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    """Every destruction list, newest first, with its state and the number of its items."""
    return destruction.lists(db)


@api.get("/destruction/{list_id}")
def list_api(list_id: str, _: Principal = Depends(require(*READERS)),
             db: Session = Depends(get_db)) -> dict[str, Any]:
    """One list with its items, each marked ``held`` when a hold covers it today."""
    return destruction.show(db, list_id)


@api.post("/destruction", status_code=201)
def propose_api(body: ProposeIn, request: Request,
                who: Principal = Depends(require(*RECORDS))) -> dict[str, Any]:
    """Propose a list of everything due for destruction and not held (records managers)."""
    return destruction.propose(settings_of(request), who.name, body.as_of)


@api.post("/destruction/{list_id}/review")
def review_api(list_id: str, body: ReviewIn, request: Request,
               who: Principal = Depends(require(*RECORDS))) -> dict[str, Any]:
    """Agree with or reject a proposed list (another records manager than its author)."""
    return destruction.review(settings_of(request), who.name, list_id, approve=body.approve,
                              reason=body.reason)


@api.post("/destruction/{list_id}/approve")
def approve_api(list_id: str, request: Request,
                who: Principal = Depends(require(*ARCHIVIST))) -> dict[str, Any]:
    """Approve a reviewed list (archivists); it may be executed after the waiting period."""
    return destruction.approve(settings_of(request), who.name, list_id)


@api.post("/destruction/{list_id}/execute")
def execute_api(list_id: str, request: Request,
                who: Principal = Depends(require(*ARCHIVIST))) -> dict[str, Any]:
    """Execute an approved list whose waiting period is over (archivists): destroy what is not
    held, write the tombstones and seal the verklaring van vernietiging."""
    return disposal.execute(settings_of(request), who.name, list_id)


@api.post("/destruction/{list_id}/cancel")
def cancel_api(list_id: str, body: CancelIn, request: Request,
               who: Principal = Depends(require(*RECORDS, *ARCHIVIST))) -> dict[str, Any]:
    """Cancel a list that has not been executed, with a reason."""
    return destruction.cancel(settings_of(request), who.name, list_id, body.reason)
