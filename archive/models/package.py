"""Sealed archive packages and the selectielijst categories they are valued by."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archive.models import web  # noqa: F401 - its crawl_runs table is referred to below
from archive.models.base import Base, utcnow


class Package(Base):
    """One sealed package in the depot; packages of a source form a hash chain."""

    __tablename__ = "packages"
    __table_args__ = (Index("ix_packages_source", "source_kind", "source_name", "created_at"),)

    id: Mapped[str] = mapped_column(String(200), primary_key=True)
    source_kind: Mapped[str] = mapped_column(String(20))  # crawl | chat
    source_name: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    title: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(50))
    path: Mapped[str] = mapped_column(Text)
    tagmanifest_sha512: Mapped[str] = mapped_column(String(128))
    previous_id: Mapped[str | None] = mapped_column(String(200))
    timestamped: Mapped[bool] = mapped_column(default=False)
    files: Mapped[int] = mapped_column(default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SelectielijstCategory(Base):
    __tablename__ = "selectielijst_categories"

    code: Mapped[str] = mapped_column(String(50), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    waardering: Mapped[str] = mapped_column(String(1))  # B | V
    bewaartermijn: Mapped[str | None] = mapped_column(String(40))  # ISO 8601 duration
    trigger: Mapped[str] = mapped_column(Text)
    list_name: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(default=utcnow)
