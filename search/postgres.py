"""The PostgreSQL index: ``search_docs.tsv`` (GIN), written as the ``dutch`` configuration's
vector of the folded text followed by the ``simple`` configuration's (the words unstemmed,
for prefixes), and ``search_docs.body`` for snippets.

Diacritics are folded in Python before PostgreSQL sees the text (search.text), so the
``unaccent`` extension is not needed. The dutch configuration drops Dutch stop words
(de, het, en, …): a query of stop words alone finds nothing here, unlike on SQLite.
Query terms are handed over as bound values to ``plainto_tsquery`` / ``phraseto_tsquery``
(which read no operators) and prefixes as ``to_tsquery('simple', '<letters>:*')`` built from
letters and digits only. PostgreSQL keeps at most 1 MB of a tsvector: the first
``PG_TEXT`` characters of a document are indexed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, text

from search.backend import Doc, Match, assign_ids
from search.query import And, Node, Not, Or, Phrase, Term
from search.text import fold

PG_TEXT = 200_000
COLUMNS = ("id", "kind", "source", "package_id", "run_id", "last_run_id", "title", "url", "surt",
           "sender", "room_id", "locator", "digest", "mime", "first_at", "at", "body")
INSERT = text(f"INSERT INTO search_docs ({', '.join(COLUMNS)}, tsv) VALUES "
              f"({', '.join(':' + c for c in COLUMNS)}, "
              "to_tsvector('dutch', :f) || to_tsvector('simple', :f))")


def _folded(d: Doc) -> str:
    return fold(d.title + "\n" + d.body[:PG_TEXT])


class PostgresBackend:
    name = "postgresql-dutch"

    def add(self, conn: Connection, docs: Sequence[Doc]) -> list[int]:
        if not docs:
            return []
        ids = assign_ids(conn, docs)
        conn.execute(INSERT, [{**d.row(), "id": i, "body": d.body, "f": _folded(d)}
                              for i, d in zip(ids, docs, strict=True)])
        return ids

    def delete(self, conn: Connection, ids: Sequence[int]) -> None:
        if ids:
            conn.execute(text("DELETE FROM search_docs WHERE id = ANY(:ids)"),
                         {"ids": list(ids)})

    def clear(self, conn: Connection) -> None:
        conn.execute(text("DELETE FROM search_docs"))

    def match(self, node: Node, params: dict[str, Any]) -> Match:
        return Match("search_docs d", f"d.tsv @@ ({self._tsquery(node, params)})",
                     "d.id DESC")

    def _tsquery(self, node: Node, params: dict[str, Any]) -> str:
        n = f"q{len(params)}"
        if isinstance(node, Term) and node.prefix:
            params[n] = f"{node.word}:*"  # letters and digits only (search.query)
            return f"to_tsquery('simple', :{n})"
        if isinstance(node, Term):
            params[n] = node.word
            return f"plainto_tsquery('dutch', :{n})"
        if isinstance(node, Phrase):
            params[n] = " ".join(node.words)
            return f"phraseto_tsquery('dutch', :{n})"
        if isinstance(node, Or):
            return "(" + " || ".join(self._tsquery(i, params) for i in node.items) + ")"
        if isinstance(node, And):
            parts = [self._tsquery(i, params) if not isinstance(i, Not)
                     else f"!!({self._tsquery(i.item, params)})" for i in node.items]
            return "(" + " && ".join(parts) + ")"
        raise TypeError(f"no tsquery for {node!r}")

    def texts(self, conn: Connection, ids: Sequence[int]) -> dict[int, str]:
        rows = conn.execute(text("SELECT id, body FROM search_docs WHERE id = ANY(:ids)"),
                            {"ids": list(ids)})
        return {r[0]: r[1] or "" for r in rows}

    def size(self, conn: Connection) -> int:
        return int(conn.execute(text("SELECT pg_total_relation_size('search_docs')")).scalar()
                   or 0)
