"""Chat sources, their rooms with resume tokens, the events already archived, and exports.

A source is a Matrix account (``kind`` "matrix": homeserver, user, secret) or the exports of
one app that a records manager imports (``kind`` "whatsapp", "signal", "teams", "telegram":
homeserver, user and secret are empty; ``timezone``, ``locale`` and ``owner`` say how to read
the files). For both, a room is one chat and ``ChatSeenEvent`` holds the key of every event or
message already sealed (a Matrix event id; for exports the key each reader documents).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from archive.models.base import Base, utcnow


class ChatSource(Base):
    """One messenger account to archive. ``secret_ref`` says where the secret is, never what."""

    __tablename__ = "chat_sources"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(20))  # "matrix", "whatsapp", "signal", …
    homeserver: Mapped[str] = mapped_column(String(500))
    user_id: Mapped[str] = mapped_column(String(300))
    secret_ref: Mapped[str] = mapped_column(String(600))  # password-env:VAR | token-env:VAR | file:/p
    rooms: Mapped[list[str]] = mapped_column(JSON, default=list)  # empty with all_joined
    all_joined: Mapped[bool] = mapped_column(Boolean, default=False)
    category: Mapped[str | None] = mapped_column(String(50))
    keys_file: Mapped[str | None] = mapped_column(String(1000))  # a Matrix key export file
    keys_passphrase_ref: Mapped[str | None] = mapped_column(String(300))  # env:VAR
    # Export-file sources: the phone's time zone (WhatsApp files carry none), the language
    # its exports are written in (auto|nl|en) and whose account or phone they come from.
    timezone: Mapped[str | None] = mapped_column(String(64))
    locale: Mapped[str | None] = mapped_column(String(10))
    owner: Mapped[str | None] = mapped_column(String(300))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    chat_rooms: Mapped[list[ChatRoom]] = relationship(back_populates="source")


class ChatRoom(Base):
    __tablename__ = "chat_rooms"
    __table_args__ = (UniqueConstraint("source_id", "room_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("chat_sources.id"), index=True)
    room_id: Mapped[str] = mapped_column(String(300))
    name: Mapped[str | None] = mapped_column(String(500))
    token: Mapped[str | None] = mapped_column(Text)  # forward token: the next export starts here
    reached_start: Mapped[bool] = mapped_column(Boolean, default=False)
    events: Mapped[int] = mapped_column(Integer, default=0)
    first_event_id: Mapped[str | None] = mapped_column(String(300))
    last_event_id: Mapped[str | None] = mapped_column(String(300))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    source: Mapped[ChatSource] = relationship(back_populates="chat_rooms")


class ChatSeenEvent(Base):
    """An event already in a sealed package (idempotency: never archived twice)."""

    __tablename__ = "chat_seen_events"
    __table_args__ = (UniqueConstraint("room_pk", "event_key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    room_pk: Mapped[int] = mapped_column(ForeignKey("chat_rooms.id"))
    event_key: Mapped[str] = mapped_column(String(300))  # event id, or sha256: of a malformed one
    export_id: Mapped[int] = mapped_column(ForeignKey("chat_exports.id"))


class ChatExport(Base):
    __tablename__ = "chat_exports"

    id: Mapped[int] = mapped_column(primary_key=True)
    source_id: Mapped[int] = mapped_column(ForeignKey("chat_sources.id"), index=True)
    uuid: Mapped[str] = mapped_column(String(40), unique=True)
    status: Mapped[str] = mapped_column(String(20))  # running|sealing|sealed|empty|failed
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column()
    events: Mapped[int] = mapped_column(Integer, default=0)
    rooms: Mapped[int] = mapped_column(Integer, default=0)
    staging: Mapped[str | None] = mapped_column(String(1000))
    package_id: Mapped[str | None] = mapped_column(String(200))
    package_path: Mapped[str | None] = mapped_column(String(1000))
    error: Mapped[str | None] = mapped_column(Text)
