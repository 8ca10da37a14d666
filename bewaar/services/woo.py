"""Woo requests (issue 15, parts 3-5): gather, decide, redact, export.

1. **new** (``woo.new``): the request's documents are the hits of its query (search/, every
   hit, also what replay does not show: a Woo request concerns every document), filtered by
   period and sites/sources. A document is a captured page version or a chat conversation
   (archive/models/woo.py says why); its text is copied into the request. Then a hold on
   each package the documents come from (``hold.add`` rows, via bewaar/services/records.py,
   the request as reason) and the hold ids on the request (``woo.hold``).
2. **add** / **drop** (``woo.add``, ``woo.drop``): one more search hit as a document (and its
   package held), or a document left out of the request (kept, marked dropped).
3. **decide** (``woo.decide``): openbaar, deels or niet, with the grounds (none for openbaar,
   at least one otherwise).
4. **redact** (``woo.redact``): a phrase in every document of the request, or a span of one
   document's text, with its ground. The audit row names the ground, the document and the
   span or the phrase's length, not the redacted words themselves.
5. **export** (``woo.export``): bewaar/services/woo_export.py.

Every step names the user who takes it: role records or admin (``acting_user``).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.errors import NotFoundError
from archive.models import WooDocument, WooRedaction, WooRequest, utcnow
from archive.settings import Settings
from archive.timefmt import ZONE
from bewaar.services.audit import change
from bewaar.services.destruction import acting_user
from bewaar.services.sites import InputError

ROLES = ("records", "admin")
DECISIONS = ("openbaar", "deels", "niet")
MAX_DOCUMENTS = 5000
MAX_TITLE = 500
PAGE = 200


def _ground(text: str) -> str:
    from woo.grounds import GroundError, parse_ground

    try:
        return parse_ground(text).code
    except GroundError as exc:
        raise InputError.of(exc, field="ground") from None


def _number(value: Any, what: str) -> int:
    try:
        n = int(str(value).strip())
    except ValueError:
        raise InputError("%(what)s %(value)r is not a number", field=what, what=what,
                         value=value) from None
    if n < 1:
        raise InputError("%(what)s %(value)r is not a number of one or more", field=what,
                         what=what, value=value)
    return n


def get_request(db: Session, request_id: Any) -> WooRequest:
    req = db.get(WooRequest, _number(request_id, "request"))
    if req is None:
        raise NotFoundError("no Woo request %(id)s (see `bewaar woo list`)", id=request_id)
    return req


def get_document(db: Session, req: WooRequest, number: Any) -> WooDocument:
    n = _number(number, "document")
    doc = db.scalar(select(WooDocument).where(WooDocument.request_id == req.id,
                                              WooDocument.number == n))
    if doc is None:
        raise NotFoundError("Woo request %(id)s has no document %(n)s (see `bewaar woo show "
                            "%(id)s`)", id=req.id, n=n)
    return doc


def ident(req_id: int, number: int) -> str:
    return f"WOO-{req_id}-{number:03d}"


# Gathering --------------------------------------------------------------------------------
def aware(value: Any) -> datetime:
    """A stored time as an aware UTC time (SQLite gives them back naive)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _line(at: datetime, sender: str | None, body: str, attachment: bool) -> str:
    when = at.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")
    who = (sender or "?") + (" (bijlage)" if attachment else "")
    return f"{when} {who}: {body}"


def _units(db: Session, hit_ids: Iterable[int]) -> list[dict[str, Any]]:
    """The documents of these search hits: each web hit its own page version, chat hits
    grouped by (package, room) into their conversation, with its whole transcript."""
    from sqlalchemy import text as sql

    from archive.models import SearchDoc
    from search.backend import backend_for

    ids = sorted(set(hit_ids))
    rows = {r.id: r for r in db.scalars(select(SearchDoc).where(SearchDoc.id.in_(ids)))} \
        if ids else {}
    conn = db.connection()
    backend = backend_for(conn)
    units: dict[str, dict[str, Any]] = {}
    for i in ids:
        r = rows.get(i)
        if r is None:
            continue
        if r.kind == "web":
            key = f"{r.url} {r.digest or ''}"
            if key not in units:
                units[key] = dict(kind="web", source=r.source, package_id=r.package_id,
                                  key=key, title=r.title or r.url or "", url=r.url,
                                  room_id=None, at=aware(r.first_at), last_at=aware(r.at),
                                  text=backend.texts(conn, [r.id]).get(r.id, ""))
            continue
        key = f"{r.package_id} {r.room_id}"
        if key in units:
            continue
        msgs = conn.execute(sql(
            "SELECT id, sender, at, mime FROM search_docs WHERE kind = 'chat' AND "
            "package_id = :p AND room_id = :r ORDER BY at, id"),
            {"p": r.package_id, "r": r.room_id}).all()
        bodies = backend.texts(conn, [m[0] for m in msgs])
        lines = [_line(aware(m[2]), m[1], bodies.get(m[0], ""), m[3] == "attachment")
                 for m in msgs]
        units[key] = dict(kind="chat", source=r.source, package_id=r.package_id, key=key,
                          title=r.title or r.room_id or "", url=None, room_id=r.room_id,
                          at=aware(msgs[0][2]) if msgs else aware(r.at),
                          last_at=aware(msgs[-1][2]) if msgs else aware(r.at),
                          text="\n".join(lines))
    return sorted(units.values(), key=lambda u: (u["at"], u["key"]))


def _hits(db: Session, query: str, date_from: date | None, date_to: date | None,
          sites: list[str], sources: list[str]) -> list[int]:
    from search import QueryError
    from search.index import Filters, search

    scopes = [Filters(site=s) for s in sites] + [Filters(source=s) for s in sources] \
        or [Filters()]
    found: set[int] = set()
    for f in scopes:
        f.date_from, f.date_to = date_from, date_to
        offset = 0
        while True:
            try:
                result = search(db, query, f, limit=PAGE, offset=offset, see_all=True)
            except QueryError as exc:
                raise InputError.of(exc, field="query") from None
            found.update(int(h["id"]) for h in result.hits)
            offset += PAGE
            if len(found) > MAX_DOCUMENTS * 20:
                raise InputError("the query finds more than %(max)s hits: narrow it (words, "
                                 "--from/--to, --site/--source)", field="query",
                                 max=MAX_DOCUMENTS * 20)
            if len(result.hits) < PAGE:  # the last page (whatever the count says)
                break
    return sorted(found)


def _add_units(db: Session, req: WooRequest, units: list[dict[str, Any]]) -> list[WooDocument]:
    have = {d.key: d for d in db.scalars(select(WooDocument)
                                         .where(WooDocument.request_id == req.id))}
    last = max((d.number for d in have.values()), default=0)
    added = []
    for u in units:
        old = have.get(u["key"])
        if old is not None:
            if old.dropped:  # added again
                old.dropped = False
                added.append(old)
            continue
        last += 1
        d = WooDocument(request_id=req.id, number=last, grounds=[], dropped=False, **u)
        db.add(d)
        added.append(d)
    if len(have) + len(added) > MAX_DOCUMENTS:
        raise InputError("a request holds at most %(max)s documents: narrow the query",
                         max=MAX_DOCUMENTS)
    db.flush()
    return added


def _hold_targets(docs: Iterable[WooDocument]) -> list[tuple[str, str]]:
    """(scope, target) of the holds the documents need: their packages (a page whose run
    was not sealed: its site)."""
    out = set()
    for d in docs:
        if d.package_id:
            out.add(("package", d.package_id))
        else:
            out.add(("site" if d.kind == "web" else "source", d.source))
    return sorted(out)


def _hold(settings: Settings, user: str, request_id: int,
          targets: list[tuple[str, str]]) -> list[int]:
    """Holds on what is not yet held for this request; the request's hold ids after."""
    from archive.db import session_scope
    from archive.models import Hold
    from bewaar.services.records import add_hold

    with session_scope(settings) as db:
        req = get_request(db, request_id)
        title, ids = req.title, list(req.hold_ids or [])
        have = {(h.scope, h.target) for h in db.scalars(select(Hold).where(Hold.id.in_(ids)))
                if h.released_at is None} if ids else set()
    new = []
    for scope, target in targets:
        if (scope, target) not in have:
            h = add_hold(settings, user, scope, target,
                         reason=f"Woo-verzoek {request_id}: {title}"[:2000])
            new.append(int(h["id"]))
    if new:
        with change(settings, user, "woo.hold", f"woo:{request_id}", holds=new) as c:
            req = get_request(c.db, request_id)
            req.hold_ids = [*ids, *new]
    return new


def new(settings: Settings, user: str, title: str, query: str, *,
        date_from: Any = None, date_to: Any = None, sites: Iterable[str] = (),
        sources: Iterable[str] = ()) -> dict[str, Any]:
    """A request whose documents are the query's hits; their packages held."""
    from bewaar.services.records import parse_date

    title = " ".join((title or "").split())
    query = (query or "").strip()
    site_list = sorted({s.strip() for s in sites if s and s.strip()})
    source_list = sorted({s.strip() for s in sources if s and s.strip()})
    with change(settings, user, "woo.new", None, title=title, query=query) as c:
        acting_user(c.db, user, ROLES, "start a Woo request")
        if not title:
            raise InputError("give the request's title", field="title")
        if len(title) > MAX_TITLE:
            raise InputError("the title is longer than %(max)s characters", field="title",
                             max=MAX_TITLE)
        if not query:
            raise InputError("give the query that finds the request's documents (--query)",
                             field="query")
        start, end = parse_date(date_from, "--from"), parse_date(date_to, "--to")
        if start and end and end < start:
            raise InputError("--to is before --from", field="to")
        _check_scopes(c.db, site_list, source_list)
        hits = _hits(c.db, query, start, end, site_list, source_list)
        req = WooRequest(title=title, query=query, created_by=user, hold_ids=[], filters={
            "from": start.isoformat() if start else None,
            "to": end.isoformat() if end else None, "sites": site_list,
            "sources": source_list})
        c.db.add(req)
        c.db.flush()
        docs = _add_units(c.db, req, _units(c.db, hits))
        targets = _hold_targets(docs)
        c.target = f"woo:{req.id}"
        c.note(hits=len(hits), documents=len(docs), filters=req.filters)
        request_id = req.id
    _hold(settings, user, request_id, targets)
    return show(settings, request_id)


def _check_scopes(db: Session, sites: list[str], sources: list[str]) -> None:
    from archive.models import ChatSource, Site

    for s in sites:
        if db.scalar(select(Site.id).where(Site.name == s)) is None:
            raise NotFoundError("no site named %(name)r (see `bewaar site list`)", name=s)
    for s in sources:
        if db.scalar(select(ChatSource.id).where(ChatSource.name == s)) is None:
            raise NotFoundError("no chat source named %(name)r (see `bewaar chat list`)",
                                name=s)


def add(settings: Settings, user: str, request_id: Any, hit: Any) -> dict[str, Any]:
    """One more document: the page version or conversation of search hit ``hit``."""
    with change(settings, user, "woo.add", f"woo:{request_id}") as c:
        acting_user(c.db, user, ROLES, "change a Woo request")
        req = get_request(c.db, request_id)
        hit_id = _number(hit, "hit")
        units = _units(c.db, [hit_id])
        if not units:
            raise NotFoundError("no search hit %(id)s (the id `bewaar search --json` shows)",
                                id=hit_id)
        docs = _add_units(c.db, req, units)
        if not docs:
            raise InputError("hit %(hit)s is in request %(id)s already", field="hit",
                             hit=hit_id, id=req.id)
        c.note(hit=hit_id, document=docs[0].number, kind=docs[0].kind)
        targets, number = _hold_targets(docs), docs[0].number
    _hold(settings, user, int(str(request_id)), targets)
    return {"request": int(str(request_id)), "document": number}


def drop(settings: Settings, user: str, request_id: Any, number: Any) -> dict[str, Any]:
    """Leave a document out of the request (kept, marked dropped; ``add`` brings it back)."""
    with change(settings, user, "woo.drop", f"woo:{request_id}") as c:
        acting_user(c.db, user, ROLES, "change a Woo request")
        req = get_request(c.db, request_id)
        doc = get_document(c.db, req, number)
        if doc.dropped:
            raise InputError("document %(n)s was dropped already", field="document",
                             n=doc.number)
        doc.dropped = True
        c.note(document=doc.number)
        return {"request": req.id, "document": doc.number, "dropped": True}


def decide(settings: Settings, user: str, request_id: Any, number: Any, decision: str,
           grounds: Iterable[str] = ()) -> dict[str, Any]:
    """Decide a document: openbaar, deels (openbaar) or niet (openbaar), with its grounds."""
    from woo.grounds import GROUNDS

    with change(settings, user, "woo.decide", f"woo:{request_id}") as c:
        acting_user(c.db, user, ROLES, "decide on a Woo request")
        req = get_request(c.db, request_id)
        doc = get_document(c.db, req, number)
        if decision not in DECISIONS:
            raise InputError("decide %(known)s, not %(decision)r", field="decision",
                             known=", ".join(DECISIONS), decision=decision)
        codes = {_ground(g) for g in grounds}
        ordered = [g for g in GROUNDS if g in codes]
        c.note(document=doc.number, decision=decision, grounds=ordered)
        if doc.dropped:
            raise InputError("document %(n)s was dropped from the request",
                             field="document", n=doc.number)
        if decision == "openbaar" and ordered:
            raise InputError("a document made public (openbaar) has no grounds; did you "
                             "mean --deels?", field="ground")
        if decision != "openbaar" and not ordered:
            raise InputError("name the ground(s) for %(decision)s (--ground 5.1.2e)",
                             field="ground", decision=decision)
        doc.decision, doc.grounds = decision, ordered
        doc.decided_by, doc.decided_at = user, utcnow()
        return document_dict(doc)


def redact(settings: Settings, user: str, request_id: Any, ground: str, *,
           phrase: str | None = None, number: Any = None, span: str | None = None,
           selected: str | None = None, occurrence: Any = None) -> dict[str, Any]:
    """Redact a phrase in every document of the request, or a span of one document. A span
    selected in the browser comes with its ``selected`` text (and its ``occurrence`` in the
    text, 0 the first): the span is where that text is (woo.redact.locate), so the
    occurrence selected is redacted even when the offsets the browser counted are off."""
    from woo.redact import RedactionError, find_phrase, locate, parse_span, phrase_pattern

    with change(settings, user, "woo.redact", f"woo:{request_id}") as c:
        acting_user(c.db, user, ROLES, "redact a Woo request")
        req = get_request(c.db, request_id)
        code = _ground(ground)
        c.note(ground=code)
        try:
            if (phrase is None) == (span is None):
                raise InputError("give either --text PHRASE or --doc N --span START:END")
            if phrase is not None:
                if number is not None:
                    raise InputError("a phrase is redacted in every document; leave out --doc")
                phrase = " ".join(phrase.split())
                phrase_pattern(phrase)
                docs = request_documents(c.db, req)
                hits = {d.number: len(find_phrase(f"{d.title}\n{d.url or ''}\n{d.text}",
                                                  phrase, code)) for d in docs}
                hits = {n: k for n, k in hits.items() if k}
                if not hits:
                    raise InputError("the phrase is in none of the request's documents",
                                     field="text")
                r = WooRedaction(request_id=req.id, phrase=phrase, ground=code,
                                 created_by=user)
                c.note(phrase_length=len(phrase), documents=sorted(hits),
                       occurrences=sum(hits.values()))
            else:
                if number is None:
                    raise InputError("a span is of one document: give --doc N")
                doc = get_document(c.db, req, number)
                if selected is not None:
                    hint = re.match(r"\s*(\d{1,12})", span or "")
                    nth = str(occurrence if occurrence is not None else "").strip()
                    start, end = locate(doc.text, selected, int(hint[1]) if hint else None,
                                        int(nth) if nth.isdigit() else None)
                    c.note(selected=True)
                else:
                    start, end = parse_span(span or "", len(doc.text))
                r = WooRedaction(request_id=req.id, document_id=doc.id, start=start, end=end,
                                 ground=code, created_by=user)
                c.note(document=doc.number, span=f"{start}:{end}")
        except RedactionError as exc:
            raise InputError.of(exc, field="span" if span is not None else "text") from None
        c.db.add(r)
        c.db.flush()
        c.note(redaction=r.id)
        return {"request": req.id, "redaction": r.id, "ground": code,
                **{k: v for k, v in c.detail.items() if k in ("documents", "document", "span",
                                                               "occurrences")}}


# Reading ----------------------------------------------------------------------------------
def request_documents(db: Session, req: WooRequest, *,
                      dropped: bool = False) -> list[WooDocument]:
    q = select(WooDocument).where(WooDocument.request_id == req.id)
    if not dropped:
        q = q.where(WooDocument.dropped.is_(False))
    return list(db.scalars(q.order_by(WooDocument.number)))


def document_dict(d: WooDocument, with_text: bool = False) -> dict[str, Any]:
    out = {"number": d.number, "id": ident(d.request_id, d.number), "kind": d.kind,
           "source": d.source, "title": d.title, "url": d.url, "room_id": d.room_id,
           "package_id": d.package_id, "at": aware(d.at),
           "last_at": aware(d.last_at) if d.last_at else None,
           "length": len(d.text), "dropped": d.dropped, "decision": d.decision,
           "grounds": list(d.grounds or []), "decided_by": d.decided_by}
    if with_text:
        out["text"] = d.text
    return out


def request_dict(db: Session, req: WooRequest, *, documents: bool = True,
                 with_text: bool = False) -> dict[str, Any]:
    docs = request_documents(db, req, dropped=True)
    live = [d for d in docs if not d.dropped]
    out: dict[str, Any] = {
        "id": req.id, "title": req.title, "query": req.query, "filters": req.filters,
        "created_by": req.created_by, "created_at": req.created_at, "holds": req.hold_ids,
        "documents_count": len(live),
        "undecided": [d.number for d in live if d.decision is None],
        "exported_at": req.exported_at, "package_id": req.package_id}
    if documents:
        out["documents"] = [document_dict(d, with_text) for d in docs]
        out["redactions"] = [
            {"id": r.id, "ground": r.ground, "phrase": r.phrase,
             "document": next((d.number for d in docs if d.id == r.document_id), None),
             "span": f"{r.start}:{r.end}" if r.document_id else None,
             "by": r.created_by, "at": r.created_at}
            for r in db.scalars(select(WooRedaction).where(WooRedaction.request_id == req.id)
                                .order_by(WooRedaction.id))]
    return out


def requests(db: Session) -> list[dict[str, Any]]:
    return [request_dict(db, r, documents=False)
            for r in db.scalars(select(WooRequest).order_by(WooRequest.id.desc()))]


def show(settings: Settings, request_id: Any, with_text: bool = False) -> dict[str, Any]:
    from archive.db import session_scope

    with session_scope(settings) as db:
        return request_dict(db, get_request(db, request_id), with_text=with_text)
