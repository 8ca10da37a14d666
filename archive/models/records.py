"""The record life cycle: each package's retention (its valuation and end date), holds, and
destruction lists (proposed, reviewed and approved by three people: four eyes and more)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Date, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.models import package  # noqa: F401 - its packages table is referred to below
from archive.models.base import Base, utcnow


class Retention(Base):
    """A package's current valuation: set when it is sealed, again when its site's or
    source's category changes. ``category`` is the current one (the package's own MDTO keeps
    the one it was sealed with); ``disposition`` is set once it is destroyed or transferred."""

    __tablename__ = "retention"

    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id"), primary_key=True)
    category: Mapped[str | None] = mapped_column(String(50))
    waardering: Mapped[str] = mapped_column(String(1))  # B | V | N
    bewaartermijn: Mapped[str | None] = mapped_column(String(40))
    trigger: Mapped[str | None] = mapped_column(Text)
    trigger_date: Mapped[date] = mapped_column(Date)
    end_date: Mapped[date | None] = mapped_column(Date, index=True)  # termijnEinddatum (V)
    transfer_date: Mapped[date | None] = mapped_column(Date)  # B with a term
    disposition: Mapped[str | None] = mapped_column(String(20))  # destroyed | transferred
    disposition_at: Mapped[datetime | None] = mapped_column()
    valued_at: Mapped[datetime] = mapped_column(default=utcnow)


class Hold(Base):
    """A legal hold (a Woo request, an objection, a court case) on a site's, a chat source's
    or one package's archives: while it holds, nothing it covers is proposed or destroyed."""

    __tablename__ = "holds"
    __table_args__ = (Index("ix_holds_scope", "scope", "target"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    scope: Mapped[str] = mapped_column(String(10))  # site | source | package
    target: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(Text)
    until: Mapped[date | None] = mapped_column(Date)  # holds through this day
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None] = mapped_column()
    released_by: Mapped[str | None] = mapped_column(String(200))


class DestructionList(Base):
    """A list of packages proposed for destruction. Its ``state`` goes proposed -> reviewed
    (another records manager agreed) -> approved (by an archivist), or ends rejected or
    cancelled. ``executable_from`` is the first day it may be executed (the approval day plus
    ``destruction_wait_days``, never before ``as_of``). Holds are not stored on it: whether an
    item is held is asked of the holds each time (a held item is never destroyed)."""

    __tablename__ = "destruction_lists"

    id: Mapped[int] = mapped_column(primary_key=True)
    # proposed | reviewed | rejected | approved | cancelled | executing | executed
    state: Mapped[str] = mapped_column(String(20), index=True)
    as_of: Mapped[date] = mapped_column(Date)  # what was due on this day was listed
    proposed_by: Mapped[str] = mapped_column(String(100))
    proposed_at: Mapped[datetime] = mapped_column(default=utcnow)
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    reviewed_at: Mapped[datetime | None] = mapped_column()
    review_reason: Mapped[str | None] = mapped_column(Text)  # why it was rejected
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column()
    executable_from: Mapped[date | None] = mapped_column(Date)
    cancelled_by: Mapped[str | None] = mapped_column(String(100))
    cancelled_at: Mapped[datetime | None] = mapped_column()
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    executed_by: Mapped[str | None] = mapped_column(String(100))
    executed_at: Mapped[datetime | None] = mapped_column()  # started (executing), then done
    verklaring_id: Mapped[str | None] = mapped_column(String(200))  # its sealed package

    items: Mapped[list[DestructionItem]] = relationship(
        back_populates="list", order_by="DestructionItem.package_id")


class DestructionItem(Base):
    """One package on a destruction list, with its valuation as it was proposed."""

    __tablename__ = "destruction_items"

    list_id: Mapped[int] = mapped_column(ForeignKey("destruction_lists.id"), primary_key=True)
    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id"), primary_key=True,
                                            index=True)
    category: Mapped[str | None] = mapped_column(String(50))
    end_date: Mapped[date | None] = mapped_column(Date)
    # None (listed) | destroying (deleting its files began) | destroyed | skipped (held)
    state: Mapped[str | None] = mapped_column(String(20))

    list: Mapped[DestructionList] = relationship(back_populates="items")


class Tombstone(Base):
    """What remains of a destroyed package: what it was, what was deleted (with digests),
    when, and by whose decision. Its ``packages`` row stays too (without content: it names
    the folder that was removed); its WARC, capture, dedup and collection rows are deleted."""

    __tablename__ = "tombstones"

    package_id: Mapped[str] = mapped_column(ForeignKey("packages.id"), primary_key=True)
    list_id: Mapped[int] = mapped_column(ForeignKey("destruction_lists.id"), index=True)
    source_kind: Mapped[str] = mapped_column(String(20))
    source_name: Mapped[str] = mapped_column(String(200))
    run_id: Mapped[int | None] = mapped_column()
    title: Mapped[str] = mapped_column(Text)
    category: Mapped[str | None] = mapped_column(String(50))
    waardering: Mapped[str | None] = mapped_column(String(1))
    end_date: Mapped[date | None] = mapped_column(Date)
    period_start: Mapped[datetime | None] = mapped_column()
    period_end: Mapped[datetime | None] = mapped_column()
    files: Mapped[int] = mapped_column(default=0)  # payload files of the package
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)  # all bytes deleted
    tagmanifest_sha512: Mapped[str] = mapped_column(String(128))
    # [{"what": "warc"|"cdxj"|"package"|"run"|"collection", "name", "size", "sha256"}, ...]
    deleted: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    proposed_by: Mapped[str] = mapped_column(String(100))
    reviewed_by: Mapped[str | None] = mapped_column(String(100))
    approved_by: Mapped[str | None] = mapped_column(String(100))
    executed_by: Mapped[str] = mapped_column(String(100))
    destroyed_at: Mapped[datetime] = mapped_column(default=utcnow)
