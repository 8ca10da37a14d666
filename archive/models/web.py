"""Web archiving: sites, crawl runs, WARC files, captures, dedup digests, skipped URLs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.models.base import Base, utcnow


class Site(Base):
    __tablename__ = "sites"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    seeds: Mapped[list[str]] = mapped_column(JSON, default=list)
    include: Mapped[list[str]] = mapped_column(JSON, default=list)
    exclude: Mapped[list[str]] = mapped_column(JSON, default=list)
    max_pages: Mapped[int | None]
    max_depth: Mapped[int | None]
    robots: Mapped[str] = mapped_column(String(10), default="obey")
    category: Mapped[str | None] = mapped_column(String(50))
    schedule: Mapped[str | None] = mapped_column(String(200))
    embargo_days: Mapped[int | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    # A removed site that has runs is retired: no more crawls, its archives untouched.
    retired_at: Mapped[datetime | None]

    runs: Mapped[list[CrawlRun]] = relationship(back_populates="site")


class CrawlRun(Base):
    __tablename__ = "crawl_runs"

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20), default="crawl")  # crawl | resume | patch | import
    parent_run_id: Mapped[int | None] = mapped_column(ForeignKey("crawl_runs.id"))
    # running | finished | failed | interrupted
    status: Mapped[str] = mapped_column(String(20), default="running", index=True)
    seeds: Mapped[list[str]] = mapped_column(JSON, default=list)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None]
    pages: Mapped[int] = mapped_column(default=0)
    bytes: Mapped[int] = mapped_column(BigInteger, default=0)
    errors: Mapped[int] = mapped_column(default=0)
    revisits: Mapped[int] = mapped_column(default=0)
    stats: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    error: Mapped[str | None] = mapped_column(Text)
    pid: Mapped[int | None]

    site: Mapped[Site] = relationship(back_populates="runs")
    warc_files: Mapped[list[WarcFile]] = relationship(
        back_populates="run", order_by="WarcFile.id"
    )
    skipped: Mapped[list[SkippedUrl]] = relationship(back_populates="run")


class WarcFile(Base):
    __tablename__ = "warc_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    filename: Mapped[str] = mapped_column(String(300), unique=True)
    path: Mapped[str] = mapped_column(Text)  # absolute path or storage URL
    size: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[str] = mapped_column(String(64))
    # Hashed while the file was written: sealing links it into the package without reading it.
    sha512: Mapped[str | None] = mapped_column(String(128))
    records: Mapped[int] = mapped_column(default=0)
    cdxj_path: Mapped[str | None] = mapped_column(Text)
    cdxj_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    run: Mapped[CrawlRun] = relationship(back_populates="warc_files")


class Capture(Base):
    """One URL fetched in a run: what replay QA, resume and WACZ pages read."""

    __tablename__ = "captures"
    __table_args__ = (Index("ix_captures_run_url", "run_id", "url"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"))
    url: Mapped[str] = mapped_column(Text)
    status: Mapped[int | None]  # HTTP status; None when the fetch failed
    mime: Mapped[str | None] = mapped_column(String(200))
    is_page: Mapped[bool] = mapped_column(default=False)  # an HTML page (not a requisite)
    record_type: Mapped[str] = mapped_column(String(20), default="response")  # or revisit
    payload_digest: Mapped[str | None] = mapped_column(String(100))
    warc_filename: Mapped[str | None] = mapped_column(String(300))
    offset: Mapped[int | None] = mapped_column(BigInteger)
    length: Mapped[int | None] = mapped_column(BigInteger)
    fetched_at: Mapped[datetime] = mapped_column(default=utcnow)
    error: Mapped[str | None] = mapped_column(Text)


class PayloadDigest(Base):
    """First capture of each payload per site: the target of later revisit records."""

    __tablename__ = "payload_digests"
    __table_args__ = (UniqueConstraint("site_id", "digest", name="uq_payload_digests_site_digest"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    site_id: Mapped[int] = mapped_column(ForeignKey("sites.id"))
    digest: Mapped[str] = mapped_column(String(100))
    uri: Mapped[str] = mapped_column(Text)
    date: Mapped[str] = mapped_column(String(40))  # WARC-Date of the original record
    record_id: Mapped[str] = mapped_column(String(100))
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"))


class SkippedUrl(Base):
    __tablename__ = "skipped_urls"

    id: Mapped[int] = mapped_column(primary_key=True)
    run_id: Mapped[int] = mapped_column(ForeignKey("crawl_runs.id"), index=True)
    url: Mapped[str] = mapped_column(Text)
    reason: Mapped[str] = mapped_column(String(50))
    detail: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    run: Mapped[CrawlRun] = relationship(back_populates="skipped")
