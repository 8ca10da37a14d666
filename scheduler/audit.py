"""The append-only audit log: every action of a user, the CLI or the service gets one row."""

from __future__ import annotations

import getpass
from typing import Any

from sqlalchemy.orm import Session

from archive.models import AuditEvent


def cli_actor() -> str:
    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):
        return "cli"


def audit(
    db: Session,
    actor: str,
    action: str,
    target: str | None = None,
    *,
    outcome: str = "ok",
    **detail: Any,
) -> AuditEvent:
    """Add an audit row to ``db`` (committed with the caller's transaction). Never put secrets in
    ``detail``."""
    event = AuditEvent(actor=actor, action=action, target=target, outcome=outcome, detail=detail)
    db.add(event)
    return event
