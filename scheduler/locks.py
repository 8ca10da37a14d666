"""Database locks: one run of a site or source at a time, across every service process.

A lock is a row (name, owner, expires_at). It is taken with one atomic statement (an UPDATE of
an expired row, else an INSERT that the primary key lets only one process win), kept alive by
the owner's heartbeat and released by deleting the row. This works the same on SQLite and
PostgreSQL. A process that dies leaves its lock to expire; on the same host a dead owner is
recognised at once by its process id.
"""

from __future__ import annotations

import os
import socket
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import delete, or_, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from archive.models import ServiceLock, utcnow

HOST = socket.gethostname()
LIVE_OWNERS: set[str] = set()  # owners (service instances) alive in this process


def make_owner() -> str:
    """A name for this service instance: host, process id and a nonce for this start."""
    owner = f"{HOST}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
    LIVE_OWNERS.add(owner)
    return owner


def as_utc(value: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def pid_running(pid: int) -> bool:
    """Process ``pid`` on this host runs (a zombie, exited and not yet reaped, does not)."""
    if not _pid_alive(pid):
        return False
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True


def owner_dead(owner: str, last_seen: datetime | None, ttl: float) -> bool:
    """True when the process named ``owner`` is gone: by pid on this host, else by silence."""
    host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if host == HOST and pid_text.isdigit():
        pid = int(pid_text)
        if pid == os.getpid():
            # not one of ours: an earlier incarnation with our pid (e.g. pid 1 in a container)
            return owner not in LIVE_OWNERS
        if not _pid_alive(pid):
            return True
    if last_seen is None:
        return False
    return utcnow() - as_utc(last_seen) > timedelta(seconds=ttl)


def insert_once(db: Session, row: object) -> bool:
    """Insert ``row`` and commit; False when a unique key says another process was first."""
    db.add(row)
    try:
        db.commit()
    except IntegrityError:
        db.rollback()
        return False
    return True


def acquire(sessions: sessionmaker[Session], name: str, owner: str, ttl: float) -> bool:
    """Take lock ``name`` for ``owner`` unless someone holds it. Not re-entrant."""
    now = utcnow()
    expires = now + timedelta(seconds=ttl)
    with sessions() as db:
        taken = db.execute(
            update(ServiceLock)
            .where(ServiceLock.name == name, ServiceLock.expires_at < now)
            .values(owner=owner, acquired_at=now, expires_at=expires)
        )
        if taken.rowcount == 1:  # type: ignore[attr-defined]
            db.commit()
            return True
        db.rollback()
        return insert_once(db, ServiceLock(name=name, owner=owner, acquired_at=now,
                                           expires_at=expires))


def holder(sessions: sessionmaker[Session], name: str) -> str | None:
    with sessions() as db:
        row = db.get(ServiceLock, name)
        return row.owner if row is not None else None


def release(sessions: sessionmaker[Session], name: str, owner: str) -> None:
    with sessions() as db:
        db.execute(delete(ServiceLock).where(ServiceLock.name == name, ServiceLock.owner == owner))
        db.commit()


def release_owner(db: Session, owner: str) -> int:
    """Drop every lock of a dead owner (inside the caller's transaction)."""
    res = db.execute(delete(ServiceLock).where(ServiceLock.owner == owner))
    return int(res.rowcount or 0)  # type: ignore[attr-defined]


def refresh(sessions: sessionmaker[Session], owner: str, ttl: float) -> None:
    """The heartbeat: push the expiry of the owner's locks forward."""
    now = utcnow()
    with sessions() as db:
        db.execute(
            update(ServiceLock)
            .where(ServiceLock.owner == owner)
            .values(expires_at=now + timedelta(seconds=ttl))
        )
        db.commit()


def expired(db: Session) -> None:
    """Remove locks whose expiry passed (their holders stopped heartbeating)."""
    db.execute(delete(ServiceLock).where(or_(ServiceLock.expires_at < utcnow())))
