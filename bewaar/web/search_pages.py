"""Search for records managers and auditors: the ``/search`` page (query box, filters,
paging, hits with their snippets marked) and ``GET /api/search`` behind it.

Both show what replay shows: excluded and embargoed captures are not found (pywb closes them to
every visitor, whatever the role; bewaar/services/search.py). Snippet marks are offsets into
plain text: the template escapes each piece and wraps the marked ones in ``<mark>``.
"""

from __future__ import annotations

from datetime import date
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.errors import BewaarError
from bewaar.services import search
from bewaar.services.records import parse_date
from bewaar.web.auth import AUDITOR, RECORDS, Principal, get_db, require, settings_of
from bewaar.web.pages import failure, render

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/search", tags=["api"])

SEE = (*RECORDS, *AUDITOR)
PAGE = 20


def _filters(site: str | None, source: str | None, kind: str | None, date_from: str | None,
             date_to: str | None) -> Any:
    from search.index import Filters

    if kind not in (None, "", "web", "chat"):
        raise BewaarError("kind %(kind)r: use web or chat", kind=kind)
    return Filters(site=site or None, source=source or None, kind=kind or None,
                   date_from=parse_date(date_from, "from"), date_to=parse_date(date_to, "to"))


def _parts(hit: dict[str, Any]) -> list[tuple[str, bool]]:
    from search.snippets import Snippet

    s = hit["snippet"]
    return Snippet(s["text"], [(a, b) for a, b in s["marks"]]).parts()


def _choices(db: Session) -> tuple[list[str], list[str]]:
    from archive.models import ChatSource, Site

    return (list(db.scalars(select(Site.name).order_by(Site.name))),
            list(db.scalars(select(ChatSource.name).order_by(ChatSource.name))))


@router.get("/search")
def search_page(request: Request, q: str = "", kind: str = "", site: str = "",
                source: str = "", date_from: str = Query("", alias="from"),
                date_to: str = Query("", alias="to"), page: int = 1,
                _: Principal = Depends(require(*SEE)),
                db: Session = Depends(get_db)) -> HTMLResponse:
    sites, sources = _choices(db)
    db.rollback()
    form = {"q": q, "kind": kind, "site": site, "source": source, "from": date_from,
            "to": date_to}
    context: dict[str, Any] = {"form": form, "sites": [(s, s) for s in sites],
                               "sources": [(s, s) for s in sources],
                               "result": None, "error": None, "hits": []}
    page = max(1, min(page, 10_000))
    if q.strip():
        try:
            result = search.find(settings_of(request), q, _filters(
                site, source, kind, date_from, date_to), limit=PAGE, offset=(page - 1) * PAGE)
        except BewaarError as exc:
            return render(request, "search.html", status=400,
                          **{**context, "error": failure(request, exc)})
        keep = {k: v for k, v in form.items() if v}
        pages = (result.total + PAGE - 1) // PAGE
        context.update(
            result=result, hits=[{**h, "parts": _parts(h)} for h in result.hits],
            first=(page - 1) * PAGE + 1, last=(page - 1) * PAGE + len(result.hits),
            previous=f"/search?{urlencode({**keep, 'page': page - 1})}" if page > 1 else None,
            next=f"/search?{urlencode({**keep, 'page': page + 1})}" if page < pages else None)
    return render(request, "search.html", **context)


@api.get("")
def api_search(request: Request, q: str, kind: str | None = None, site: str | None = None,
               source: str | None = None,
               date_from: date | None = Query(None, alias="from"),
               date_to: date | None = Query(None, alias="to"),
               limit: int = Query(20, ge=1, le=200), offset: int = Query(0, ge=0),
               _: Principal = Depends(require(*SEE))) -> dict[str, Any]:
    """Search web captures and chat messages: ``{"total": N, "hits": [...]}``, newest first.
    Query syntax: words, "phrases", AND/OR/NOT (or -word), prefix*, brackets; 400 when the
    query cannot be read. Excluded and embargoed captures are never found here."""
    result = search.find(settings_of(request), q, _filters(
        site, source, kind, date_from.isoformat() if date_from else None,
        date_to.isoformat() if date_to else None), limit=limit, offset=offset)
    return result.to_dict()
