"""The full-text index's documents (search/): one row per captured page or PDF version, chat
message or text attachment, with what a hit shows and where to open it.

The words themselves are in a dialect's own index: on SQLite the FTS5 table ``search_fts``
(rowid = ``search_docs.id``; made by the migration, no model), on PostgreSQL the ``tsv``
column with its GIN index (added by the migration, read and written with SQL by
``search.postgres``). ``body`` holds the text on PostgreSQL only; on SQLite the FTS5 table
keeps it. No foreign keys: a destroyed package's rows are removed by ``search.remove``.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from archive.models.base import Base


class SearchDoc(Base):
    __tablename__ = "search_docs"
    __table_args__ = (Index("ix_search_docs_version", "source", "digest"),)

    # A time key: the document's (first) time in milliseconds since 1970 times 1000, plus a
    # number that keeps it unique (search.backend.assign_ids), so the index reads hits newest
    # first in id order. The FTS5 rowid on SQLite.
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer(), "sqlite"),
                                    primary_key=True, autoincrement=False)
    kind: Mapped[str] = mapped_column(String(10))  # web | chat
    source: Mapped[str] = mapped_column(String(200))  # the site or the chat source
    package_id: Mapped[str | None] = mapped_column(String(200), index=True)
    run_id: Mapped[int | None] = mapped_column(index=True)  # web: the run of the text
    last_run_id: Mapped[int | None]  # web: the run of the newest capture (a revisit)
    title: Mapped[str] = mapped_column(Text, default="")  # page title or room name
    url: Mapped[str | None] = mapped_column(Text)  # web: the captured URL
    surt: Mapped[str | None] = mapped_column(Text)  # web: its SURT key (access rules)
    sender: Mapped[str | None] = mapped_column(String(300))  # chat
    room_id: Mapped[str | None] = mapped_column(String(300))  # chat
    locator: Mapped[str | None] = mapped_column(Text)  # chat: "rooms/<slug>#<event id>"
    digest: Mapped[str | None] = mapped_column(String(100))  # web: payload digest
    mime: Mapped[str | None] = mapped_column(String(100))
    first_at: Mapped[datetime]  # web: first capture of this text; chat: the message time
    at: Mapped[datetime]  # web: newest capture; chat: message time
    body: Mapped[str | None] = mapped_column(Text)
