"""The record life cycle, part 3: destruction lists with four eyes (and more).

A list goes through three people, each named (the CLI's ``--user NAME``, the web's logged-in
user) and each the actor of the audit row of their step:

1. **propose** (``destroy.propose``): a records manager (role ``records`` or ``admin``) lists
   everything :func:`bewaar.services.records.due_for_destruction` gives on a day and that is not
   on another open list; an empty list is refused.
2. **review** (``destroy.review``): *another* records manager agrees (``reviewed``) or rejects it
   with a reason (``rejected``, final: its packages may be proposed again). The author may not
   review her own list.
3. **approve** (``destroy.approve``): an ``archivist`` approves a reviewed list. It becomes
   executable on ``executable_from``: the approval day plus ``destruction_wait_days`` (0 = the
   same day), never before the day the list was made for.

4. **execute** (``destroy.execute``, :mod:`bewaar.services.disposal`): an archivist destroys
   what is on it, from ``executable_from`` on, and the verklaring van vernietiging is sealed.

Until it is executed a list can be cancelled (``destroy.cancel``) with a reason, by a records
manager or an archivist. Holds are not copied onto a list: whether an item is held is asked of
the holds whenever the list is shown (and when it is executed: a held item is skipped).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.errors import NotFoundError, Word
from archive.models import DestructionItem, DestructionList, Package, Retention, User, utcnow
from archive.settings import Settings
from bewaar.services.audit import change
from bewaar.services.records import MAX_REASON, due_for_destruction, held, parse_date, today
from bewaar.services.sites import InputError

STATES = ("proposed", "reviewed", "rejected", "approved", "cancelled", "executing", "executed")
OPEN = ("proposed", "reviewed", "approved")  # not yet executed, rejected or cancelled
PROPOSERS = ("records", "admin")  # who may propose and review
APPROVERS = ("archivist",)
CANCELLERS = ("records", "archivist", "admin")


# Reading ----------------------------------------------------------------------------------
def _number(list_id: Any) -> int:
    try:
        return int(str(list_id).strip())
    except ValueError:
        raise InputError("destruction list id %(id)r is not a number", field="list",
                         id=list_id) from None


def get_list(db: Session, list_id: Any) -> DestructionList:
    """The list with that id; unknown raises ``NotFoundError``."""
    number = _number(list_id)
    dl = db.get(DestructionList, number)
    if dl is None:
        raise NotFoundError("no destruction list %(id)s (see `bewaar destroy list`)",
                            id=number)
    return dl


def list_dict(db: Session, dl: DestructionList, *, items: bool = True,
              as_of: date | None = None) -> dict[str, Any]:
    """A list as the faces show it; with ``items`` each package and whether a hold covers it
    today (or on ``as_of``)."""
    day = as_of or today()
    rows = []
    for it in dl.items:
        p = db.get(Package, it.package_id)
        rows.append({"package": it.package_id,
                     "source_kind": p.source_kind if p else None,
                     "source": p.source_name if p else None,
                     "category": it.category,
                     "end_date": it.end_date.isoformat() if it.end_date else None,
                     "held": held(db, it.package_id, day) if p else False,
                     "state": it.state})  # None, destroying, destroyed or skipped
    out: dict[str, Any] = {
        "id": dl.id, "state": dl.state, "as_of": dl.as_of.isoformat(),
        "proposed_by": dl.proposed_by, "proposed_at": dl.proposed_at,
        "reviewed_by": dl.reviewed_by, "reviewed_at": dl.reviewed_at,
        "review_reason": dl.review_reason,
        "approved_by": dl.approved_by, "approved_at": dl.approved_at,
        "executable_from": dl.executable_from.isoformat() if dl.executable_from else None,
        "cancelled_by": dl.cancelled_by, "cancelled_at": dl.cancelled_at,
        "cancel_reason": dl.cancel_reason,
        "executed_by": dl.executed_by, "executed_at": dl.executed_at,
        "verklaring": dl.verklaring_id,
        "count": len(rows), "held": sum(1 for r in rows if r["held"]),
    }
    if items:
        out["items"] = rows
    return out


def lists(db: Session) -> list[dict[str, Any]]:
    """Every destruction list, newest first (without items; with their counts)."""
    return [list_dict(db, dl, items=False)
            for dl in db.scalars(select(DestructionList).order_by(DestructionList.id.desc()))]


def show(db: Session, list_id: Any) -> dict[str, Any]:
    """One list with its items (each marked ``held`` when a hold covers it today)."""
    return list_dict(db, get_list(db, list_id))


# Checks -----------------------------------------------------------------------------------
def acting_user(db: Session, name: str, roles: Iterable[str], step: str) -> User:
    """The user named to act: she must exist, be enabled and have one of ``roles``."""
    roles = tuple(roles)
    name = (name or "").strip()
    if not name:
        raise InputError("name the user who may %(step)s (--user NAME)", field="user",
                         step=Word(step))
    user = db.scalar(select(User).where(User.name == name))
    if user is None:
        raise NotFoundError("no user named %(name)r (see `bewaar user list`)", name=name)
    if user.disabled:
        raise InputError("user %(name)r is disabled", field="user", name=name)
    if user.role not in roles:
        raise InputError("user %(name)r has the role %(role)r; only %(roles)s may %(step)s",
                         field="user", name=name, role=user.role, roles=", ".join(roles),
                         step=Word(step))
    return user


def _reason(text: str | None, what: str) -> str:
    reason = " ".join((text or "").split())
    if not reason:
        raise InputError("give the reason %(what)s (--reason TEXT)", field="reason",
                         what=Word(what))
    if len(reason) > MAX_REASON:
        raise InputError("the reason is longer than %(max)s characters", field="reason",
                         max=MAX_REASON)
    return reason


def _in_state(dl: DestructionList, wanted: str, step: str) -> None:
    if dl.state != wanted:
        by = {"reviewed": dl.reviewed_by, "rejected": dl.reviewed_by,
              "approved": dl.approved_by, "cancelled": dl.cancelled_by}.get(dl.state)
        if by:
            raise InputError("destruction list %(id)s is %(state)s (by %(by)s): only a "
                             "%(wanted)s list can be %(step)s", field="list", id=dl.id,
                             state=Word(dl.state), by=by, wanted=Word(wanted),
                             step=Word(step))
        raise InputError("destruction list %(id)s is %(state)s: only a %(wanted)s list can "
                         "be %(step)s", field="list", id=dl.id, state=Word(dl.state),
                         wanted=Word(wanted), step=Word(step))


# Changes ----------------------------------------------------------------------------------
def propose(settings: Settings, user: str, as_of: Any = None,
            via: str | None = None) -> dict[str, Any]:
    """Make a list of every package due for destruction on ``as_of`` (default today), not
    held and not on another open list. Nothing due: refused."""
    with change(settings, user, "destroy.propose", None, via=via) as c:
        db = c.db
        acting_user(db, user, PROPOSERS, "propose a destruction list")
        day = parse_date(as_of, "--as-of") or today()
        listed = set(db.scalars(
            select(DestructionItem.package_id).join(DestructionList)
            .where(DestructionList.state.in_(OPEN))))
        due = [p for p in due_for_destruction(db, day) if p not in listed]
        if not due:
            raise InputError("nothing is due for destruction on %(date)s (that is not held "
                             "or on an open list already): no list made",
                             date=day.isoformat())
        dl = DestructionList(state="proposed", as_of=day, proposed_by=user)
        db.add(dl)
        db.flush()
        for pid in due:
            r = db.get(Retention, pid)
            db.add(DestructionItem(list_id=dl.id, package_id=pid,
                                   category=r.category if r else None,
                                   end_date=r.end_date if r else None))
        db.flush()
        db.refresh(dl)
        c.target = f"destruction:{dl.id}"
        c.note(as_of=day.isoformat(), packages=due)
        return list_dict(db, dl)


def review(settings: Settings, user: str, list_id: Any, *, approve: bool,
           reason: str | None = None, via: str | None = None) -> dict[str, Any]:
    """A second records manager agrees with a proposed list (``approve``) or rejects it with a
    reason. The author may not review her own list."""
    with change(settings, user, "destroy.review", f"destruction:{list_id}", via=via,
                verdict="approve" if approve else "reject") as c:
        db = c.db
        acting_user(db, user, PROPOSERS, "review a destruction list")
        dl = get_list(db, list_id)
        c.target = f"destruction:{dl.id}"
        _in_state(dl, "proposed", "reviewed")
        if dl.proposed_by == user:
            raise InputError("%(user)s proposed destruction list %(id)s: another records "
                             "manager must review it (four eyes)", field="user", user=user,
                             id=dl.id)
        text = None if approve and not reason else _reason(reason, "for rejecting the list")
        dl.state = "reviewed" if approve else "rejected"
        dl.reviewed_by, dl.reviewed_at, dl.review_reason = user, utcnow(), text
        c.note(reason=text)
        return list_dict(db, dl)


def approve(settings: Settings, user: str, list_id: Any,
            via: str | None = None) -> dict[str, Any]:
    """An archivist approves a reviewed list: it may be executed from the approval day plus
    ``destruction_wait_days`` (and never before the day it was made for)."""
    with change(settings, user, "destroy.approve", f"destruction:{list_id}", via=via) as c:
        db = c.db
        acting_user(db, user, APPROVERS, "approve a destruction list")
        dl = get_list(db, list_id)
        c.target = f"destruction:{dl.id}"
        _in_state(dl, "reviewed", "approved")
        start = today() + timedelta(days=settings.destruction_wait_days)
        dl.state, dl.approved_by, dl.approved_at = "approved", user, utcnow()
        dl.executable_from = max(start, dl.as_of)
        c.note(executable_from=dl.executable_from.isoformat(),
               wait_days=settings.destruction_wait_days)
        return list_dict(db, dl)


def cancel(settings: Settings, user: str, list_id: Any, reason: str,
           via: str | None = None) -> dict[str, Any]:
    """Cancel a list that is not executed (nor rejected or cancelled already), with a reason;
    its packages may be proposed again."""
    with change(settings, user, "destroy.cancel", f"destruction:{list_id}", via=via) as c:
        db = c.db
        acting_user(db, user, CANCELLERS, "cancel a destruction list")
        dl = get_list(db, list_id)
        c.target = f"destruction:{dl.id}"
        if dl.state not in OPEN:
            raise InputError("destruction list %(id)s is %(state)s already: only a list that "
                             "is proposed, reviewed or approved can be cancelled",
                             field="list", id=dl.id, state=Word(dl.state))
        text = _reason(reason, "for cancelling the list")
        c.note(previous=dl.state, reason=text)
        dl.state, dl.cancelled_by, dl.cancelled_at, dl.cancel_reason = (
            "cancelled", user, utcnow(), text)
        return list_dict(db, dl)
