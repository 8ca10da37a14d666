"""The FastAPI application: pages for people, /api for scripts, /healthz for operators."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import FastAPI, HTTPException, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import text

from archive.db import open_db
from archive.errors import BewaarError, NotFoundError
from archive.settings import Settings
from bewaar.web import (
    access_pages,
    api,
    assets,
    chats,
    destruction_pages,
    fixity_pages,
    harvest_pages,
    i18n,
    navigation,
    pages,
    retention_pages,
    search_pages,
    suggestion_pages,
    transfer_pages,
    woo_pages,
)

if TYPE_CHECKING:
    from scheduler.service import Service


def _detail(request: Request, detail: Any) -> str:
    """An HTTP error's text in the viewer's language: a catalogued text, or a BewaarError
    template with its parameters (a refusal that names the path and the roles)."""
    if isinstance(detail, BewaarError):
        return i18n.error_message(i18n.locale_of(request), detail)
    return i18n.translate(i18n.locale_of(request), str(detail))


def _wants_html(request: Request) -> bool:
    return not request.url.path.startswith("/api")


def create_app(settings: Settings, service: Service | None = None) -> FastAPI:
    """The web app on ``settings``' database; ``service`` (if given) runs "crawl now" jobs."""
    open_db(settings)  # migrate before the first request
    app = FastAPI(
        title="Bewaarplaats",
        version="0.1.0",
        description="Archive ministry websites and chats: sites, schedules, runs, QA, packages.",
        docs_url=None,  # served by assets.mount from this machine, not a CDN
    )
    app.state.settings = settings
    app.state.service = service
    app.include_router(api.router)
    app.include_router(pages.router)
    app.include_router(i18n.router)
    app.include_router(chats.router)
    app.include_router(chats.api)
    for module in (access_pages, destruction_pages, fixity_pages, harvest_pages,
                   retention_pages, search_pages, suggestion_pages, transfer_pages,
                   woo_pages):
        app.include_router(module.router)
        app.include_router(module.api)
    app.include_router(navigation.router)  # after the pages: a built page wins over "coming"
    assets.mount(app)

    @app.get("/healthz", tags=["health"])
    def healthz() -> dict[str, Any]:
        with open_db(settings)() as db:
            db.execute(text("SELECT 1"))
        return {"ok": True, "scheduler": bool(service and service.running),
                "owner": service.owner if service else None}

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> Response:
        if _wants_html(request):
            if exc.status_code == 401:
                return RedirectResponse(f"/login?next={request.url.path}", status_code=303)
            return pages.render(request, "error.html", status=exc.status_code,
                                title=i18n.translate(i18n.locale_of(request), "Error %(status)s",
                                                     status=exc.status_code),
                                message=_detail(request, exc.detail), link="/")
        detail = str(exc.detail) if isinstance(exc.detail, BewaarError) else exc.detail
        return JSONResponse({"detail": detail}, status_code=exc.status_code,
                            headers=exc.headers)

    @app.exception_handler(BewaarError)
    async def bewaar_error(request: Request, exc: BewaarError) -> Response:
        """A page says it in the viewer's language; the API gives ``detail`` in English (the
        stable text scripts match, as the CLI prints it), ``message`` in the caller's language
        and ``field`` (the input at fault) where there is one."""
        status = 404 if isinstance(exc, NotFoundError) else 400
        if _wants_html(request):
            return pages.render(request, "error.html", status=status,
                                title=i18n.translate(i18n.locale_of(request), "Not done"),
                                message=pages.failure(request, exc), link="/")
        body = {"detail": str(exc), "message": pages.failure(request, exc)}
        if getattr(exc, "field", None):
            body["field"] = exc.field  # type: ignore[attr-defined]
        return JSONResponse(body, status_code=status)

    @app.exception_handler(RequestValidationError)
    async def bad_request(request: Request, exc: RequestValidationError) -> Response:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'][1:]) or 'body'}: {e['msg']}" for e in exc.errors()
        )
        return JSONResponse({"detail": f"bad request: {problems}"}, status_code=400)

    return app
