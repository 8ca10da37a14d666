"""Full-text search across web captures and chats (issue 15).

One small interface (``search.backend.Backend``) with two backends: SQLite FTS5, embedded and
the default (``search.sqlite``), and PostgreSQL's full-text search with the ``dutch``
configuration (``search.postgres``), chosen by the database in use. Diacritics are folded and
words stemmed the Dutch way on both (``search.text``). Our own query language
(``search.query``) is translated to each; user text never reaches MATCH or to_tsquery.

``search.index`` has what the service layer calls: ``index_run``, ``index_chat_package``,
``remove(package_ids)`` (destruction), ``search`` and ``stats``. The schema is the migration
branch ``search`` (0002_search); the documents are ``archive.models.search.SearchDoc``.
"""

from __future__ import annotations

from search.query import QueryError

__all__ = ["QueryError"]
