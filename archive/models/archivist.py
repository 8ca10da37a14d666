"""The digital archivist's suggestions: metadata proposed for a package (its language,
keywords, persons, personal data with spans, summary, category) and what a person decided."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Float, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archive.models import package  # noqa: F401 - its packages table is referred to below
from archive.models.base import Base, utcnow


class Suggestion(Base):
    """One suggested value of one field for one package. ``state`` goes proposed -> accepted
    or rejected (with who, when and why); ``evidence`` is the list of spans where the value was
    found (``{"file", "url" | "event_id", "start", "end", "text"}``), at most 50, and
    ``occurrences`` counts all of them. ``applied_package`` is the new package version that
    carries an accepted value in its MDTO."""

    __tablename__ = "suggestions"
    # AUTOINCREMENT on SQLite: the id a person was shown never names another suggestion
    __table_args__ = (Index("ix_suggestions_package_field", "package_id", "field"),
                      {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(primary_key=True)
    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id"))
    field: Mapped[str] = mapped_column(String(40))
    value: Mapped[str] = mapped_column(Text)
    confidence: Mapped[float] = mapped_column(Float)
    evidence: Mapped[list[Any]] = mapped_column(JSON, default=list)
    occurrences: Mapped[int] = mapped_column(default=0)
    model: Mapped[str] = mapped_column(String(100))
    state: Mapped[str] = mapped_column(String(10), default="proposed", index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column()
    reason: Mapped[str | None] = mapped_column(Text)
    applied_package: Mapped[str | None] = mapped_column(String(200))
