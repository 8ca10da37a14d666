"""The digital archivist's suggestions (``archivist``): compute them for packages (``enrich``),
list them, and record a person's decision (``accept``, ``reject``), each an audited change.

Accepting a value that MDTO can carry (``language`` -> taal, ``keyword`` -> trefwoord,
``person`` and ``organisation`` -> betrokkene, ``summary`` -> omschrijving, ``category`` ->
informatiecategorie and its valuation) seals a new version of the package, chained to the
newest package of its source, with every value accepted for it so far; the sealed package
itself is never changed. Personal data (``pii.*``) and locations are recorded decisions only
(redaction candidates for a Woo export), never written into a package.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.errors import NotFoundError, Word
from archive.models import Package, Suggestion, utcnow
from archive.settings import Settings
from bewaar.services.audit import change
from bewaar.services.sites import InputError

if TYPE_CHECKING:
    from archivist.enrich import Analysis, Archivist

log = logging.getLogger(__name__)
STATES = ("proposed", "accepted", "rejected")
MDTO_FIELDS = {"language": "taal", "keyword": "trefwoord", "person": "betrokkene",
               "organisation": "betrokkene", "summary": "omschrijving",
               "category": "informatiecategorie"}
MAX_REASON = 2000


def cache_dir(settings: Settings) -> Path:
    return settings.archivist_cache or settings.home / "cache"


def enrich_enabled(settings: Settings) -> bool:
    """``enrich_after_archiving``, unset: on when any model is installed."""
    if settings.enrich_after_archiving is not None:
        return settings.enrich_after_archiving
    from archivist.models import any_installed

    return any_installed()


def _packages(db: Session, *, package: str | None, run: int | None, source: str | None,
              every: bool) -> list[Package]:
    chosen = [x for x in (package, run, source) if x is not None]
    if len(chosen) + int(every) != 1:
        raise InputError("name what to enrich: one of --package ID, --run ID, --source NAME "
                         "or --all")
    q = select(Package).order_by(Package.created_at, Package.id)
    if package is not None:
        p = db.get(Package, package)
        if p is None:
            raise NotFoundError("no package %(id)r (see `bewaar package list`)", id=package)
        return [p]
    if run is not None:
        rows = list(db.scalars(q.where(Package.run_id == run)))
        if not rows:
            raise NotFoundError("no package of run %(run)s (seal it first: `bewaar seal "
                                "%(run)s`)", run=run)
        return rows
    if source is not None:
        rows = list(db.scalars(q.where(Package.source_name == source)))
        if not rows:
            raise NotFoundError("no package of a site or chat source named %(name)r",
                                name=source)
        return rows
    return list(db.scalars(q))


def _accepted_examples(db: Session) -> list[tuple[str, str]]:
    """(text, code) of the category suggestions a person accepted (the classifier learns)."""
    out = []
    for s in db.scalars(select(Suggestion).where(Suggestion.field == "category",
                                                 Suggestion.state == "accepted")):
        sample = next((e.get("sample") for e in s.evidence or [] if isinstance(e, dict)
                       and e.get("sample")), None)
        if sample:
            out.append((str(sample), s.value))
    return out


def archivist_for(settings: Settings, db: Session) -> Archivist:
    from archive.package.selectielijst import all_categories
    from archivist.enrich import Archivist
    from archivist.entities import frog_log

    cats = {c.code: c.name for c in all_categories(settings)}
    return Archivist(cache_dir(settings), frog_log=frog_log(settings.home), categories=cats,
                     accepted=_accepted_examples(db))


def enrich(settings: Settings, actor: str, *, package: str | None = None,
           run: int | None = None, source: str | None = None, every: bool = False,
           progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Compute the suggestions of the packages named; one audit row ``archivist.enrich`` per
    package. A package's earlier proposals are replaced; decided values are kept and not
    proposed again. Returns ``{"packages": [...], "models": [...], "missing": [...]}``."""
    from archive.db import session_scope

    with session_scope(settings) as db:
        targets = [(p.id, p.path) for p in _packages(db, package=package, run=run,
                                                     source=source, every=every)]
        archivist = archivist_for(settings, db)
    done: list[dict[str, Any]] = []
    if not targets:
        return {"packages": [], "models": [], "missing": [], "load_seconds": 0.0}
    with archivist:
        for package_id, path in targets:
            if progress:
                progress(package_id)
            from archive.storage import local_folder  # kept in a bucket: via the cache

            done.append(_enrich_one(settings, actor, archivist, package_id,
                                    local_folder(settings, path)))
    out: dict[str, Any] = {"packages": done, "models": archivist.used,
                           "missing": archivist.missing, "load_seconds":
                           round(archivist.load_seconds, 1)}
    if archivist.category_note:
        out["category"] = archivist.category_note
    return out


def _enrich_one(settings: Settings, actor: str, archivist: Archivist, package_id: str,
                path: Path) -> dict[str, Any]:
    from archivist.text import package_text

    with change(settings, actor, "archivist.enrich", package_id) as c:
        ptext = package_text(path)
        analysis = archivist.analyse(ptext)
        stored = _store(c.db, package_id, analysis)
        c.note(suggestions=stored, segments=analysis.segments, chars=analysis.chars,
               models=analysis.models, missing=[m.split(":")[0] for m in analysis.missing],
               notes=len(analysis.notes))
        return {"package_id": package_id, "suggestions": stored, "segments": analysis.segments,
                "chars": analysis.chars, "notes": analysis.notes}


def _store(db: Session, package_id: str, analysis: Analysis) -> int:
    """Store a package's proposals: a value proposed before keeps its row (and its id, which
    a person may have noted), with the new confidence and evidence; a proposal no longer made
    is removed; a decided value is not proposed again. Ids are never reused."""
    rows = list(db.scalars(select(Suggestion).where(Suggestion.package_id == package_id)))
    decided = {(r.field, r.value.casefold()) for r in rows if r.state != "proposed"}
    before = {(r.field, r.value.casefold()): r for r in rows if r.state == "proposed"}
    n = 0
    for p in analysis.proposals:
        key = (p.field, p.value.casefold())
        if key in decided:
            continue
        evidence = list(p.evidence)
        if p.field == "category":
            evidence = [{**e, "sample": analysis.sample} for e in evidence] or \
                [{"sample": analysis.sample}]
        row = before.pop(key, None)
        if row is None:
            row = Suggestion(package_id=package_id, field=p.field, state="proposed")
            db.add(row)
        row.value, row.confidence, row.evidence = p.value, p.confidence, evidence
        row.occurrences, row.model = p.occurrences or len(p.evidence), p.model
        n += 1
    for gone in before.values():
        db.delete(gone)
    return n


# reading ----------------------------------------------------------------------------------
def suggestion_dict(s: Suggestion) -> dict[str, Any]:
    evidence = [{k: v for k, v in e.items() if k != "sample"} for e in s.evidence or []
                if isinstance(e, dict)]
    return {"id": s.id, "package_id": s.package_id, "field": s.field, "value": s.value,
            "confidence": s.confidence, "evidence": evidence, "occurrences": s.occurrences,
            "model": s.model, "state": s.state, "decided_by": s.decided_by,
            "decided_at": s.decided_at, "reason": s.reason,
            "applied_package": s.applied_package}


def suggestions(db: Session, *, package: str | None = None, field: str | None = None,
                state: str | None = None) -> list[dict[str, Any]]:
    """Suggestions, by package, field and confidence (highest first). ``field`` ``pii``
    matches every ``pii.*`` field. Reads only."""
    if state is not None and state not in STATES:
        raise InputError("state is one of %(known)s, not %(state)r", field="state",
                         known=", ".join(STATES), state=state)
    q = select(Suggestion).order_by(Suggestion.package_id, Suggestion.field,
                                    Suggestion.confidence.desc(), Suggestion.id)
    if package:
        if db.get(Package, package) is None:
            raise NotFoundError("no package %(id)r (see `bewaar package list`)", id=package)
        q = q.where(Suggestion.package_id == package)
    if field:
        q = q.where(Suggestion.field.startswith(field + ".") | (Suggestion.field == field))
    if state:
        q = q.where(Suggestion.state == state)
    return [suggestion_dict(s) for s in db.scalars(q)]


# deciding ---------------------------------------------------------------------------------
def _get(db: Session, suggestion_id: int) -> Suggestion:
    s = db.get(Suggestion, suggestion_id)
    if s is None:
        raise NotFoundError("no suggestion %(id)s (see `bewaar suggestions`)",
                            id=suggestion_id)
    return s


def reject(settings: Settings, actor: str, suggestion_id: int, reason: str) -> dict[str, Any]:
    """Reject a suggestion, with the reason (it is not proposed again for its package)."""
    reason = " ".join((reason or "").split())
    with change(settings, actor, "suggestion.reject", str(suggestion_id)) as c:
        if not reason:
            raise InputError("give the reason for rejecting it", field="reason")
        if len(reason) > MAX_REASON:
            raise InputError("the reason is longer than %(max)s characters",
                             field="reason", max=MAX_REASON)
        s = _get(c.db, suggestion_id)
        if s.state != "proposed":
            raise InputError("suggestion %(id)s was %(state)s already (by %(by)s)",
                             id=suggestion_id, state=Word(s.state), by=s.decided_by)
        s.state, s.decided_by, s.decided_at, s.reason = "rejected", actor, utcnow(), reason
        c.note(package=s.package_id, field=s.field, reason=reason)
        c.db.flush()
        return suggestion_dict(s)


def accept(settings: Settings, actor: str, suggestion_id: int, *,
           apply: bool = True) -> dict[str, Any]:
    """Accept a suggestion. A value MDTO carries is then sealed into a new version of the
    package (``apply``; without it only the decision is recorded, for a later accept)."""
    from archive.db import session_scope

    with change(settings, actor, "suggestion.accept", str(suggestion_id)) as c:
        with session_scope(settings) as db:
            s = _get(db, suggestion_id)
            if s.state != "proposed":
                raise InputError("suggestion %(id)s was %(state)s already (by %(by)s)",
                                 id=suggestion_id, state=Word(s.state), by=s.decided_by)
            package_id, fld = s.package_id, s.field
            if fld == "category":
                from archive.package.selectielijst import find_category

                find_category(settings, s.value)  # an unknown code: exit 2, nothing sealed
        c.note(package=package_id, field=fld)
        new_version: str | None = None
        if apply and fld in MDTO_FIELDS:
            new_version = _new_version(settings, package_id, also=suggestion_id)
            c.note(new_package=new_version, mdto=MDTO_FIELDS[fld])
        s = _get(c.db, suggestion_id)
        s.state, s.decided_by, s.decided_at = "accepted", actor, utcnow()
        if new_version:
            for other in c.db.scalars(select(Suggestion).where(
                    Suggestion.package_id == package_id, Suggestion.state == "accepted")):
                other.applied_package = new_version
            s.applied_package = new_version
        c.db.flush()
        out = suggestion_dict(s)
        out["new_package"] = new_version
        out["applied"] = new_version is not None
        if fld not in MDTO_FIELDS:
            out["note"] = ("recorded as a redaction candidate; personal data is never written "
                           "into a package" if fld.startswith("pii.")
                           else "recorded; MDTO here carries no such field")
        return out


def accept_many(settings: Settings, actor: str, suggestion_ids: list[int]) -> list[str]:
    """Accept several suggestions (a reviewer's bulk accept). Per package one new version is
    sealed, at its last suggestion that MDTO carries, with all of them: the others are
    recorded first. Each accept is its own audited change. Returns the new package versions."""
    from archive.db import session_scope

    by_package: dict[str, list[tuple[int, str]]] = {}
    with session_scope(settings) as db:
        for sid in suggestion_ids:
            s = _get(db, sid)
            by_package.setdefault(s.package_id, []).append((sid, s.field))
    made = []
    for items in by_package.values():
        carried = [sid for sid, fld in items if fld in MDTO_FIELDS]
        last = carried[-1] if carried else None
        for sid, _fld in items:
            out = accept(settings, actor, sid, apply=sid == last)
            if out.get("new_package"):
                made.append(str(out["new_package"]))
    return made


def _new_version(settings: Settings, package_id: str, *, also: int) -> str:
    """Seal a new version of ``package_id``: its files, linked; its MDTO with every value
    accepted for it (and suggestion ``also``)."""
    from archive.db import session_scope
    from archive.package import bag, mdto
    from archive.package.build import PackageInput, build_package

    with session_scope(settings) as db:
        old = db.get(Package, package_id)
        if old is None:
            raise NotFoundError("no package %(id)r", id=package_id)
        chosen = list(db.scalars(select(Suggestion).where(
            Suggestion.package_id == package_id,
            (Suggestion.state == "accepted") | (Suggestion.id == also))
            .order_by(Suggestion.confidence.desc(), Suggestion.id)))
        kind, name, title, run_id = old.source_kind, old.source_name, old.title, old.run_id
        category = old.category
        from archive.storage import local_folder  # kept in a bucket: via the cache

        root = local_folder(settings, old.path)
    values: dict[str, list[str]] = {}
    for s in chosen:
        values.setdefault(s.field, [])
        if s.value not in values[s.field]:
            values[s.field].append(s.value)
    info_path = root / "bag" / "bag-info.txt"
    try:
        info = bag.parse_bag_info(info_path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError("cannot read %(path)s: %(reason)s", path=info_path,
                         reason=str(exc)) from None
    description = _first(values, "summary") or info.get("External-Description")
    period = _period(info.get("Bewaar-Period"))
    data = root / "bag" / "data"
    files = [PackageInput(str(p.relative_to(data)), p, link=True)
             for p in sorted(data.rglob("*"))
             if p.is_file() and not p.name.endswith(".mdto.xml")]
    described = mdto.Described(
        keywords=tuple(values.get("keyword", [])),
        languages=tuple(values.get("language", [])),
        involved=tuple(values.get("person", []) + values.get("organisation", [])))
    result = build_package(
        settings, source_kind=kind, source_name=name, title=title,
        category=_first(values, "category") or category, files=files,
        bag_info={"Bewaar-Version-Of": package_id}, description=description, period=period,
        run_id=run_id, described=described)
    return result.id


def _first(values: dict[str, list[str]], fld: str) -> str | None:
    return values[fld][0] if values.get(fld) else None


def _period(value: str | None) -> tuple[datetime, datetime] | None:
    if not value or "/" not in value:
        return None
    try:
        a, b = value.split("/", 1)
        return (datetime.strptime(a, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC),
                datetime.strptime(b, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC))
    except ValueError:
        return None


def after_archiving(settings: Settings, actor: str, package_id: str) -> dict[str, Any]:
    """The after-step of a seal (``enrich_after_archiving``): never fails the archiving; what
    went wrong is in the result (and in the enrich audit row)."""
    if not enrich_enabled(settings):
        return {"ok": True, "skipped": "enrich_after_archiving is off"}
    try:
        out = enrich(settings, actor, package=package_id)
    except Exception as exc:  # noqa: BLE001 - recorded, never undoes the archiving
        from bewaar.services.audit import reason_of

        log.info("enrich %s failed: %s", package_id, reason_of(exc))
        return {"ok": False, "error": reason_of(exc)}
    first = out["packages"][0] if out["packages"] else {}
    return {"ok": True, "suggestions": first.get("suggestions", 0), "models": out["models"],
            "missing": out["missing"]}
