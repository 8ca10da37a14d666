"""Fixity for auditors and records managers: the last fixity check (every stored WARC and CDXJ
index re-hashed against the database, replay/fixity.py) with its findings, the checks before it,
and the last recorded verification of each package (the audit log's ``package.verify`` rows).
Auditors (and admin) run a check now; it runs in the request, through
``bewaar.services.crawls.fixity``, which records its ``fixity.check`` row."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from archive.errors import BewaarError
from bewaar.services import crawls, queries
from bewaar.services.audit import events
from bewaar.web.auth import AUDITOR, RECORDS, Principal, get_db, require, settings_of
from bewaar.web.pages import back, failure, render, tr

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/fixity", tags=["api"])


def state(db: Session) -> dict[str, Any]:
    """The last checks (newest first), who ran the last one, each package's last verify."""
    checks = queries.fixity_checks(db, limit=10)
    runs = events(db, action="fixity.check", limit=1)
    return {"last": checks[0] if checks else None, "checks": checks,
            "last_run_by": runs[0] if runs else None, "packages": queries.last_verifies(db)}


@router.get("/fixity")
def fixity_page(request: Request, msg: str | None = None,
                who: Principal = Depends(require(*AUDITOR, *RECORDS)),
                db: Session = Depends(get_db)) -> HTMLResponse:
    return render(request, "fixity.html", **state(db), msg=msg, error=None,
                  can_run=who.role in ("auditor", "admin"))


@router.post("/fixity")
def fixity_run(request: Request, who: Principal = Depends(require(*AUDITOR)),
               db: Session = Depends(get_db)) -> Response:
    try:
        report = crawls.fixity(settings_of(request), who.name)
    except BewaarError as exc:
        return render(request, "fixity.html", status=400, **state(db), msg=None,
                      error=failure(request, exc), can_run=True)
    if report.ok:
        return back("/fixity", tr(request, "Fixity check %(id)s done: %(files)s files, no "
                                           "findings.", id=report.check_id, files=report.files))
    return back("/fixity", tr(request, "Fixity check %(id)s done: %(files)s files, %(findings)s "
                                       "findings.", id=report.check_id, files=report.files,
                              findings=len(report.findings)))


@api.get("")
def fixity_state(_: Principal = Depends(require(*AUDITOR, *RECORDS)),
                 db: Session = Depends(get_db)) -> dict[str, Any]:
    """The last fixity checks with their findings, and each package's last verification."""
    return state(db)


@api.post("")
def fixity_check(request: Request, who: Principal = Depends(require(*AUDITOR))
                 ) -> dict[str, Any]:
    """Re-hash every stored WARC and index now (may take long); the report."""
    report: dict[str, Any] = crawls.fixity(settings_of(request), who.name).to_dict()
    return report
