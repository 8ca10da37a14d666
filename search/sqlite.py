"""The embedded index: SQLite FTS5 (``search_fts``: title, body, stems; ``unicode61
remove_diacritics 2``), its rowid the document's id.

Words and phrases are looked for among the Dutch stems (``vergadering`` finds
``vergaderingen``), prefixes among the words themselves (``vergaderin*``). The query tree is
written as an FTS5 expression of quoted stems only: nothing the user typed reaches MATCH
except letters and digits, each between quotes.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, text

from search.backend import Doc, Match, assign_ids
from search.query import And, Node, Not, Or, Phrase, Term
from search.text import stem, stems

COLUMNS = ("kind", "source", "package_id", "run_id", "last_run_id", "title", "url", "surt",
           "sender", "room_id", "locator", "digest", "mime", "first_at", "at")
DOC_INSERT = (f"INSERT INTO search_docs (id, {', '.join(COLUMNS)}) "
              f"VALUES (?, {', '.join('?' for _ in COLUMNS)})")


def _stored(value: Any) -> Any:
    """A time as SQLAlchemy's SQLite DateTime stores it (naive UTC text); else as is."""
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = (value.astimezone(UTC) if value.utcoffset() else value).replace(tzinfo=None)
        # "%Y-%m-%d %H:%M:%S.%f" (SQLAlchemy's "%04d-%02d-%02d …"), without strftime's cost
        return value.isoformat(" ", "microseconds")
    return value


def _row(d: Doc) -> tuple[Any, ...]:
    at = _stored(d.at)
    return (d.kind, d.source, d.package_id, d.run_id, d.run_id, d.title, d.url, d.surt,
            d.sender, d.room_id, d.locator, d.digest, d.mime,
            at if d.first_at is None else _stored(d.first_at), at)


def fts_expression(node: Node) -> str:
    if isinstance(node, Term):
        if node.prefix:
            return f'{{title body}} : "{node.word}" *'
        return f'stems : "{stem(node.word)}"'
    if isinstance(node, Phrase):
        return 'stems : "' + " ".join(stem(w) for w in node.words) + '"'
    if isinstance(node, Or):
        return "(" + " OR ".join(fts_expression(i) for i in node.items) + ")"
    if isinstance(node, And):
        pos = [fts_expression(i) for i in node.items if not isinstance(i, Not)]
        neg = [fts_expression(i.item) for i in node.items if isinstance(i, Not)]
        out = "(" + " AND ".join(pos) + ")"
        for n in neg:
            out = f"({out} NOT {n})"
        return out
    raise TypeError(f"no FTS5 form for {node!r}")  # Not alone: refused by the parser


class SqliteBackend:
    name = "sqlite-fts5"

    def add(self, conn: Connection, docs: Sequence[Doc]) -> list[int]:
        """Written with the driver's executemany: SQLAlchemy's per-row work would cost more
        than the index itself."""
        if not docs:
            return []
        ids = assign_ids(conn, docs)
        cur = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cur.execute("PRAGMA cache_size = -65536")  # 64 MB: the index's pages stay cached
            cur.executemany(DOC_INSERT, [(i, *_row(d)) for i, d in zip(ids, docs, strict=True)])
            cur.executemany("INSERT INTO search_fts (rowid, title, body, stems) "
                            "VALUES (?, ?, ?, ?)",
                            [(i, d.title if d.kind == "web" else "", d.body,
                              stems(d.title + "\n" + d.body if d.kind == "web" else d.body))
                             for i, d in zip(ids, docs, strict=True)])
        finally:
            cur.close()
        return ids

    def delete(self, conn: Connection, ids: Sequence[int]) -> None:
        for chunk in _chunks(list(ids)):
            marks = ",".join(f":i{n}" for n in range(len(chunk)))
            values = {f"i{n}": v for n, v in enumerate(chunk)}
            conn.execute(text(f"DELETE FROM search_fts WHERE rowid IN ({marks})"), values)
            conn.execute(text(f"DELETE FROM search_docs WHERE id IN ({marks})"), values)

    def clear(self, conn: Connection) -> None:
        conn.execute(text("DELETE FROM search_fts"))
        conn.execute(text("DELETE FROM search_docs"))

    def match(self, node: Node, params: dict[str, Any]) -> Match:
        params["fts"] = fts_expression(node)
        # FTS5 reads the matches in rowid order, newest first, and stops at the LIMIT
        return Match("search_fts f JOIN search_docs d ON d.id = f.rowid",
                     "f.search_fts MATCH :fts", "f.rowid DESC")

    def texts(self, conn: Connection, ids: Sequence[int]) -> dict[int, str]:
        out: dict[int, str] = {}
        for chunk in _chunks(list(ids)):
            marks = ",".join(f":i{n}" for n in range(len(chunk)))
            rows = conn.execute(text(f"SELECT rowid, body FROM search_fts WHERE rowid IN "
                                     f"({marks})"), {f"i{n}": v for n, v in enumerate(chunk)})
            out.update({r[0]: r[1] or "" for r in rows})
        return out

    def size(self, conn: Connection) -> int:
        try:
            return int(conn.execute(text(
                "SELECT sum(pgsize) FROM dbstat WHERE name LIKE 'search_%' "
                "OR name LIKE 'ix_search_%'")).scalar() or 0)
        except Exception:  # noqa: BLE001 - a SQLite built without dbstat
            return -1


def _chunks(items: list[int], size: int = 500) -> list[list[int]]:
    return [items[i : i + size] for i in range(0, len(items), size)]
