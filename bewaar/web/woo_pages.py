"""Woo requests for records managers: ``/woo`` (the requests and a form for a new one) and
``/woo/{id}`` (its documents with their decisions, a decision form per document, redaction by
phrase, the export). Every change through bewaar/services/woo.py, the signed-in user its
actor; ``GET /api/woo`` and ``/api/woo/{id}`` give the same as JSON.

An export from the web is written on the server under ``HOME/woo-exports/`` (and sealed as
its package, like ``bewaar woo export``); the page says where.

Redaction two ways, both through ``woo.redact``: a phrase typed into a form (every occurrence in
every document; works without JavaScript), or a passage selected in the shown text of one
document (``/woo/{id}?doc=N``): ``static/woo-select.js`` sends the selected text with its offsets
and its occurrence, so that the passage selected is redacted, not another one like it. A request
that asks for JSON (``Accept: application/json``, as the script does) is answered with the
message in JSON (the script announces it in a live region); a form sent without the script is
answered with the page, as the phrase form is.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.orm import Session

from archive.errors import BewaarError
from bewaar.services import woo
from bewaar.services.woo_export import export as export_request
from bewaar.web.auth import RECORDS, Principal, get_db, require, settings_of
from bewaar.web.pages import back, failure, render, tr

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/woo", tags=["api"])


async def _form(request: Request) -> dict[str, list[str]]:
    body = (await request.body()).decode("utf-8", "replace")
    return parse_qs(body, keep_blank_values=True)


def _one(data: dict[str, list[str]], key: str) -> str:
    return (data.get(key) or [""])[-1]


def _list_page(request: Request, db: Session, status: int = 200,
               **context: Any) -> HTMLResponse:
    context.setdefault("msg", None)
    context.setdefault("error", None)
    context.setdefault("form", {})
    db.rollback()
    return render(request, "woo_list.html", status=status, requests=woo.requests(db),
                  **context)


@router.get("/woo")
def woo_list(request: Request, msg: str | None = None,
             _: Principal = Depends(require(*RECORDS)),
             db: Session = Depends(get_db)) -> HTMLResponse:
    return _list_page(request, db, msg=msg)


@router.post("/woo")
async def woo_new(request: Request, who: Principal = Depends(require(*RECORDS)),
                  db: Session = Depends(get_db)) -> Response:
    data = await _form(request)
    form = {k: _one(data, k) for k in ("title", "query", "from", "to")}
    try:
        r = woo.new(settings_of(request), who.name, form["title"], form["query"],
                    date_from=form["from"], date_to=form["to"])
    except BewaarError as exc:
        return _list_page(request, db, 400, error=failure(request, exc), form=form)
    return back(f"/woo/{r['id']}", tr(request, "Woo request %(id)s made with %(n)s "
                                      "document(s).", id=r["id"], n=r["documents_count"]))


def _segments(text: str, redactions: list[dict[str, Any]],
              number: int) -> list[tuple[str, str | None]]:
    """The text of document ``number`` in pieces, each with the ground(s) that redact it (or
    None): what the page shows marked. The pieces join to the text as stored, so that offsets
    counted in the browser are offsets into it."""
    from woo.redact import Cut, find_phrase, merge

    cuts: list[Cut] = []
    for x in redactions:
        if x["phrase"]:
            cuts += find_phrase(text, x["phrase"], x["ground"])
        elif x["document"] == number and x["span"]:
            low, _, high = str(x["span"]).partition(":")
            cuts.append(Cut(int(low), int(high), x["ground"]))
    out: list[tuple[str, str | None]] = []
    pos = 0
    for start, end, grounds in merge(cuts):
        if start > pos:
            out.append((text[pos:start], None))
        out.append((text[start:end], "; ".join(grounds)))
        pos = end
    if pos < len(text):
        out.append((text[pos:], None))
    return out


def _request_page(request: Request, db: Session, request_id: str, status: int = 200,
                  doc: str | None = None, **context: Any) -> HTMLResponse:
    from woo.grounds import GROUNDS

    context.setdefault("msg", None)
    context.setdefault("error", None)
    db.rollback()
    req = woo.get_request(db, request_id)  # none: 404 (bewaar.web.app)
    r = woo.request_dict(db, req)
    shown = None
    if doc:
        d = woo.get_document(db, req, doc)
        shown = {"number": d.number, "title": d.title, "dropped": d.dropped,
                 "segments": _segments(d.text, r["redactions"], d.number)}
    return render(request, "woo_request.html", status=status, r=r, shown=shown,
                  grounds=list(GROUNDS.values()), **context)


@router.get("/woo/{request_id}")
def woo_request(request_id: str, request: Request, msg: str | None = None,
                doc: str | None = None, _: Principal = Depends(require(*RECORDS)),
                db: Session = Depends(get_db)) -> HTMLResponse:
    return _request_page(request, db, request_id, doc=doc, msg=msg)


@router.post("/woo/{request_id}/decide")
async def woo_decide(request_id: str, request: Request,
                     who: Principal = Depends(require(*RECORDS)),
                     db: Session = Depends(get_db)) -> Response:
    data = await _form(request)
    grounds = [g for g in re.split(r"[\s,;]+", _one(data, "grounds")) if g]
    try:
        d = woo.decide(settings_of(request), who.name, request_id, _one(data, "document"),
                       _one(data, "decision"), grounds)
    except BewaarError as exc:
        return _request_page(request, db, request_id, 400, error=failure(request, exc))
    return back(f"/woo/{request_id}", tr(request, "Document %(n)s decided.", n=d["number"]))


@router.post("/woo/{request_id}/redact")
async def woo_redact(request_id: str, request: Request,
                     who: Principal = Depends(require(*RECORDS)),
                     db: Session = Depends(get_db)) -> Response:
    data = await _form(request)
    as_json = "application/json" in request.headers.get("accept", "")
    selection = "selected" in data  # a passage selected in the shown text (woo-select.js)
    doc = _one(data, "document") if selection else None
    try:
        if selection:
            r = woo.redact(settings_of(request), who.name, request_id, _one(data, "ground"),
                           number=doc, span=f"{_one(data, 'start')}:{_one(data, 'end')}",
                           selected=_one(data, "selected"),
                           occurrence=_one(data, "occurrence"))
            done = tr(request, "Redacted in document %(n)s: characters %(span)s.",
                      n=r["document"], span=r["span"])
        else:
            r = woo.redact(settings_of(request), who.name, request_id, _one(data, "ground"),
                           phrase=_one(data, "phrase"))
            done = tr(request, "Redacted in %(n)s document(s).", n=len(r.get("documents") or []))
    except BewaarError as exc:
        if as_json:
            return JSONResponse({"detail": str(exc), "message": failure(request, exc)}, 400)
        return _request_page(request, db, request_id, 400, doc=doc,
                             error=failure(request, exc),
                             failed="select" if selection else "redact",
                             phrase=_one(data, "phrase"))
    if as_json:
        return JSONResponse({"message": done, **r})
    return back(f"/woo/{request_id}" + (f"?doc={r['document']}" if selection else ""), done)


@router.post("/woo/{request_id}/export")
async def woo_export(request_id: str, request: Request,
                     who: Principal = Depends(require(*RECORDS)),
                     db: Session = Depends(get_db)) -> Response:
    settings = settings_of(request)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    folder = settings.home / "woo-exports" / f"woo-{re.sub(r'[^0-9]', '', request_id)}-{stamp}"
    try:
        folder.parent.mkdir(parents=True, exist_ok=True)
        r = export_request(settings, who.name, request_id, folder)
    except (BewaarError, OSError) as exc:
        return _request_page(request, db, request_id, 400, error=failure(request, exc))
    return back(f"/woo/{request_id}", tr(request, "Exported to %(dir)s and sealed as "
                                         "%(package)s.", dir=r["dir"], package=r["package"]))


# JSON API --------------------------------------------------------------------------------------
@api.get("")
def woo_list_api(_: Principal = Depends(require(*RECORDS)),
                 db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    """The Woo requests, newest first."""
    return woo.requests(db)


@api.get("/{request_id}")
def woo_request_api(request_id: int, _: Principal = Depends(require(*RECORDS)),
                    db: Session = Depends(get_db)) -> dict[str, Any]:
    """One Woo request with its documents, decisions and redactions (404: none)."""
    return woo.request_dict(db, woo.get_request(db, request_id))
