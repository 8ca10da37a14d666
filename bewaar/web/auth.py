"""Who is asking: a session cookie (browser) or ``Authorization: Bearer <token>`` (scripts).

401 when nobody is logged in, 403 with the reason when the role does not allow the action.
The role ``admin`` may do everything.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from archive.db import open_db
from archive.settings import Settings
from bewaar.web.accounts import user_for_token
from scheduler.audit import audit

COOKIE = "bewaar_session"

# What each role may do (admin: everything).
WEBTEAM = ("webteam",)
RECORDS = ("records",)
AUDITOR = ("auditor",)
ANYONE = ("webteam", "records", "auditor")


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


def require(*roles: str) -> Callable[..., Principal]:
    """A dependency: the caller, who must have one of ``roles`` (or be admin)."""

    def dependency(request: Request, db: Session = Depends(get_db)) -> Principal:
        who = principal(request, db)
        if who is None:
            raise HTTPException(
                401, "not logged in: log in or send an API token (Authorization: Bearer …)",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if who.role != "admin" and who.role not in roles:
            reason = (f"{request.method} {request.url.path} needs the role "
                      f"{' or '.join(roles)}; {who.name} has the role {who.role}")
            audit(db, who.name, "access.denied", request.url.path, outcome="denied",
                  method=request.method, role=who.role)
            db.commit()
            raise HTTPException(403, reason)
        request.state.principal = who
        return who

    return dependency
