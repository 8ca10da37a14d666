"""The web team's view of harvests: the overview of every site's last harvest (failed and late
first) and, on each site's page, the chart of its runs (bewaar/web/charts.py).

The site page (``pages.site_page``) passes the chart (``charts.site_history``) to ``site.html``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse
from sqlalchemy.orm import Session

from bewaar.services import harvests
from bewaar.web import charts
from bewaar.web.auth import ANYONE, Principal, get_db, require
from bewaar.web.pages import render

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api", tags=["api"])

@router.get("/harvests")
def harvests_page(request: Request, _: Principal = Depends(require(*ANYONE)),
                  db: Session = Depends(get_db)) -> HTMLResponse:
    rows = harvests.overview(db)
    return render(request, "harvests.html", rows=rows, summary=harvests.summary(rows),
                  margin_hours=int(harvests.MARGIN.total_seconds() // 3600))


@api.get("/harvests")
def harvests_api(_: Principal = Depends(require(*ANYONE)),
                 db: Session = Depends(get_db)) -> dict[str, Any]:
    """Every site's last harvest, failed and late first, and the counts."""
    rows = harvests.overview(db)
    return {"summary": harvests.summary(rows), "sites": rows}


@api.get("/sites/{name}/history")
def site_history_api(name: str, _: Principal = Depends(require(*ANYONE)),
                     db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    """The site's last runs, oldest first: pages, bytes, errors and QA result (the chart's
    numbers)."""
    from bewaar.services.sites import get_site

    get_site(db, name)  # 404 for an unknown site
    return harvests.run_history(db, name, charts.HISTORY_RUNS)
