"""Replay: collections, replay QA checks, access rules and fixity audits."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.models import web  # noqa: F401 - its crawl_runs table is referred to below
from archive.models.base import Base, utcnow


class CollectionRun(Base):
    """A crawl run whose WARCs and index lines are in a site's pywb collection."""

    __tablename__ = "collection_runs"
    __table_args__ = (UniqueConstraint("run_id", name="uq_collection_runs_run_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    collection: Mapped[str] = mapped_column(String(200), index=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"))
    warcs: Mapped[int] = mapped_column(default=0)
    index_lines: Mapped[int] = mapped_column(default=0)
    added_at: Mapped[datetime] = mapped_column(default=utcnow)


class QaCheck(Base):
    """One replay check of a crawl run."""

    __tablename__ = "qa_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    pages: Mapped[int] = mapped_column(default=0)
    failed: Mapped[int] = mapped_column(default=0)
    ok: Mapped[bool] = mapped_column(default=False)
    requisites: Mapped[int] = mapped_column(default=0)
    report_path: Mapped[str | None] = mapped_column(Text)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)

    page_results: Mapped[list[QaPage]] = relationship(
        back_populates="check", order_by="QaPage.id", cascade="all, delete-orphan"
    )


class QaPage(Base):
    """What one page's replay showed."""

    __tablename__ = "qa_pages"

    id: Mapped[int] = mapped_column(primary_key=True)
    check_id: Mapped[int] = mapped_column(ForeignKey("qa_checks.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    replay_url: Mapped[str] = mapped_column(Text)
    crawl_status: Mapped[int | None]
    replay_status: Mapped[int | None]
    ok: Mapped[bool] = mapped_column(default=False)
    missing: Mapped[list[str]] = mapped_column(JSON, default=list)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    status_diffs: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    requisites: Mapped[int] = mapped_column(default=0)
    similarity: Mapped[float | None]
    browser: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    check: Mapped[QaCheck] = relationship(back_populates="page_results")


class AccessRule(Base):
    """A replay access rule (pywb ACL): exclude or allow a URL prefix, optionally until a date."""

    __tablename__ = "access_rules"
    __table_args__ = (UniqueConstraint("url_prefix", name="uq_access_rules_url_prefix"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    url_prefix: Mapped[str] = mapped_column(Text)
    access: Mapped[str] = mapped_column(String(20))  # block | allow
    until: Mapped[datetime | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FixityCheck(Base):
    """One fixity audit over every stored WARC and index."""

    __tablename__ = "fixity_checks"

    id: Mapped[int] = mapped_column(primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow)
    files: Mapped[int] = mapped_column(default=0)
    bytes: Mapped[int] = mapped_column(default=0)
    ok: Mapped[bool] = mapped_column(default=False)
    findings: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
