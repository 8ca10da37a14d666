"""The append-only audit log: the one writer (``change``, ``record``) and the reader.

Every service function runs its work inside ``with change(settings, actor, action, target) as
c:``. The work uses ``c.db`` (a session opened on first use) and adds what the row should say
with ``c.note(...)``. When the block ends the row is added in the same transaction as the
change and committed; when the block raises, the change is rolled back and a row with outcome
``failed`` and the reason is written instead, then the error goes on to the face. So no face
can make a change without its row, nor forget a refused one.

Never put a secret (password, token, passphrase) in a row: service functions name only what a
secret is for.
"""

from __future__ import annotations

import getpass
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.db import open_db
from archive.errors import BewaarError
from archive.models import AuditEvent
from archive.settings import Settings

SERVICE = "service"  # the actor of scheduled work
MAX_REASON = 500


def cli_actor() -> str:
    """The actor of a command-line action: ``cli:<operating-system user>``."""
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def record(db: Session, actor: str, action: str, target: str | None = None, *,
           outcome: str = "ok", details: dict[str, Any] | None = None,
           **detail: Any) -> AuditEvent:
    """Add one audit row to ``db`` (committed with the caller's transaction); its detail is
    ``details`` and the other keyword arguments."""
    event = AuditEvent(actor=actor, action=action, target=target, outcome=outcome,
                       detail=_plain({**(details or {}), **detail}))
    db.add(event)
    return event


def _plain(value: Any) -> Any:
    """JSON-safe detail: paths and dates as text."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_plain(v) for v in value]
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


def reason_of(exc: BaseException) -> str:
    """What a failed row says: the message of one of our errors, else the kind of error."""
    if isinstance(exc, BewaarError):
        text = str(exc)
    elif isinstance(exc, KeyboardInterrupt):
        text = "interrupted"
    else:
        text = f"{type(exc).__name__}: {exc}"
    return text[:MAX_REASON]


@dataclass
class Change:
    """One change in progress: its session, its target and what its audit row will say."""

    settings: Settings
    actor: str
    action: str
    target: str | None
    detail: dict[str, Any] = field(default_factory=dict)
    outcome: str = "ok"
    also_rows: list[tuple[str, str | None, dict[str, Any]]] = field(default_factory=list)
    _db: Session | None = None

    @property
    def db(self) -> Session:
        if self._db is None:
            self._db = open_db(self.settings)()
        return self._db

    def note(self, **detail: Any) -> None:
        self.detail.update(detail)

    def also(self, action: str, target: str | None, **detail: Any) -> None:
        """One more row for a change this change made along the way (a site's schedule set
        with the site), written after this change's own row, in the same transaction."""
        self.also_rows.append((action, target, detail))

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None


@contextmanager
def change(settings: Settings, actor: str, action: str, target: str | None = None,
           **detail: Any) -> Iterator[Change]:
    """Make one audited change (see the module docstring)."""
    c = Change(settings, actor, action, target, dict(detail))
    try:
        yield c
        db = c.db
        record(db, c.actor, action, c.target, outcome=c.outcome, details=c.detail)
        for also, target, detail in c.also_rows:
            record(db, c.actor, also, target, details=detail)
        db.commit()
    except BaseException as exc:
        if c._db is not None:
            c._db.rollback()
        c.close()
        _record_failure(c, exc)
        raise
    finally:
        c.close()


def _record_failure(c: Change, exc: BaseException) -> None:
    try:
        with open_db(c.settings)() as db:
            record(db, c.actor, c.action, c.target, outcome="failed",
                   details={**c.detail, "error": reason_of(exc)})
            db.commit()
    except Exception:  # noqa: BLE001 - the database itself may be what failed; keep the cause
        pass


def events(db: Session, *, limit: int = 200, actor: str | None = None,
           action: str | None = None, target: str | None = None) -> list[dict[str, Any]]:
    """Rows newest first. ``action`` matches a whole action or a prefix ending in '.'
    (``site.`` finds site.add, site.edit …)."""
    q = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if actor:
        q = q.where(AuditEvent.actor == actor)
    if action:
        q = q.where(AuditEvent.action.startswith(action) if action.endswith(".")
                    else AuditEvent.action == action)
    if target:
        q = q.where(AuditEvent.target == target)
    return [
        {"id": e.id, "at": e.at, "actor": e.actor, "action": e.action, "target": e.target,
         "outcome": e.outcome, "detail": e.detail}
        for e in db.scalars(q)
    ]
