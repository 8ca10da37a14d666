"""Transfers to the e-Depot on the web: every SIP export with its state, and the confirmation
that the receiving archive took it in (records managers and archivists; auditors read). A SIP is
made on the archive's own machine with ``bewaar export sip`` (it writes a folder or tar there);
confirming it goes through ``bewaar.services.transfer``, which checks the user's role and writes
the audit rows. The JSON API lives under /api/transfers."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from archive.errors import BewaarError
from bewaar.services import transfer
from bewaar.web.auth import ARCHIVIST, AUDITOR, RECORDS, Principal, get_db, require, settings_of
from bewaar.web.pages import back, failure, render, tr

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["api"])

READERS = (*RECORDS, *ARCHIVIST, *AUDITOR)
PAGE = "/retention/transfers"


def _page(request: Request, db: Session, who: Principal, status: int = 200,
          **context: Any) -> HTMLResponse:
    context.setdefault("msg", None)
    context.setdefault("error", None)
    return render(request, "transfers.html", status=status, exports=transfer.exports(db),
                  can_confirm=who.role in transfer.CONFIRMERS, **context)


@router.get(PAGE)
def transfers_page(request: Request, msg: str | None = None,
                   who: Principal = Depends(require(*READERS)),
                   db: Session = Depends(get_db)) -> HTMLResponse:
    return _page(request, db, who, msg=msg)


@router.post(PAGE + "/{sip_id}/confirm")
def confirm(sip_id: str, request: Request, who: Principal = Depends(require(*RECORDS, *ARCHIVIST)),
            db: Session = Depends(get_db)) -> Response:
    try:
        transfer.confirm(settings_of(request), who.name, sip_id)
    except BewaarError as exc:
        db.expire_all()
        return _page(request, db, who, 400, error=failure(request, exc))
    return back(PAGE, tr(request, "SIP %(id)s confirmed: its packages are transferred.",
                         id=sip_id))


@api.get("/transfers")
def transfers_api(_: Principal = Depends(require(*READERS)),
                  db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    """Every SIP export, newest first, with its packages and whether it was confirmed."""
    return transfer.exports(db)


@api.post("/transfers/{sip_id}/confirm")
def confirm_api(sip_id: str, request: Request,
                who: Principal = Depends(require(*RECORDS, *ARCHIVIST))) -> dict[str, Any]:
    """The receiving archive confirmed the SIP: its packages become ``transferred``."""
    return transfer.confirm(settings_of(request), who.name, sip_id)
