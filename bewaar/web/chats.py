"""The Chats pages and their API: chat sources, their exports and imports (an upload form for
export files), and the transcripts of the sealed packages.

Who may: records managers, auditors and admins see everything; records managers and admins
register export sources, upload exports and start a Matrix export. Matrix sources are
registered with the command line only (they need a secret).

Transcripts and attachments are chat content, that is hostile input: they are served read-only
from the sealed package folder, only files that the package lists (``rooms/<room>/
transcript.html``, ``attachments/<sha256>.<ext>``), each with a Content-Security-Policy that
allows no scripts, no requests to other hosts and no forms; attachments other than plain
raster images are sent as downloads (``Content-Disposition: attachment``), never shown inline.
"""

from __future__ import annotations

import re
import shutil
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from pydantic import BaseModel, Field
from sqlalchemy import select
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from archive.errors import BewaarError, NotFoundError
from archive.models import ChatExport, ChatSource
from bewaar.services import chats, queries, sites
from bewaar.services.accounts import denied
from bewaar.web.api import start_job
from bewaar.web.auth import (
    AUDITOR,
    COOKIE,
    RECORDS,
    Principal,
    csrf_token,
    get_db,
    principal,
    require,
    settings_of,
)
from bewaar.web.pages import back, failure, form, render, tr
from bewaar.web.uploads import UploadError, receive

router = APIRouter(include_in_schema=False)
api = APIRouter(prefix="/api/chats", tags=["chats"])

SEE = (*RECORDS, *AUDITOR)
EXPORT_KINDS = ("whatsapp", "signal", "teams", "telegram")
# What a transcript or attachment may do in the browser: show itself, its own inline style
# and images of this host; no scripts, no other hosts, no forms, not framed.
CSP = ("default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; base-uri 'none'; "
       "form-action 'none'; frame-ancestors 'none'")
CAREFUL = {"Content-Security-Policy": CSP, "X-Content-Type-Options": "nosniff",
           "Referrer-Policy": "no-referrer", "Cache-Control": "private, no-store"}
INLINE = {".png": "image/png", ".jpg": "image/jpeg", ".jpeg": "image/jpeg",
          ".gif": "image/gif", ".webp": "image/webp"}
ATTACHMENT = re.compile(r"[0-9a-f]{64}(\.[A-Za-z0-9]{1,8})?")


# What the pages read -----------------------------------------------------------------------
def _package_root(row: ChatExport) -> Path | None:
    if row.status != "sealed" or not row.package_path:
        return None
    root = Path(row.package_path)
    return root if (root / "bag" / "data").is_dir() else None


def _rooms(root: Path | None) -> list[str]:
    """The rooms of a sealed package that have a transcript (folder names under rooms/)."""
    if root is None:
        return []
    rooms = root / "bag" / "data" / "rooms"
    if not rooms.is_dir():
        return []
    return sorted(p.name for p in rooms.iterdir() if (p / "transcript.html").is_file())


def _export_dict(name: str, row: ChatExport) -> dict[str, Any]:
    base = f"/chats/{quote(name)}/packages/{quote(row.package_id or '')}"
    return {"id": row.id, "uuid": row.uuid, "status": row.status,
            "started_at": row.started_at, "finished_at": row.finished_at,
            "events": row.events, "rooms": row.rooms, "package_id": row.package_id,
            "package": row.package_path, "error": row.error,
            "transcripts": [{"room": r, "url": f"{base}/rooms/{quote(r)}/transcript"}
                            for r in _rooms(_package_root(row))]}


def _exports(db: Session, source: ChatSource, limit: int = 100) -> list[dict[str, Any]]:
    rows = db.scalars(select(ChatExport).where(ChatExport.source_id == source.id)
                      .order_by(ChatExport.id.desc()).limit(limit))
    return [_export_dict(source.name, r) for r in rows]


def _sealed(db: Session, name: str, package_id: str) -> Path:
    """The folder of the sealed package ``package_id`` of source ``name``."""
    source = queries.chat_source(db, name)
    row = db.scalar(select(ChatExport).where(ChatExport.source_id == source.id,
                                             ChatExport.package_id == package_id))
    root = _package_root(row) if row is not None else None
    if root is None:
        raise NotFoundError("chat source %(name)r has no sealed package %(id)r", name=name,
                            id=package_id)
    return root


def _inside(root: Path, path: Path) -> Path:
    """``path`` when it is a file inside ``root`` (links followed), else 404."""
    real = path.resolve()
    if not real.is_relative_to(root.resolve()) or not real.is_file():
        raise NotFoundError("no such file in the package")
    return real


# Pages ---------------------------------------------------------------------------------------
def _list_page(request: Request, db: Session, who: Principal, status: int = 200,
               **context: Any) -> HTMLResponse:
    categories = queries.categories(db)
    options = [(c["code"], f"{c['code']} {c['name']} ({c['waardering']})") for c in categories]
    return render(request, "chats.html", status=status, sources=queries.chat_sources(db),
                  categories=categories, category_options=options,
                  can_edit=who.role in ("records", "admin"), **context)


@router.get("/chats")
def chats_page(request: Request, msg: str | None = None,
               who: Principal = Depends(require(*SEE)),
               db: Session = Depends(get_db)) -> HTMLResponse:
    return _list_page(request, db, who, msg=msg, form=None, error=None)


@router.post("/chats")
async def chats_add(request: Request, who: Principal = Depends(require(*RECORDS)),
                    db: Session = Depends(get_db)) -> Response:
    data = await form(request)
    name = data.get("name", "").strip()
    try:
        if data.get("kind") not in EXPORT_KINDS:
            raise BewaarError("kind %(kind)r: choose one of %(known)s (Matrix sources: "
                              "`bewaar chat add matrix` on the command line)",
                              kind=data.get("kind"), known=", ".join(EXPORT_KINDS))
        await run_in_threadpool(
            chats.add_export, settings_of(request), who.name, data["kind"], name,
            category=data.get("category", "").strip(),
            timezone=data.get("timezone", "").strip() or None,
            locale=data.get("locale") or None, owner=data.get("owner", "").strip() or None)
    except BewaarError as exc:
        return _list_page(request, db, who, status=400, msg=None, form=data,
                          error=failure(request, exc))
    return back(f"/chats/{quote(name)}", tr(request, "Chat source %(name)s added.", name=name))


def _source_page(request: Request, db: Session, who: Principal, name: str, status: int = 200,
                 **context: Any) -> HTMLResponse:
    source = queries.chat_source(db, name)
    context.setdefault("msg", None)
    context.setdefault("error", None)
    context.setdefault("result", None)
    return render(request, "chat_source.html", status=status, source=queries.chat_summary(db, source),
                  exports=_exports(db, source), can_edit=who.role in ("records", "admin"),
                  max_bytes=settings_of(request).upload_max_bytes, **context)


@router.get("/chats/{name}")
def source_page(name: str, request: Request, msg: str | None = None,
                who: Principal = Depends(require(*SEE)),
                db: Session = Depends(get_db)) -> HTMLResponse:
    return _source_page(request, db, who, name, msg=msg)


def may_upload(*roles: str) -> Any:
    """Like ``require(*roles)``, for a multipart upload: the CSRF token of a session comes in
    the form with the files, so :func:`bewaar.web.uploads.receive` checks it while reading."""

    async def dependency(request: Request, db: Session = Depends(get_db)) -> Principal:
        who = principal(request, db)
        if who is None:
            raise HTTPException(401, "not logged in: log in or send an API token "
                                     "(Authorization: Bearer …)",
                                headers={"WWW-Authenticate": "Bearer"})
        if who.role != "admin" and who.role not in roles:
            denied(db, who.name, request.url.path, method=request.method, role=who.role)
            db.commit()
            raise HTTPException(403, f"{request.method} {request.url.path} needs the role "
                                     f"{' or '.join(roles)}; {who.name} has the role {who.role}")
        request.state.principal = who
        return who

    return dependency


async def _import_upload(request: Request, who: Principal, db: Session,
                         name: str) -> dict[str, Any]:
    """Receive the uploaded files into a fresh folder, import them, remove the folder."""
    settings = settings_of(request)
    if queries.chat_source(db, name).kind not in EXPORT_KINDS:
        raise UploadError("chat source %(name)r is a Matrix account: it is exported "
                          "(\"export now\"), not imported from files", name=name)
    db.rollback()  # no transaction held open while the files stream in
    parent = settings.chat_dir / ".uploads"  # no source name starts with "."
    parent.mkdir(parents=True, exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="upload-", dir=parent))
    try:
        secret = request.cookies.get(COOKIE)
        csrf = csrf_token(secret) if who.via == "session" and secret else None
        upload = await receive(request, folder, settings.upload_max_bytes, csrf)
        result = await run_in_threadpool(chats.import_export, settings, who.name, name,
                                         upload.files)
        return result.as_dict()
    finally:
        shutil.rmtree(folder, ignore_errors=True)


@router.post("/chats/{name}/upload")
async def source_upload(name: str, request: Request,
                        who: Principal = Depends(may_upload(*RECORDS)),
                        db: Session = Depends(get_db)) -> Response:
    try:
        result = await _import_upload(request, who, db, name)
    except UploadError as exc:
        return _source_page(request, db, who, name, status=exc.status, error=failure(request, exc))
    except NotFoundError:
        raise
    except BewaarError as exc:
        return _source_page(request, db, who, name, status=400, error=failure(request, exc))
    db.expire_all()
    package = result["package"]
    result["package_id"] = Path(package).name if package else None
    return _source_page(request, db, who, name, result=result)


@router.post("/chats/{name}/export")
def source_export(name: str, request: Request, who: Principal = Depends(require(*RECORDS)),
                  db: Session = Depends(get_db)) -> Response:
    try:
        if queries.chat_source(db, name).kind in EXPORT_KINDS:
            raise BewaarError("chat source %(name)r is imported from export files: upload them",
                              name=name)
        sites.request_run(settings_of(request), who.name, "chat", name,
                          lambda k, t: start_job(request, k, t))
    except NotFoundError:
        raise
    except BewaarError as exc:
        return _source_page(request, db, who, name, status=400, error=failure(request, exc))
    return back(f"/chats/{quote(name)}", tr(request, "Export of %(name)s started.", name=name))


@router.get("/chats/{name}/packages/{package_id}/transcript")
def package_transcripts(name: str, package_id: str, request: Request,
                        _: Principal = Depends(require(*SEE)),
                        db: Session = Depends(get_db)) -> Response:
    """The package's transcript; a list of its rooms when it has several."""
    rooms = _rooms(_sealed(db, name, package_id))
    base = f"/chats/{quote(name)}/packages/{quote(package_id)}"
    if len(rooms) == 1:
        return RedirectResponse(f"{base}/rooms/{quote(rooms[0])}/transcript", status_code=303)
    return render(request, "chat_package.html", source=name, package_id=package_id,
                  rooms=[{"room": r, "url": f"{base}/rooms/{quote(r)}/transcript"}
                         for r in rooms])


@router.get("/chats/{name}/packages/{package_id}/rooms/{room}/transcript")
def room_transcript(name: str, package_id: str, room: str,
                    _: Principal = Depends(require(*SEE)),
                    db: Session = Depends(get_db)) -> FileResponse:
    root = _sealed(db, name, package_id)
    if room not in _rooms(root):
        raise NotFoundError("package %(id)r has no room %(room)r", id=package_id, room=room)
    path = _inside(root, root / "bag" / "data" / "rooms" / room / "transcript.html")
    return FileResponse(path, media_type="text/html; charset=utf-8", headers=CAREFUL)


@router.get("/chats/{name}/packages/{package_id}/attachments/{file}")
def attachment(name: str, package_id: str, file: str,
               _: Principal = Depends(require(*SEE)),
               db: Session = Depends(get_db)) -> FileResponse:
    """A file a transcript links to: raster images shown, anything else downloaded."""
    root = _sealed(db, name, package_id)
    if not ATTACHMENT.fullmatch(file):
        raise NotFoundError("no attachment %(file)r", file=file)
    path = _inside(root, root / "bag" / "data" / "attachments" / file)
    ext = Path(file).suffix.lower()
    if ext in INLINE:
        return FileResponse(path, media_type=INLINE[ext], headers=CAREFUL)
    return FileResponse(path, media_type="application/octet-stream", filename=file,
                        headers={**CAREFUL, "Content-Security-Policy": CSP + "; sandbox"})


# API -----------------------------------------------------------------------------------------
class ChatSourceIn(BaseModel):
    kind: str = Field(examples=["whatsapp"], description="whatsapp, signal, teams or telegram")
    name: str = Field(examples=["minister"])
    category: str = Field(examples=["CHAT-1"], description="a code of the loaded selectielijst")
    timezone: str | None = Field(default=None, examples=["Europe/Amsterdam"])
    locale: str | None = Field(default=None, examples=["auto"], description="auto, nl or en")
    owner: str | None = Field(default=None, examples=["minister van Proefzaken"])


UPLOAD_BODY = {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
    "type": "object", "required": ["files"],
    "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"},
                             "description": "the export file(s): .txt, .json or .zip"}}}}}}}


@api.get("")
def api_sources(_: Principal = Depends(require(*SEE)),
                db: Session = Depends(get_db)) -> list[dict[str, Any]]:
    """Every chat source with what is archived and its last export or import."""
    return queries.chat_sources(db)


@api.post("", status_code=201)
def api_add(body: ChatSourceIn, request: Request,
            who: Principal = Depends(require(*RECORDS))) -> dict[str, Any]:
    """Register a source of export files (Matrix sources: `bewaar chat add matrix`)."""
    if body.kind not in EXPORT_KINDS:
        raise BewaarError("kind %(kind)r: use one of %(known)s", kind=body.kind,
                          known=", ".join(EXPORT_KINDS))
    return chats.add_export(settings_of(request), who.name, body.kind, body.name,
                            category=body.category, timezone=body.timezone,
                            locale=body.locale, owner=body.owner)


@api.get("/{name}")
def api_source(name: str, _: Principal = Depends(require(*SEE)),
               db: Session = Depends(get_db)) -> dict[str, Any]:
    """A source with its exports and imports, newest first, and their transcripts."""
    source = queries.chat_source(db, name)
    return {**queries.chat_summary(db, source), "exports": _exports(db, source)}


@api.post("/{name}/imports", openapi_extra=UPLOAD_BODY)
async def api_import(name: str, request: Request,
                     who: Principal = Depends(may_upload(*RECORDS)),
                     db: Session = Depends(get_db)) -> dict[str, Any]:
    """Upload export files (form field ``files``, one or more) and archive what is new:
    ``package`` is null when nothing was new. 413 past the setting upload_max_bytes."""
    try:
        return await _import_upload(request, who, db, name)
    except UploadError as exc:
        raise HTTPException(exc.status, str(exc)) from None


@api.post("/{name}/export", status_code=202)
def api_export(name: str, request: Request,
               who: Principal = Depends(require(*RECORDS)),
               db: Session = Depends(get_db)) -> dict[str, Any]:
    """Export a Matrix source now (a job of the scheduler)."""
    if queries.chat_source(db, name).kind in EXPORT_KINDS:
        raise BewaarError("chat source %(name)r is imported from export files: upload them",
                          name=name)
    data = sites.request_run(settings_of(request), who.name, "chat", name,
                             lambda k, t: start_job(request, k, t))
    return {"job_id": data["job_id"], "source": name}
