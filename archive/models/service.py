"""The service: users, roles, API tokens and sessions, the append-only audit log, job runs,
database locks, claims of scheduled fire times, and schedules of chat sources."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.models.base import Base, utcnow

ROLES = ("webteam", "records", "archivist", "auditor", "admin")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), unique=True)
    # "scrypt$n$r$p$salt_hex$hash_hex": never the password itself
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20))
    disabled: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # the language this user chose for the web app ("nl" or "en"); None: not chosen (Dutch)
    locale: Mapped[str | None] = mapped_column(String(10))

    tokens: Mapped[list[ApiToken]] = relationship(back_populates="user")


class ApiToken(Base):
    """An API token (kind "api") or a browser session (kind "session"); only its SHA-256 is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(10), default="api")
    token_sha256: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]
    revoked: Mapped[bool] = mapped_column(default=False)

    user: Mapped[User] = relationship(back_populates="tokens")


class AuditEvent(Base):
    """Who did what, when. Append-only: database triggers refuse UPDATE and DELETE."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(100))  # user name, "cli:<os user>" or "service"
    action: Mapped[str] = mapped_column(String(100))  # e.g. site.add, schedule.set, crawl.start
    target: Mapped[str | None] = mapped_column(String(300))
    outcome: Mapped[str] = mapped_column(String(20), default="ok")  # ok | denied | failed
    detail: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class JobRun(Base):
    """One execution of a scheduled or on-demand job."""

    __tablename__ = "job_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    job_id: Mapped[str | None] = mapped_column(String(191))  # the APScheduler job id
    kind: Mapped[str] = mapped_column(String(20))  # crawl | chat | …
    target: Mapped[str] = mapped_column(String(200), index=True)  # site or source name
    func: Mapped[str] = mapped_column(String(300))  # "module:function"
    args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    # running | finished | failed | interrupted | skipped
    status: Mapped[str] = mapped_column(String(20), default="running", index=True)
    owner: Mapped[str] = mapped_column(String(200))  # host:pid:nonce of the service process
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    heartbeat_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    result: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    crawl_run_id: Mapped[int | None]
    retry_of: Mapped[int | None] = mapped_column(ForeignKey("job_runs.id"))
    attempt: Mapped[int] = mapped_column(default=1)


class ServiceLock(Base):
    """A named lock (e.g. "crawl:justid") with an owner and an expiry kept fresh by heartbeats."""

    __tablename__ = "service_locks"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    owner: Mapped[str] = mapped_column(String(200))
    acquired_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]


class JobClaim(Base):
    """One scheduled fire time of one job, claimed by the first service instance that runs it."""

    __tablename__ = "job_claims"

    job_id: Mapped[str] = mapped_column(String(191), primary_key=True)
    run_time: Mapped[str] = mapped_column(String(40), primary_key=True)  # ISO UTC, microseconds
    owner: Mapped[str] = mapped_column(String(200))
    claimed_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatSchedule(Base):
    """The export schedule of a chat source (by the source's name)."""

    __tablename__ = "chat_schedules"

    id: Mapped[int] = mapped_column(primary_key=True)
    source: Mapped[str] = mapped_column(String(200), unique=True)
    cron: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
