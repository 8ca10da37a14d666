"""The record life cycle, parts 1 and 2: retention (each package's end date and state) and
legal holds. The arithmetic is ``archive.package.retention``; the rows are
``archive.models.records`` (``Retention``, one per package, written when it is sealed and when
its site's category changes; ``Hold``).

What the later parts (destruction lists, transfer) build on: :func:`held` says whether a
package is under a hold on a day, :func:`due_for_destruction` lists what may be proposed
(state ``due``: V, its end date passed, not held, not destroyed), and :func:`revalue`
re-values a source's packages inside another change.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.errors import NotFoundError, Word
from archive.models import Hold, Package, Retention, SelectielijstCategory, utcnow
from archive.package.retention import STATES, end_dates, state
from archive.settings import Settings
from archive.timefmt import ZONE
from bewaar.services.audit import Change, change
from bewaar.services.sites import InputError

SCOPES = ("site", "source", "package")
MAX_REASON = 2000
_KIND_OF_SCOPE = {"site": "crawl", "source": "chat"}


def today() -> date:
    """Today in the Netherlands (the day a records manager means)."""
    return datetime.now(ZONE).date()


def parse_date(value: Any, what: str = "date") -> date | None:
    """``2030-01-31`` as a date; empty or None: None. Bad text raises ``InputError``."""
    if isinstance(value, date) and not isinstance(value, datetime):
        return value
    text = str(value or "").strip()
    if not text:
        return None
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise InputError("%(what)s %(value)r: use a date like 2030-01-31", field=what,
                         what=what, value=text) from None


# Holds ------------------------------------------------------------------------------------
def _active(h: Hold, as_of: date) -> bool:
    return h.released_at is None and (h.until is None or h.until >= as_of)


def _covers(h: Hold, p: Package) -> bool:
    if h.scope == "package":
        return h.target == p.id
    return _KIND_OF_SCOPE.get(h.scope) == p.source_kind and h.target == p.source_name


def _active_holds(db: Session, as_of: date) -> list[Hold]:
    return [h for h in db.scalars(select(Hold).where(Hold.released_at.is_(None)))
            if _active(h, as_of)]


def held(db: Session, package_id: str, as_of: date | None = None) -> bool:
    """Whether a hold covers the package on ``as_of`` (default today). An unknown package
    raises ``NotFoundError``: nothing is ever assumed free of holds."""
    p = db.get(Package, package_id)
    if p is None:
        raise NotFoundError("no package %(id)r (see `bewaar package list`)", id=package_id)
    return any(_covers(h, p) for h in _active_holds(db, as_of or today()))


def hold_dict(h: Hold, as_of: date | None = None) -> dict[str, Any]:
    return {"id": h.id, "scope": h.scope, "target": h.target, "reason": h.reason,
            "until": h.until.isoformat() if h.until else None, "created_by": h.created_by,
            "created_at": h.created_at, "released_at": h.released_at,
            "released_by": h.released_by, "active": _active(h, as_of or today())}


def holds(db: Session, *, active_only: bool = False) -> list[dict[str, Any]]:
    """Every hold, newest first (with ``active_only`` those that hold today)."""
    rows = [hold_dict(h) for h in db.scalars(select(Hold).order_by(Hold.id.desc()))]
    return [h for h in rows if h["active"]] if active_only else rows


def _check_target(db: Session, scope: str, target: str) -> None:
    from archive.models import ChatSource, Site

    if scope == "site":
        if db.scalar(select(Site).where(Site.name == target)) is None:
            raise NotFoundError("no site named %(name)r (see `bewaar site list`)",
                                name=target)
    elif scope == "source":
        if db.scalar(select(ChatSource).where(ChatSource.name == target)) is None:
            raise NotFoundError("no chat source named %(name)r (see `bewaar chat list`)",
                                name=target)
    elif db.get(Package, target) is None:
        raise NotFoundError("no package %(id)r (see `bewaar package list`)", id=target)


def add_hold(settings: Settings, actor: str, scope: str, target: str, reason: str,
             until: Any = None) -> dict[str, Any]:
    """Put a hold on a site's, a chat source's or one package's archives (through ``until``,
    a day, if given). Returns the hold."""
    target = (target or "").strip()
    reason = " ".join((reason or "").split())
    with change(settings, actor, "hold.add", f"{scope}:{target}") as c:
        if scope not in SCOPES:
            raise InputError("a hold is on a site, a source or a package, not %(scope)r",
                             scope=scope)
        if not target:
            raise InputError("name the %(scope)s to hold", field="target", scope=Word(scope))
        if not reason:
            raise InputError("give the reason for the hold (a Woo request, an objection, a "
                             "court case …)", field="reason")
        if len(reason) > MAX_REASON:
            raise InputError("the reason is longer than %(max)s characters",
                             field="reason", max=MAX_REASON)
        end = parse_date(until, "until")
        if end is not None and end < today():
            raise InputError("until %(date)s has passed: such a hold would not hold",
                             field="until", date=end.isoformat())
        _check_target(c.db, scope, target)
        h = Hold(scope=scope, target=target, reason=reason, until=end, created_by=actor)
        c.db.add(h)
        c.db.flush()
        c.target = f"hold:{h.id}"
        c.note(scope=scope, of=target, reason=reason, until=end.isoformat() if end else None)
        return hold_dict(h)


def release_hold(settings: Settings, actor: str, hold_id: Any) -> dict[str, Any]:
    """Release a hold: what it covered follows its end date again."""
    with change(settings, actor, "hold.release", f"hold:{hold_id}") as c:
        try:
            number = int(str(hold_id))
        except ValueError:
            raise InputError("hold id %(id)r is not a number", id=hold_id) from None
        h = c.db.get(Hold, number)
        if h is None:
            raise NotFoundError("no hold %(id)s (see `bewaar hold list`)", id=number)
        if h.released_at is not None:
            raise InputError("hold %(id)s was released already (by %(by)s)", id=number,
                             by=h.released_by)
        h.released_at = utcnow()
        h.released_by = actor
        c.note(scope=h.scope, of=h.target)
        return hold_dict(h)


# Retention --------------------------------------------------------------------------------
def _fallback(p: Package, cats: dict[str, SelectielijstCategory]) -> Retention:
    """The valuation of a package sealed before retention was recorded (not stored): its
    term starts on the day it was made."""
    start = p.created_at.astimezone(UTC).date() if p.created_at.tzinfo else p.created_at.date()
    cat = cats.get(p.category or "")
    if cat is None:
        return Retention(package_id=p.id, category=p.category, waardering="N",
                         trigger_date=start)
    end, transfer = end_dates(cat.waardering, cat.bewaartermijn, start)
    return Retention(package_id=p.id, category=cat.code, waardering=cat.waardering,
                     bewaartermijn=cat.bewaartermijn, trigger=cat.trigger, trigger_date=start,
                     end_date=end, transfer_date=transfer)


def retention(db: Session, as_of: date | None = None,
              state_filter: str | None = None) -> list[dict[str, Any]]:
    """Every package with its valuation and its state on ``as_of`` (default today), oldest
    first; with ``state_filter`` only those in that state."""
    if state_filter is not None and state_filter not in STATES:
        raise InputError("unknown state %(state)r; known: %(known)s", field="state",
                         state=state_filter, known=", ".join(STATES))
    day = as_of or today()
    active = _active_holds(db, day)
    valued = {r.package_id: r for r in db.scalars(select(Retention))}
    cats = {c.code: c for c in db.scalars(select(SelectielijstCategory))}
    out = []
    for p in db.scalars(select(Package).order_by(Package.created_at, Package.id)):
        r = valued.get(p.id) or _fallback(p, cats)
        by = [h.id for h in active if _covers(h, p)]
        st = state(waardering=r.waardering, end_date=r.end_date, transfer_date=r.transfer_date,
                   held=bool(by), as_of=day, disposition=r.disposition)
        if state_filter and st != state_filter:
            continue
        out.append({
            "id": p.id, "source_kind": p.source_kind, "source": p.source_name,
            "category": r.category, "waardering": r.waardering,
            "bewaartermijn": r.bewaartermijn, "trigger": r.trigger,
            "trigger_date": r.trigger_date.isoformat(),
            "end_date": r.end_date.isoformat() if r.end_date else None,
            "transfer_date": r.transfer_date.isoformat() if r.transfer_date else None,
            "state": st, "holds": by, "created_at": p.created_at,
        })
    return out


def due_for_destruction(db: Session, as_of: date | None = None) -> list[str]:
    """The ids of the packages that may be proposed for destruction on ``as_of``: V, end date
    passed, not held, not destroyed or transferred."""
    return [r["id"] for r in retention(db, as_of, "due")]


def revalue(c: Change, kind: str, name: str, code: str | None) -> list[dict[str, Any]]:
    """Inside change ``c``: re-value the packages of source ``name`` (``kind`` crawl or chat)
    by category ``code`` (None: waardering N), keeping each one's trigger date; adds a
    ``retention.revalue`` row naming the packages and their new end dates."""
    db = c.db
    cat = db.get(SelectielijstCategory, code) if code else None
    cats = {cat.code: cat} if cat else {}
    changed = []
    for p in db.scalars(select(Package).where(Package.source_kind == kind,
                                              Package.source_name == name)
                        .order_by(Package.created_at)):
        r = db.get(Retention, p.id)
        if r is None:
            r = _fallback(p, cats)
            db.add(r)
        if r.disposition is not None:
            continue  # destroyed or transferred: its life cycle is over
        if cat is None:
            r.category, r.waardering, r.bewaartermijn, r.trigger = code, "N", None, None
            r.end_date = r.transfer_date = None
        else:
            r.category, r.waardering = cat.code, cat.waardering
            r.bewaartermijn, r.trigger = cat.bewaartermijn, cat.trigger
            r.end_date, r.transfer_date = end_dates(cat.waardering, cat.bewaartermijn,
                                                    r.trigger_date)
        r.valued_at = utcnow()
        changed.append({"package": p.id, "category": r.category, "waardering": r.waardering,
                        "end_date": r.end_date.isoformat() if r.end_date else None})
    if changed:
        c.also("retention.revalue", f"{'site' if kind == 'crawl' else 'source'}:{name}",
               category=code, packages=changed)
    return changed
