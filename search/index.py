"""Index and search: what both backends share (search.backend has their interface).

* ``index_run(db, run_id)``: the HTML pages and PDFs of a crawl run. A document is one text
  version of a URL: (site, URL, payload digest). A revisit (the same payload at a new time) or
  a second response with the same digest adds no text: it moves the document's newest
  capture time (``at``, ``last_run_id``); ``first_at`` stays the first capture. A hit shows the
  newest capture and opens it in replay.
* ``index_chat_package(db, source, package_id, path)``: each message and text attachment.
* ``remove(db, package_ids)``: what destruction calls; the documents of those packages (of
  their crawl runs, and chat messages) become unfindable.
* ``search(db, query, ...)``: ``Result(total, hits)``, newest first, with snippets and where to
  open each hit; access rules as replay applies them unless ``see_all``.

Each function works in the caller's session and commits nothing: the service layer runs it in
its audited change (bewaar/services/search.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote

from sqlalchemy import Connection, select, text
from sqlalchemy.orm import Session

from search.access import Access
from search.backend import Doc, backend_for
from search.query import Node, parse
from search.snippets import Matcher, snippet

BATCH = 500
MAX_LIMIT = 200
COUNT_CAP = 10_000
FRAGMENT = ":@!$&'()*+,;=/?-._~"  # left as they are in a URL fragment (RFC 3986)


@dataclass
class IndexCounts:
    documents: int = 0  # added
    revisits: int = 0  # captures that added no text (same payload), times moved
    skipped: int = 0  # captures without text, unreadable, or revisits of text not indexed
    removed: int = 0  # documents replaced (this run or package indexed before)

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def _conn(db: Session) -> Connection:
    return db.connection()


def add(db: Session, docs: Iterable[Doc]) -> int:
    """Index documents in batches; how many."""
    conn = _conn(db)
    backend = backend_for(conn)
    n, batch = 0, []
    for d in docs:
        batch.append(d)
        if len(batch) >= BATCH:
            n += len(backend.add(conn, batch))
            batch = []
    return n + len(backend.add(conn, batch))


def _delete_where(db: Session, where: str, params: dict[str, Any]) -> int:
    conn = _conn(db)
    ids = [r[0] for r in conn.execute(text(f"SELECT id FROM search_docs d WHERE {where}"),
                                      params)]
    backend_for(conn).delete(conn, ids)
    return len(ids)


def remove_runs(db: Session, run_ids: list[int]) -> int:
    """Forget crawl runs: their documents go; documents whose newest capture was a revisit
    in one of them fall back to their first capture."""
    n = 0
    for run_id in run_ids:
        n += _delete_where(db, "d.kind = 'web' AND d.run_id = :r", {"r": run_id})
        _conn(db).execute(text("UPDATE search_docs SET at = first_at, last_run_id = run_id "
                               "WHERE last_run_id = :r"), {"r": run_id})
    return n


def remove(db: Session, package_ids: Iterable[str]) -> int:
    """Make the documents of these packages unfindable (destruction); how many went."""
    from archive.models import Package

    ids = sorted(set(package_ids))
    if not ids:
        return 0
    runs = sorted({r for r in db.scalars(select(Package.run_id).where(Package.id.in_(ids)))
                   if r is not None})
    n = remove_runs(db, runs)
    for pid in ids:
        n += _delete_where(db, "d.package_id = :p", {"p": pid})
    return n


def clear(db: Session) -> None:
    conn = _conn(db)
    backend_for(conn).clear(conn)


# Indexing ----------------------------------------------------------------------------------
def index_run(db: Session, run_id: int,
              fetch: Callable[[str], Path] | None = None) -> IndexCounts:
    """Index a crawl run's pages and PDFs (again: its documents are replaced). ``fetch``
    gives the local copy of a WARC kept in a bucket (an s3:// location)."""
    from archive.models import Capture, CrawlRun, Package, WarcFile
    from archive.warc.sortkey import surt_key
    from search.documents import HTML_TYPES, PDF_TYPES, page_text, read_record

    run = db.get(CrawlRun, run_id)
    if run is None:
        from archive.errors import NotFoundError

        raise NotFoundError(f"no crawl run {run_id}")
    site = run.site.name
    package_id = db.scalar(select(Package.id).where(Package.run_id == run_id)
                           .order_by(Package.created_at.desc()).limit(1))
    counts = IndexCounts(removed=remove_runs(db, [run_id]))
    paths = {w.filename: w.path for w in db.scalars(
        select(WarcFile).where(WarcFile.run_id == run_id))}
    local: dict[str, Path] = {}
    caps = db.execute(
        select(Capture.url, Capture.mime, Capture.record_type, Capture.payload_digest,
               Capture.warc_filename, Capture.offset, Capture.length, Capture.fetched_at)
        .where(Capture.run_id == run_id, Capture.status == 200,
               Capture.mime.in_(HTML_TYPES | PDF_TYPES))
        .order_by(Capture.fetched_at, Capture.id)).all()
    conn = _conn(db)
    pending: dict[tuple[str, str], Doc] = {}
    for url, mime, rtype, digest, fname, offset, length, at in caps:
        digest = digest or ""
        same = pending.get((url, digest))
        if same is not None:
            same.at, counts.revisits = max(same.at, at), counts.revisits + 1
            continue
        row = conn.execute(text("SELECT id FROM search_docs WHERE source = :s AND digest = :d "
                                "AND url = :u AND kind = 'web' ORDER BY id LIMIT 1"),
                           {"s": site, "d": digest, "u": url}).first()
        if row is not None and digest:
            conn.execute(text("UPDATE search_docs SET at = :a, last_run_id = :r "
                              "WHERE id = :i AND at < :a"), {"a": at, "r": run_id, "i": row[0]})
            counts.revisits += 1
            continue
        if rtype != "response" or fname not in paths or offset is None or length is None:
            counts.skipped += 1  # a revisit of a text not indexed (its run was not)
            continue
        if fname not in local:
            where = paths[fname]
            local[fname] = fetch(where) if fetch is not None and "://" in where else Path(where)
        record = read_record(local[fname], offset, length)
        found = page_text(record[1], mime or "") if record else None
        if not found or not (found[0] or found[1]):
            counts.skipped += 1
            continue
        title, body = found
        pending[(url, digest)] = Doc(
            kind="web", source=site, title=title or url, body=body, at=at, first_at=at,
            package_id=package_id, run_id=run_id, url=url, surt=surt_key(url), digest=digest,
            mime=mime)
    counts.documents = add(db, pending.values())
    return counts


def index_chat_package(db: Session, source: str, package_id: str, path: Path) -> IndexCounts:
    """Index a sealed chat package's messages and text attachments (again: replaced)."""
    from search.documents import chat_documents

    counts = IndexCounts(removed=_delete_where(db, "d.package_id = :p", {"p": package_id}))
    counts.documents = add(db, chat_documents(source, package_id, Path(path)))
    return counts


# Searching ---------------------------------------------------------------------------------
@dataclass
class Filters:
    site: str | None = None
    source: str | None = None
    kind: str | None = None  # web | chat
    date_from: date | None = None
    date_to: date | None = None  # inclusive


@dataclass
class Result:
    """``total`` is exact unless ``exact`` is false: then at least that many were found
    (``COUNT_CAP``; counting every match of a common word costs more than finding the
    newest)."""

    total: int
    hits: list[dict[str, Any]] = field(default_factory=list)
    backend: str = ""
    exact: bool = True

    def to_dict(self) -> dict[str, Any]:
        return {"total": self.total, "total_exact": self.exact, "hits": self.hits}


def _start(day: date) -> datetime:
    return datetime.combine(day, time(), UTC)


def _filters(f: Filters, params: dict[str, Any]) -> list[str]:
    where = []
    if f.kind:
        params["kind"] = f.kind
        where.append("d.kind = :kind")
    scopes = []
    if f.site:
        params["site"] = f.site
        scopes.append("(d.kind = 'web' AND d.source = :site)")
    if f.source:
        params["source"] = f.source
        scopes.append("(d.kind = 'chat' AND d.source = :source)")
    if scopes:
        where.append("(" + " OR ".join(scopes) + ")")
    if f.date_from:  # documents captured (first to newest) or sent in the period
        params["from"] = _start(f.date_from)
        where.append("d.at >= :from")
    if f.date_to:
        params["to"] = _start(f.date_to + timedelta(days=1))
        where.append("d.first_at < :to")
    return where


def search(db: Session, query: str | Node, filters: Filters | None = None, *,
           limit: int = 20, offset: int = 0, see_all: bool = False,
           replay_base: str = "", open_chat: Callable[[str, str, str], str] | None = None,
           exact: bool = False) -> Result:
    """The hits of ``query`` (text, parsed here: ``QueryError`` for bad syntax), newest first.

    ``see_all``: also what replay does not show (excluded, embargoed), each marked with its
    ``access``. ``replay_base`` goes before ``/<site>/<timestamp>/<url>``; ``open_chat``
    builds a chat hit's link from (source, package id, locator), by default the web app's
    transcript path with the message's anchor. Hits come newest first (by the time in
    their id: a page's first capture of this text, a message's time). ``exact``: count every
    match (a Woo request needs them all), else at most ``COUNT_CAP``."""
    node = parse(query) if isinstance(query, str) else query
    filters = filters or Filters()
    limit, offset = max(1, min(int(limit), MAX_LIMIT)), max(0, int(offset))
    conn = _conn(db)
    backend = backend_for(conn)
    access = Access.now(db)
    params: dict[str, Any] = {}
    found = backend.match(node, params)
    where = [found.condition, *_filters(filters, params)]
    hidden = None if see_all else access.hidden_sql(params)
    if hidden:
        where.append(f"NOT {hidden}")
    cond = " AND ".join(where)
    if conn.dialect.name == "sqlite":  # times compared as SQLAlchemy stores them there
        from search.sqlite import _stored

        params = {k: _stored(v) for k, v in params.items()}
    cap = None if exact else COUNT_CAP
    counted = f"SELECT 1 FROM {found.source} WHERE {cond}" + (" LIMIT :cap" if cap else "")
    total = int(conn.execute(text(f"SELECT count(*) FROM ({counted}) AS c"),
                             {**params, "cap": (cap or 0) + 1}).scalar() or 0)
    rows = conn.execute(text(
        "SELECT d.id, d.kind, d.source, d.title, d.url, d.surt, d.sender, d.room_id, "
        f"d.locator, d.package_id, d.first_at, d.at, d.mime FROM {found.source} "
        f"WHERE {cond} ORDER BY {found.order} LIMIT :limit OFFSET :offset"),
        {**params, "limit": limit, "offset": offset}).mappings().all()
    bodies = backend.texts(conn, [r["id"] for r in rows])
    matcher = Matcher(node)
    hits = []
    for r in rows:
        first_at, at = _aware(r["first_at"]), _aware(r["at"])
        hit: dict[str, Any] = {"id": r["id"], "kind": r["kind"], "source": r["source"],
                               "title": r["title"], "package_id": r["package_id"]}
        if r["kind"] == "web":
            shown = at if access.open_newest(r["source"], at) else first_at
            hit.update(url=r["url"], at=shown, first_at=first_at, mime=r["mime"],
                       open=f"{replay_base}/{r['source']}/{_stamp(shown)}/{r['url']}")
        else:
            link = open_chat or chat_link
            hit.update(room=r["title"], room_id=r["room_id"], sender=r["sender"], at=at,
                       attachment=r["mime"] == "attachment",
                       open=link(r["source"], r["package_id"] or "", r["locator"] or ""))
        if see_all:
            hit["access"] = access.state(r["kind"], r["source"], r["surt"], first_at)
        hit["snippet"] = snippet(bodies.get(r["id"], ""), matcher).to_dict()
        hits.append(hit)
    if cap is not None and total > cap:
        return Result(cap, hits, backend.name, exact=False)
    return Result(total, hits, backend.name)


def chat_link(source: str, package_id: str, locator: str) -> str:
    """The web app's transcript of the message: ``/chats/<source>/packages/<id>/rooms/<room>/
    transcript#<event id>`` (bewaar/web/chats.py)."""
    room, _, event = locator.partition("#")
    slug = room.removeprefix("rooms/")
    base = f"/chats/{quote(source)}/packages/{quote(package_id)}"
    if not slug:
        return f"{base}/transcript"
    return f"{base}/rooms/{quote(slug)}/transcript" + (
        f"#{quote(event, safe=FRAGMENT)}" if event else "")


def _stamp(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y%m%d%H%M%S")


def _aware(value: Any) -> datetime:
    if isinstance(value, str):  # SQLite through text(): the stored text
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def stats(db: Session) -> dict[str, Any]:
    conn = _conn(db)
    backend = backend_for(conn)
    counts: dict[str, int] = {r[0]: r[1] for r in conn.execute(
        text("SELECT kind, count(*) FROM search_docs GROUP BY kind"))}
    return {"backend": backend.name, "documents": sum(counts.values()),
            "web": counts.get("web", 0), "chat": counts.get("chat", 0),
            "bytes": backend.size(conn)}
