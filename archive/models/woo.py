"""Woo requests (woo/, bewaar/services/woo.py): a request, its documents, the decision on
each and the redactions.

A document is one unit of what the search index finds: a captured page version (one web
``search_docs`` row: site, URL, payload digest) or one chat conversation (the messages of one
room in one sealed chat package; each message is its own search hit, the conversation is the
document, published as its transcript). Its ``text`` is a copy taken when it joined the
request, so that redaction spans keep pointing at the same characters whatever the index
does later. A redaction is a phrase (every occurrence, in every document of the request, in
text and title) or a span of one document's text; each names its ground (woo.grounds).
No foreign keys to the index or packages: a package under a Woo hold is not destroyed, and
the request keeps what it needs to be exported.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archive.models.base import Base, utcnow


class WooRequest(Base):
    __tablename__ = "woo_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(Text)
    query: Mapped[str] = mapped_column(Text)
    filters: Mapped[dict] = mapped_column(JSON, default=dict)
    hold_ids: Mapped[list] = mapped_column(JSON, default=list)
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    exported_at: Mapped[datetime | None] = mapped_column()
    package_id: Mapped[str | None] = mapped_column(String(200))  # the sealed export


class WooDocument(Base):
    __tablename__ = "woo_documents"
    __table_args__ = (Index("ix_woo_documents_request", "request_id", "number", unique=True),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("woo_requests.id"))
    number: Mapped[int]  # 1, 2, … within the request: what the commands name
    kind: Mapped[str] = mapped_column(String(10))  # web | chat
    source: Mapped[str] = mapped_column(String(200))  # site or chat source
    package_id: Mapped[str | None] = mapped_column(String(200))
    key: Mapped[str] = mapped_column(Text)  # web: "<url> <digest>"; chat: "<package> <room>"
    title: Mapped[str] = mapped_column(Text)
    url: Mapped[str | None] = mapped_column(Text)  # web
    room_id: Mapped[str | None] = mapped_column(String(300))  # chat
    at: Mapped[datetime]  # web: capture time; chat: first message
    last_at: Mapped[datetime | None] = mapped_column()  # chat: last message
    text: Mapped[str] = mapped_column(Text)
    dropped: Mapped[bool] = mapped_column(default=False)
    decision: Mapped[str | None] = mapped_column(String(10))  # openbaar | deels | niet
    grounds: Mapped[list] = mapped_column(JSON, default=list)
    decided_by: Mapped[str | None] = mapped_column(String(200))
    decided_at: Mapped[datetime | None] = mapped_column()


class WooRedaction(Base):
    __tablename__ = "woo_redactions"

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("woo_requests.id"), index=True)
    document_id: Mapped[int | None] = mapped_column(ForeignKey("woo_documents.id"))  # span
    phrase: Mapped[str | None] = mapped_column(Text)
    start: Mapped[int | None]
    end: Mapped[int | None]
    ground: Mapped[str] = mapped_column(String(20))
    created_by: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
