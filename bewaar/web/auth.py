"""Who is asking: a session cookie (browser) or ``Authorization: Bearer <token>`` (scripts).

401 when nobody is logged in, 403 with the reason when the role does not allow the action.
The role ``admin`` may do everything.

A change made with the session cookie (any method but GET and HEAD) must also carry the
session's CSRF token, as the form field ``csrf`` (every form of the pages has it) or the header
``X-CSRF-Token``: a page of another site can make the browser send the cookie, but cannot
read the token. The token is derived from the session secret, which only the browser holds.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from urllib.parse import parse_qs

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from archive.db import open_db
from archive.errors import BewaarError
from archive.settings import Settings
from bewaar.services.accounts import denied, user_for_token

COOKIE = "bewaar_session"

# What each role may do (admin: everything).
WEBTEAM = ("webteam",)
RECORDS = ("records",)
AUDITOR = ("auditor",)
ARCHIVIST = ("archivist",)  # approves destruction lists
ANYONE = ("webteam", "records", "archivist", "auditor")
ADMIN = ("admin",)


@dataclass(frozen=True)
class Principal:
    id: int
    name: str
    role: str
    via: str  # session | token


def settings_of(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def get_db(request: Request) -> Iterator[Session]:
    session = open_db(settings_of(request))()
    try:
        yield session
    finally:
        session.close()


def principal(request: Request, db: Session) -> Principal | None:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("bearer "):
        user = user_for_token(db, header[7:].strip(), kind="api")
        via = "token"
    elif request.cookies.get(COOKIE):
        user = user_for_token(db, request.cookies[COOKIE], kind="session")
        via = "session"
    else:
        return None
    if user is None:
        return None
    db.commit()  # last_used_at
    return Principal(user.id, user.name, user.role, via)


def csrf_token(session_secret: str) -> str:
    return hashlib.sha256(b"bewaar-csrf\0" + session_secret.encode()).hexdigest()[:40]


async def check_csrf(request: Request) -> None:
    """403 unless a change sent with the session cookie carries the session's CSRF token."""
    secret = request.cookies.get(COOKIE)
    if request.method in ("GET", "HEAD") or not secret:
        return
    sent = request.headers.get("x-csrf-token")
    if sent is None and request.headers.get("content-type", "").startswith(
            "application/x-www-form-urlencoded"):
        fields = parse_qs((await request.body()).decode("utf-8", "replace"))
        sent = fields["csrf"][-1] if fields.get("csrf") else None
    if not sent or not hmac.compare_digest(sent, csrf_token(secret)):
        raise HTTPException(403, "this form is out of date or was sent from another site "
                                 "(CSRF check): reload the page and try again")


def require(*roles: str) -> Callable[..., Awaitable[Principal]]:
    """A dependency: the caller, who must have one of ``roles`` (or be admin)."""

    async def dependency(request: Request, db: Session = Depends(get_db)) -> Principal:
        who = principal(request, db)
        if who is None:
            raise HTTPException(
                401, "not logged in: log in or send an API token (Authorization: Bearer …)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if who.via == "session":
            await check_csrf(request)
        if who.role != "admin" and who.role not in roles:
            denied(db, who.name, request.url.path, method=request.method, role=who.role)
            db.commit()
            raise HTTPException(403, BewaarError(
                "%(method)s %(path)s needs one of the roles %(roles)s; %(name)s has the role "
                "%(role)s", method=request.method, path=request.url.path,
                roles=", ".join(roles), name=who.name, role=who.role))
        request.state.principal = who
        return who

    return dependency
