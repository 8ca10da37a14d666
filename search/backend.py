"""The one small interface both indexes implement, and the choice between them.

A backend writes documents (``add``), deletes them by id (``delete``), says which documents
match a parsed query as a condition on ``search_docs d`` (``match``) and gives back the text
of a few documents for their snippets (``texts``). What a document is, the filters, access,
ordering and paging are the same for both (``search.index``).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from sqlalchemy import Connection, text

from search.query import Node


@dataclass
class Doc:
    """One document to index: a page or PDF version, a chat message or an attachment."""

    kind: str  # web | chat
    source: str  # site or chat source
    title: str  # page title, or the room's name
    body: str
    at: datetime  # newest capture, or the message's time
    first_at: datetime | None = None  # first capture (web); default ``at``
    package_id: str | None = None
    run_id: int | None = None
    url: str | None = None
    surt: str | None = None
    sender: str | None = None
    room_id: str | None = None
    locator: str | None = None  # chat: rooms/<slug>#<event id>
    digest: str | None = None
    mime: str | None = None

    def row(self) -> dict[str, Any]:
        return {"kind": self.kind, "source": self.source, "package_id": self.package_id,
                "run_id": self.run_id, "last_run_id": self.run_id, "title": self.title,
                "url": self.url, "surt": self.surt, "sender": self.sender,
                "room_id": self.room_id, "locator": self.locator, "digest": self.digest,
                "mime": self.mime, "first_at": self.first_at or self.at, "at": self.at}


@dataclass(frozen=True)
class Match:
    """``SELECT … FROM {source} WHERE {condition} [AND filters on d] ORDER BY {order}``:
    the rows of ``search_docs`` (as ``d``) a query finds, newest first."""

    source: str
    condition: str
    order: str


def time_key(dt: datetime) -> int:
    """Milliseconds since 1970 (UTC) times 1000: the first id tried for a document."""
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return int(dt.timestamp() * 1000) * 1000


def assign_ids(conn: Connection, docs: Sequence[Doc]) -> list[int]:
    """Unique time-ordered ids for ``docs``: ``time_key`` of each one's first time, or past
    the largest id already in that millisecond (in the table or this batch). Run inside the
    writing transaction: SQLite has one writer at a time; on PostgreSQL two writers taking
    the same id make one insert fail, never overwrite."""
    wanted = [time_key(d.first_at or d.at) for d in docs]
    keys = sorted(set(wanted))
    if conn.dialect.name == "postgresql":
        rows = conn.execute(text(
            "SELECT k, (SELECT max(id) FROM search_docs WHERE id >= k AND id < k + 1000) "
            "FROM unnest(CAST(:keys AS bigint[])) AS k"), {"keys": keys}).all()
        largest = {int(k): m for k, m in rows}
    else:  # the driver's own cursor: one statement for the batch, an indexed look-up per
        # millisecond inside SQLite (one statement per millisecond cost more than the index)
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            largest = {int(k): m for k, m in cur.execute(
                "SELECT k.value, (SELECT max(id) FROM search_docs WHERE id >= k.value AND "
                "id < k.value + 1000) FROM json_each(?) AS k", (json.dumps(keys),))}
        finally:
            cur.close()
    counts: dict[int, int] = {}
    for key in wanted:
        counts[key] = counts.get(key, 0) + 1
    after: dict[int, int] = {}
    floor = 0  # past the ids this batch gave an earlier millisecond: time order holds
    for key in keys:
        m = largest[key]
        start = max(key, m + 1 if m is not None else key, floor)
        if start + counts[key] > key + 1000:  # spills into later milliseconds' numbers
            start = _free_run(conn, start, counts[key])
        after[key], floor = start, start + counts[key]
    ids = []
    for key in wanted:
        ids.append(after[key])
        after[key] += 1
    return ids


def _free_run(conn: Connection, start: int, n: int) -> int:
    """The first id from ``start`` on with ``n`` free ids after it (more than 1,000 documents
    in one millisecond: rare, so a plain loop)."""
    while True:
        taken = conn.execute(text("SELECT max(id) FROM search_docs WHERE id >= :a AND id < :b"),
                             {"a": start, "b": start + n}).scalar()
        if taken is None:
            return start
        start = int(taken) + 1


class Backend(Protocol):
    name: str

    def add(self, conn: Connection, docs: Sequence[Doc]) -> list[int]:
        """Store and index ``docs``; their ids, in order."""

    def delete(self, conn: Connection, ids: Sequence[int]) -> None:
        """Delete documents (their rows and their words)."""

    def clear(self, conn: Connection) -> None:
        """Delete every document."""

    def match(self, node: Node, params: dict[str, Any]) -> Match:
        """Where the documents ``node`` finds are (its values added to ``params``, never
        written into the SQL)."""

    def texts(self, conn: Connection, ids: Sequence[int]) -> dict[int, str]:
        """The body text of each document."""

    def size(self, conn: Connection) -> int:
        """Bytes the index takes (documents and words), where the database can say."""


def backend_for(conn: Connection) -> Backend:
    if conn.dialect.name == "postgresql":
        from search.postgres import PostgresBackend

        return PostgresBackend()
    from search.sqlite import SqliteBackend

    return SqliteBackend()
