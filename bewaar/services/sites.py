"""Sites: add, edit, remove (or retire), selectielijst category, schedules, "run now".

Every function validates all of its input before it changes anything; bad input raises
``InputError`` (or another ``BewaarError``) with the reason, and nothing is stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from archive.errors import BewaarError, NotFoundError
from archive.models import CrawlRun, Site, utcnow
from archive.settings import Settings
from archive.urls import normalise_seed
from bewaar.services.audit import Change, change
from scheduler import schedules

NAME_RE = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
FIELDS = ("seeds", "include", "exclude", "max_pages", "max_depth", "robots", "category",
          "schedule")


class InputError(BewaarError):
    """A request with bad input: nothing was changed. ``field`` names the input at fault,
    where one is (a form shows the message beside it). The message is a template with its
    parameters as keywords (archive.errors.BewaarError): ``InputError("site %(name)r is
    retired", field="site", name=name)``; the web app shows it in the viewer's language."""

    def __init__(self, message: str, field: str | None = None, **params: Any) -> None:
        super().__init__(message, **params)
        self.field = field

    @classmethod
    def of(cls, exc: BewaarError, field: str | None = None) -> InputError:
        """Another error's message (its template and parameters) as bad input."""
        return cls(exc.template, field, **exc.params)


def site_dict(site: Site) -> dict[str, Any]:
    return {
        "id": site.id, "name": site.name, "seeds": site.seeds, "include": site.include,
        "exclude": site.exclude, "max_pages": site.max_pages, "max_depth": site.max_depth,
        "robots": site.robots, "category": site.category, "schedule": site.schedule,
        "embargo_days": site.embargo_days, "retired": site.retired_at is not None,
        "retired_at": site.retired_at,
    }


def get_site(db: Session, name: str, *, active: bool = False) -> Site:
    site = db.scalar(select(Site).where(Site.name == name))
    if site is None:
        raise NotFoundError("no site named %(name)r (see `bewaar site list`)", name=name)
    if active and site.retired_at is not None:
        raise InputError("site %(name)r is retired: it is no longer crawled (its archives "
                         "are kept)", name=name)
    return site


def lines(value: Any) -> list[str]:
    """A list from a form field or option: one entry per line (never split on spaces, so a
    URL with a space in it is refused rather than cut in two)."""
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.splitlines() if v.strip()]
    return [str(v).strip() for v in value if str(v).strip()]


def check_seeds(raw: Iterable[Any]) -> list[str]:
    seeds = []
    for s in lines(list(raw) if not isinstance(raw, str) else raw):
        try:
            seeds.append(normalise_seed(s))
        except BewaarError as exc:  # archive.urls.SeedError
            raise InputError.of(exc) from None
        except ValueError as exc:
            raise InputError("bad seed URL: %(reason)s", reason=str(exc)) from None
    if not seeds:
        raise InputError("give at least one seed URL")
    return list(dict.fromkeys(seeds))


def _patterns(key: str, value: Any) -> list[str]:
    out = lines(value)
    for p in out:
        try:
            re.compile(p)
        except re.error as exc:
            raise InputError("bad %(key)s pattern %(pattern)r: %(reason)s", key=key,
                             pattern=p, reason=str(exc)) from None
    return out


def _limit(key: str, value: Any, low: int) -> int | None:
    if value in (None, ""):
        return None
    try:
        number = int(str(value))
    except ValueError:
        raise InputError("%(key)s must be a whole number, not %(value)r", key=key,
                         value=value) from None
    if number < low:
        raise InputError("%(key)s must be at least %(low)s", key=key, low=low)
    return number


def _robots(value: Any) -> str:
    robots = str(value or "obey")
    if robots not in ("obey", "ignore"):
        raise InputError("robots must be 'obey' or 'ignore', not %(value)r", value=robots)
    return robots


def _category(db: Session, code: Any) -> str | None:
    from bewaar.services.queries import categories

    code = (str(code).strip() if code is not None else "") or None
    known = {c["code"] for c in categories(db)}
    if code is not None and known and code not in known:
        raise InputError("unknown selectielijst category %(code)r; known: %(known)s",
                         code=code, known=", ".join(sorted(known)))
    return code


def _schedule(value: Any) -> str | None:
    from scheduler.cron import ScheduleError, parse_cron

    cron = " ".join(str(value or "").split())
    if not cron:
        return None
    try:
        parse_cron(cron)
    except ScheduleError as exc:
        raise InputError.of(exc) from None
    return cron


def _checked(db: Session, data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """The validated fields of ``data``; with ``partial`` only those given."""
    unknown = set(data) - set(FIELDS) - {"name"}
    if unknown:
        raise InputError("unknown site field(s): %(fields)s",
                         fields=", ".join(sorted(unknown)))
    checks: dict[str, Callable[[Any], Any]] = {
        "seeds": check_seeds,
        "include": lambda v: _patterns("include", v),
        "exclude": lambda v: _patterns("exclude", v),
        "max_pages": lambda v: _limit("max_pages", v, 1),
        "max_depth": lambda v: _limit("max_depth", v, 0),
        "robots": _robots,
        "category": lambda v: _category(db, v),
        "schedule": _schedule,
    }
    checked = {}
    for key, check in checks.items():
        if partial and key not in data:
            continue
        try:
            checked[key] = check(data.get(key))
        except InputError as exc:
            raise InputError.of(exc, field=key) from None
    return checked


def add_site(settings: Settings, actor: str, data: dict[str, Any]) -> dict[str, Any]:
    """Register a site with its scope (and schedule). Returns the site."""
    name = str(data.get("name") or "").strip()
    with change(settings, actor, "site.add", name or None) as c:
        if not re.fullmatch(NAME_RE, name):
            raise InputError("site name %(name)r: use letters, digits, '.', '_' or '-'",
                             field="name", name=name)
        fields = _checked(c.db, data, partial=False)
        if c.db.scalar(select(Site).where(Site.name == name)) is not None:
            raise InputError("a site named %(name)r exists already", field="name",
                             name=name)
        cron = fields.pop("schedule")
        site = Site(name=name, **fields)
        c.db.add(site)
        c.db.flush()
        if cron:
            _schedule_change(c, name, cron, None)
        c.note(**{k: v for k, v in fields.items() if v not in (None, [])}, schedule=cron)
        return site_dict(site)


def edit_site(settings: Settings, actor: str, name: str, data: dict[str, Any]) -> dict[str, Any]:
    """Change the given fields of a site; the audit row holds the old and new values."""
    with change(settings, actor, "site.edit", name) as c:
        site = get_site(c.db, name)
        if not data:
            raise InputError("nothing to change: give at least one field")
        fields = _checked(c.db, data, partial=True)
        if site.retired_at is not None and fields:
            raise InputError("site %(name)r is retired; it cannot be changed", name=name)
        changed: dict[str, Any] = {}
        for key, value in fields.items():
            old = getattr(site, key)
            if old == value:
                continue
            changed[key] = {"old": old, "new": value}
            if key == "schedule":
                _schedule_change(c, name, value, old)
            else:
                setattr(site, key, value)
            if key == "category":
                _revalue(c, name, value)
        c.note(changed=changed)
        return {**site_dict(site), "changed": sorted(changed)}


def _schedule_change(c: Change, name: str, cron: str | None, old: str | None) -> None:
    """Set or remove a site's schedule as part of a site change, with its own audit row."""
    target = schedules.job_id("crawl", name)
    if cron:
        schedules.set_schedule(c.db, "crawl", name, cron)
        c.also("schedule.set", target, cron=cron, previous=old)
    else:
        schedules.remove_schedule(c.db, "crawl", name)
        c.also("schedule.remove", target, previous=old)


def remove_site(settings: Settings, actor: str, name: str) -> dict[str, Any]:
    """Delete a site without runs; retire a site with runs (no more crawls, schedule gone,
    archives untouched). Returns ``{"name", "outcome": "deleted" | "retired", "runs"}``."""
    with change(settings, actor, "site.remove", name) as c:
        site = get_site(c.db, name)
        runs = c.db.scalar(select(func.count(CrawlRun.id)).where(CrawlRun.site_id == site.id))
        running = c.db.scalar(select(func.count(CrawlRun.id)).where(
            CrawlRun.site_id == site.id, CrawlRun.status == "running"))
        if running:
            raise InputError("site %(name)r has a crawl running; wait for it or stop it "
                             "first", name=name)
        if runs and site.retired_at is not None:
            raise InputError("site %(name)r is retired already", name=name)
        if site.schedule:
            _schedule_change(c, name, None, site.schedule)
        if runs:
            site.retired_at = utcnow()
            outcome = "retired"
        else:
            c.db.delete(site)
            outcome = "deleted"
        c.note(outcome=outcome, runs=runs)
        return {"name": name, "outcome": outcome, "runs": runs}


def set_category(settings: Settings, actor: str, name: str, code: str | None) -> dict[str, Any]:
    with change(settings, actor, "site.category", name) as c:
        site = get_site(c.db, name)
        new = _category(c.db, code)
        c.note(category=new, previous=site.category)
        if new != site.category:
            _revalue(c, name, new)
        site.category = new
        return site_dict(site)


def _revalue(c: Change, name: str, code: str | None) -> None:
    """A site's new category re-values what it archived already (its own audit row)."""
    from bewaar.services.records import revalue

    revalue(c, "crawl", name, code)


def set_schedule(settings: Settings, actor: str, kind: str, target: str,
                 cron: str) -> dict[str, Any]:
    """Set the schedule of a site's crawl (kind "crawl") or a chat source's export ("chat")."""
    with change(settings, actor, "schedule.set", schedules.job_id(kind, target)) as c:
        if kind == "crawl":
            get_site(c.db, target, active=True)
        entry = schedules.set_schedule(c.db, kind, target, cron)
        c.note(cron=entry.cron, previous=entry.previous)
        return entry.to_dict()


def remove_schedule(settings: Settings, actor: str, kind: str, target: str) -> dict[str, Any]:
    with change(settings, actor, "schedule.remove", schedules.job_id(kind, target)) as c:
        old = schedules.remove_schedule(c.db, kind, target)
        c.note(previous=old)
        return {"kind": kind, "target": target, "removed": old}


def request_run(settings: Settings, actor: str, kind: str, target: str,
                start: Callable[[str, str], str]) -> dict[str, Any]:
    """Ask the scheduler to crawl a site (kind "crawl") or export a chat source now;
    ``start(kind, target)`` hands the job over and returns its id."""
    with change(settings, actor, f"{kind}.request", target) as c:
        if kind == "crawl":
            get_site(c.db, target, active=True)
        elif kind == "chat":
            from archive.models import ChatSource

            if c.db.scalar(select(ChatSource).where(ChatSource.name == target)) is None:
                raise NotFoundError("no chat source named %(name)r (see `bewaar chat list`)",
                                    name=target)
        else:
            raise InputError("unknown job kind %(kind)r", kind=kind)
        jid = start(kind, target)
        c.note(job=jid)
        return {"job_id": jid, "kind": kind, "target": target}
