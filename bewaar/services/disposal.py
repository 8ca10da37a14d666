"""The record life cycle, parts 4 and 5: executing an approved destruction list, and the
verklaring van vernietiging.

``execute`` is taken by an **archivist** (the archiefbeheerder answers for the destruction
being lawful; she, not a records manager, holds the last key: the records managers proposed
and reviewed the list). It runs in three kinds of audited step, so that a crash (kill -9)
leaves every item either whole or destroyed, and running ``execute`` again finishes the list:

1. ``destroy.execute``: the list must be approved and its ``executable_from`` reached (or be
   ``executing`` from an earlier, interrupted run); it becomes ``executing``.
2. ``destroy.item``, one per package, in package-id order. A package a hold covers now is
   ``skipped`` (never destroyed), as is one whose crawl run another kept package shares. Else
   the item is marked ``destroying`` and committed *before* anything is deleted; then its
   index lines leave the replay collections, its WARC files (local or object storage), CDXJ
   indexes, run folder and package folder are deleted (each deletion idempotent: what is gone
   already is skipped); then, in one transaction with the step's audit row, its search
   documents and content rows (WARC files, captures, skipped URLs, dedup digests, collection
   and QA rows) are deleted,
   its ``Tombstone`` is written, its retention becomes ``destroyed`` and the item
   ``destroyed``. An item found ``destroying`` is finished the same way (what it described is
   read from the rows, which are only deleted in that last transaction).
3. ``destroy.verklaring``: the verklaring is sealed as a package (waardering B,
   ``archive.package.verklaring``): PDF/A, a JSON list, and an MDTO event ``Vernietigen`` per
   destroyed package; the list becomes ``executed``. A package already made for the list by
   an interrupted run is taken instead of a second one.

Dedup: the digest rows of a destroyed run are deleted, so a later crawl of the site writes a
full response for the same payload (``crawler.ledger.known_digests`` also leaves out digests of
destroyed runs).
"""

from __future__ import annotations

import os
import shutil
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from archive.errors import BewaarError, Word
from archive.models import (
    Capture,
    ChatExport,
    CollectionRun,
    CrawlRun,
    DestructionItem,
    DestructionList,
    Package,
    PayloadDigest,
    QaCheck,
    QaPage,
    Retention,
    SelectielijstCategory,
    SkippedUrl,
    Tombstone,
    WarcFile,
    utcnow,
)
from archive.package.chain import TOMBSTONE_SUFFIX
from archive.settings import Settings
from bewaar.services.audit import change
from bewaar.services.destruction import acting_user, get_list
from bewaar.services.records import held, today
from bewaar.services.sites import InputError

EXECUTORS = ("archivist",)


def _aware(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


# Step 1 -----------------------------------------------------------------------------------
def _start(settings: Settings, user: str, list_id: Any, via: str | None) -> int:
    with change(settings, user, "destroy.execute", f"destruction:{list_id}", via=via) as c:
        db = c.db
        acting_user(db, user, EXECUTORS, "execute a destruction list")
        dl = get_list(db, list_id)
        c.target = f"destruction:{dl.id}"
        _no_crawl_running(db, dl)
        if dl.state == "executing":
            c.note(resumed=True, started_by=dl.executed_by)
            return dl.id
        if dl.state != "approved":
            by = {"executed": dl.executed_by, "cancelled": dl.cancelled_by}.get(dl.state)
            if by:
                raise InputError("destruction list %(id)s is %(state)s (by %(by)s): only an "
                                 "approved list can be executed; nothing destroyed",
                                 field="list", id=dl.id, state=Word(dl.state), by=by)
            raise InputError("destruction list %(id)s is %(state)s: only an approved list "
                             "can be executed; nothing destroyed", field="list", id=dl.id,
                             state=Word(dl.state))
        day = today()
        if dl.executable_from is None or dl.executable_from > day:
            raise InputError(
                "destruction list %(id)s is in its waiting period: it may be executed from "
                "%(date)s (today is %(today)s); it can still be cancelled. Nothing destroyed",
                field="list", id=dl.id, today=day.isoformat(),
                date=dl.executable_from.isoformat() if dl.executable_from else "-")
        dl.state, dl.executed_by, dl.executed_at = "executing", user, utcnow()
        c.note(items=len(dl.items))
        return dl.id


def _no_crawl_running(db: Session, dl: DestructionList) -> None:
    """A crawl running now holds the dedup digests it read when it started: refuse until it
    has finished (else it could write revisits against payloads that are destroyed)."""
    sites = select(CrawlRun.site_id).join(Package, Package.run_id == CrawlRun.id).where(
        Package.id.in_([it.package_id for it in dl.items if it.state != "destroyed"]))
    for run in db.scalars(select(CrawlRun).where(CrawlRun.status == "running",
                                                 CrawlRun.site_id.in_(sites))):
        if run.pid and _alive(run.pid):
            raise InputError("a crawl of site %(name)r is running (run %(run)s): execute the "
                             "list when it has finished; nothing destroyed", field="list",
                             name=run.site.name, run=run.id)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True


# Step 2 -----------------------------------------------------------------------------------
def _period(settings: Settings, p: Package, run: CrawlRun | None
            ) -> tuple[datetime | None, datetime | None]:
    if run is not None:
        return _aware(run.started_at), _aware(run.finished_at or run.started_at)
    from archive.errors import StorageError
    from archive.package import bag
    from archive.storage import local_copy

    try:
        info = bag.parse_bag_info(local_copy(settings, f"{p.path}/bag/bag-info.txt")
                                  .read_text("utf-8"))
        a, _, b = info.get("Bewaar-Period", "").partition("/")
        return (datetime.fromisoformat(a.replace("Z", "+00:00")),
                datetime.fromisoformat(b.replace("Z", "+00:00")))
    except (OSError, UnicodeDecodeError, ValueError, StorageError):
        return None, None


def _blocker(db: Session, p: Package, list_id: int, day: date) -> str | None:
    """Why the package may not be destroyed now (None: it may)."""
    if held(db, p.id, day):
        return "een bewaarplicht (hold) rust op het pakket"
    if p.run_id is not None:
        for other in db.scalars(select(Package).where(Package.run_id == p.run_id,
                                                      Package.id != p.id)):
            r = db.get(Retention, other.id)
            if r is not None and r.disposition == "destroyed":
                continue
            on_list = db.get(DestructionItem, (list_id, other.id))
            if on_list is None or held(db, other.id, day):
                return (f"pakket {other.id} van dezelfde crawl ({p.run_id}) wordt bewaard en "
                        "deelt de WARC-bestanden")
    return None


def _delete_stored(settings: Settings, path_or_url: str, *, folder: bool = False) -> None:
    """Delete a file (``folder``: a package folder) from local disk or the bucket, and its
    cached copy; gone already is fine."""
    from archive.storage import delete_location

    if "://" in path_or_url and not path_or_url.startswith(("file://", "s3://")):
        raise BewaarError("cannot delete %(path)s: unknown storage", path=path_or_url)
    delete_location(settings, path_or_url, folder=folder)


def tombstone_file(settings: Settings, package_id: str) -> Path:
    """The small file left in the packages folder where a destroyed package was: verifying a
    later package of the same source tells a destroyed predecessor from a missing one."""
    return settings.packages_dir / f"{package_id}{TOMBSTONE_SUFFIX}"


def _destroy_item(settings: Settings, user: str, list_id: int, package_id: str,
                  via: str | None) -> dict[str, Any]:
    from replay.collections import remove_from_collection

    with change(settings, user, "destroy.item", f"package:{package_id}", via=via,
                list=list_id) as c:
        db = c.db
        dl = get_list(db, list_id)
        item = db.get(DestructionItem, (list_id, package_id))
        p = db.get(Package, package_id)
        assert item is not None and p is not None  # foreign keys
        if item.state in ("destroyed", "skipped"):
            return {"package": package_id, "state": item.state}
        day = today()
        resumed = item.state == "destroying"
        why = None if resumed else _blocker(db, p, list_id, day)
        if why is not None:
            item.state = "skipped"
            c.note(skipped=why)
            return {"package": package_id, "state": "skipped", "reason": why}
        run = db.get(CrawlRun, p.run_id) if p.run_id is not None else None
        start, end = _period(settings, p, run)
        warcs = list(db.scalars(select(WarcFile).where(WarcFile.run_id == p.run_id)
                                .order_by(WarcFile.id))) if run else []
        collections = sorted(set(db.scalars(select(CollectionRun.collection)
                                            .where(CollectionRun.run_id == p.run_id)))) \
            if run else []
        if run is not None and run.site.name not in collections:
            collections.append(run.site.name)  # links made before the row, or a lost row
        qa_paths = [q for q in db.scalars(select(QaCheck.report_path)
                                          .where(QaCheck.run_id == p.run_id)) if q] if run else []
        # Mark it, committed before anything is deleted (a crash leaves it 'destroying').
        item.state = "destroying"
        db.commit()

        deleted: list[dict[str, Any]] = []
        names = {w.filename for w in warcs}
        lines = 0
        for name in collections:
            lines += remove_from_collection(settings, name, names)
        if collections:
            deleted.append({"what": "collection", "name": ", ".join(collections),
                            "index_lines": lines})
        for w in warcs:
            _delete_stored(settings, w.path)
            deleted.append({"what": "warc", "name": w.filename, "size": w.size,
                            "sha256": w.sha256})
            if w.cdxj_path:
                _delete_stored(settings, w.cdxj_path)
                deleted.append({"what": "cdxj", "name": Path(w.cdxj_path).name,
                                "sha256": w.cdxj_sha256})
        for q in qa_paths:
            Path(q).unlink(missing_ok=True)
        if run is not None:
            shutil.rmtree(settings.runs_dir / str(run.id), ignore_errors=True)
            deleted.append({"what": "run", "name": f"runs/{run.id}"})
        _delete_stored(settings, p.path, folder=True)
        deleted.append({"what": "package", "name": p.id, "files": p.files, "size": p.bytes,
                        "tagmanifest_sha512": p.tagmanifest_sha512})
        if _still_there(settings, p.path):
            raise BewaarError("cannot delete %(path)s; run `bewaar destroy execute` again",
                              path=p.path)

        # The rows, the tombstone and the audit row: one transaction.
        found = _forget_in_search(db, p.id)
        if found is not None:
            deleted.append({"what": "search", "name": "search index", "documents": found})
        revisits_elsewhere = 0
        if run is not None:
            # revisits in kept runs of the site (not on this list) against its payloads:
            # reported, as they will not replay
            digests = select(Capture.payload_digest).where(
                Capture.run_id == run.id, Capture.record_type == "response")
            listed = select(Package.run_id).join(
                DestructionItem, DestructionItem.package_id == Package.id).where(
                DestructionItem.list_id == list_id, Package.run_id.is_not(None))
            revisits_elsewhere = db.scalar(
                select(func.count()).select_from(Capture).where(
                    Capture.run_id != run.id, Capture.record_type == "revisit",
                    Capture.run_id.not_in(listed),
                    Capture.payload_digest.in_(digests),
                    Capture.run_id.in_(select(CrawlRun.id).where(
                        CrawlRun.site_id == run.site_id)))) or 0
            checks = select(QaCheck.id).where(QaCheck.run_id == run.id)
            db.execute(delete(QaPage).where(QaPage.check_id.in_(checks)))
            db.execute(delete(QaCheck).where(QaCheck.run_id == run.id))
            for model in (Capture, SkippedUrl, PayloadDigest, CollectionRun, WarcFile):
                db.execute(delete(model).where(model.run_id == run.id))
        for export in db.scalars(select(ChatExport).where(ChatExport.package_id == p.id)):
            export.status = "destroyed"
        r = db.get(Retention, p.id)
        now = utcnow()
        cat = db.get(SelectielijstCategory, item.category) if item.category else None
        db.add(Tombstone(
            package_id=p.id, list_id=list_id, source_kind=p.source_kind,
            source_name=p.source_name, run_id=p.run_id, title=p.title,
            category=item.category, waardering=r.waardering if r else None,
            end_date=item.end_date, period_start=start, period_end=end, files=p.files,
            bytes=sum(w.size for w in warcs) + p.bytes,
            tagmanifest_sha512=p.tagmanifest_sha512, deleted=deleted,
            proposed_by=dl.proposed_by, reviewed_by=dl.reviewed_by,
            approved_by=dl.approved_by, executed_by=user, destroyed_at=now))
        if r is not None:
            r.disposition, r.disposition_at = "destroyed", now
        item.state = "destroyed"
        _write_tombstone_file(settings, p, list_id, now, cat.name if cat else None)
        c.note(resumed=resumed, deleted=deleted, revisits_elsewhere=revisits_elsewhere)
        out: dict[str, Any] = {"package": p.id, "state": "destroyed", "source_kind": p.source_kind,
               "source": p.source_name, "category": item.category,
               "tagmanifest_sha512": p.tagmanifest_sha512, "deleted": deleted}
        if revisits_elsewhere:
            out["revisits_elsewhere"] = revisits_elsewhere
        return out


def _forget_in_search(db: Session, package_id: str) -> int:
    """Take the package's documents out of the search index; how many there were."""
    from search import index as search_index

    return search_index.remove(db, [package_id])


def _write_tombstone_file(settings: Settings, p: Package, list_id: int, when: datetime,
                          category_name: str | None) -> None:
    import json

    from archive.files import write_atomic

    body = {"package": p.id, "destroyed": when.isoformat(), "destruction_list": list_id,
            "source": f"{p.source_kind}:{p.source_name}", "category": p.category,
            "category_name": category_name, "tagmanifest_sha512": p.tagmanifest_sha512}
    write_atomic(tombstone_file(settings, p.id),
                 (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode())
    if p.path.startswith("s3://"):  # beside where the package was in the bucket, too
        from archive.storage import store_file

        local = tombstone_file(settings, p.id)
        copy = local.with_name(f".{local.name}.upload")
        shutil.copyfile(local, copy)
        store_file(settings, copy, f"packages/{p.id}{TOMBSTONE_SUFFIX}")


def _still_there(settings: Settings, location: str) -> bool:
    """Whether anything of a deleted package folder is left (on disk or in the bucket)."""
    if not location.startswith("s3://"):
        return Path(location).exists()
    from archive.storage import bucket

    store = bucket(settings)
    key = store.key_of(location) if store is not None else None
    return store is not None and key is not None and any(True for _ in store.keys(key + "/"))


# Step 3 -----------------------------------------------------------------------------------
def _facts(db: Session, settings: Settings, dl: DestructionList) -> tuple[Any, list[Any]]:
    from archive.package.organisation import require_organisation
    from archive.package.verklaring import Decision, DestroyedItem

    stones = list(db.scalars(select(Tombstone).where(Tombstone.list_id == dl.id)
                             .order_by(Tombstone.package_id)))
    cats = {c.code: c for c in db.scalars(select(SelectielijstCategory))}
    items = [DestroyedItem(
        package_id=t.package_id, source_kind=t.source_kind, source_name=t.source_name,
        title=t.title, category=t.category,
        category_name=cats[t.category].name if t.category in cats else None,
        selectielijst=cats[t.category].list_name if t.category in cats else None,
        end_date=t.end_date, period_start=_aware(t.period_start),
        period_end=_aware(t.period_end), files=t.files, bytes=t.bytes,
        tagmanifest_sha512=t.tagmanifest_sha512, destroyed_at=_aware(t.destroyed_at) or utcnow(),
    ) for t in stones]
    lists: dict[str, str] = {}
    for it in items:
        cat = cats.get(it.category or "")
        if cat is not None:
            lists[cat.list_name] = (_aware(cat.loaded_at) or utcnow()).date().isoformat()
    skipped = [(it.package_id, "niet vernietigd: een bewaarplicht (hold) of een bewaard "
                "pakket van dezelfde crawl") for it in dl.items if it.state == "skipped"]
    decision = Decision(
        list_id=dl.id, as_of=dl.as_of, proposed_by=dl.proposed_by,
        proposed_at=_aware(dl.proposed_at) or utcnow(), reviewed_by=dl.reviewed_by,
        reviewed_at=_aware(dl.reviewed_at), approved_by=dl.approved_by,
        approved_at=_aware(dl.approved_at), executed_by=dl.executed_by or "",
        executed_at=_aware(dl.executed_at) or utcnow(),
        organisation=require_organisation(settings).name,
        selectielijsten=sorted(lists.items()), skipped=skipped)
    return decision, items


def _verklaring(settings: Settings, user: str, list_id: int, via: str | None,
                reasons: dict[str, str]) -> str | None:
    from archive.package import PackageInput, build_package
    from archive.package import verklaring as v
    from archive.pdfa import render

    with change(settings, user, "destroy.verklaring", f"destruction:{list_id}", via=via) as c:
        db = c.db
        dl = get_list(db, list_id)
        if dl.state == "executed":
            return dl.verklaring_id
        decision, items = _facts(db, settings, dl)
        if reasons:
            decision = replace(decision, skipped=[(pid, reasons.get(pid, why))
                                                  for pid, why in decision.skipped])
        package_id = None
        if items:
            package_id = db.scalar(select(Package.id).where(
                Package.source_kind == "records", Package.source_name == v.SOURCE_NAME,
                Package.title == v.title(list_id)))
            if package_id is None:  # not made by an interrupted run: make it
                result = build_package(
                    settings, source_kind="records", source_name=v.SOURCE_NAME,
                    title=v.title(list_id), category=None, valuation=v.VALUATION,
                    description=(f"Verklaring van vernietiging van {len(items)} "
                                 f"archiefpakket(ten) volgens vernietigingslijst {list_id}."),
                    files=[PackageInput("verklaring-van-vernietiging.pdf",
                                        render(v.document(decision, items)),
                                        "application/pdf"),
                           PackageInput("vernietigde-pakketten.json",
                                        v.listing_json(decision, items), "application/json")],
                    events=v.events(decision, items),
                    bag_info={"Bewaar-Destruction-List": str(list_id)},
                )
                package_id = result.id
        dl.state, dl.verklaring_id, dl.executed_at = "executed", package_id, utcnow()
        c.note(verklaring=package_id, destroyed=len(items), skipped=len(decision.skipped))
        return package_id


# The service ------------------------------------------------------------------------------
def execute(settings: Settings, user: str, list_id: Any,
            via: str | None = None) -> dict[str, Any]:
    """Execute an approved list whose waiting period is over (see the module docstring):
    destroy each package not held, write the tombstones and seal the verklaring. Running it
    again after an interruption finishes the list."""
    from archive.storage import check_storage

    check_storage(settings)  # a bucket that cannot be used: said before anything is marked
    number = _start(settings, user, list_id, via)
    from archive.db import session_scope

    with session_scope(settings) as db:
        todo = [it.package_id for it in get_list(db, number).items]
    destroyed: list[dict[str, Any]] = []
    skipped: list[dict[str, Any]] = []
    for pid in todo:
        out = _destroy_item(settings, user, number, pid, via)
        (skipped if out["state"] == "skipped" else destroyed).append(out)
    reasons = {o["package"]: o["reason"] for o in skipped if "reason" in o}
    verklaring = _verklaring(settings, user, number, via, reasons)
    with session_scope(settings) as db:
        dl = get_list(db, number)
        stones = {t.package_id: t for t in db.scalars(
            select(Tombstone).where(Tombstone.list_id == number))}
        return {
            "list": number, "state": dl.state, "executed_by": dl.executed_by,
            "destroyed": [{"package": pid, "source_kind": t.source_kind,
                           "source": t.source_name, "category": t.category,
                           "tagmanifest_sha512": t.tagmanifest_sha512, "bytes": t.bytes,
                           "destroyed_at": t.destroyed_at,
                           **{k: v for o in destroyed if o["package"] == pid
                              for k, v in o.items() if k == "revisits_elsewhere"}}
                          for pid, t in sorted(stones.items())],
            "skipped": [{"package": o["package"], "reason": o.get("reason", "held")}
                        for o in skipped],
            "verklaring": verklaring,
        }


def tombstone(db: Session, package_id: str) -> dict[str, Any] | None:
    """What remains of a destroyed package (None when it is not destroyed)."""
    t = db.get(Tombstone, package_id)
    if t is None:
        return None
    return {"package": t.package_id, "list": t.list_id, "source_kind": t.source_kind,
            "source": t.source_name, "category": t.category, "destroyed_at": t.destroyed_at,
            "executed_by": t.executed_by, "approved_by": t.approved_by,
            "tagmanifest_sha512": t.tagmanifest_sha512, "deleted": t.deleted}


def refuse_destroyed(db: Session, package_id: str) -> None:
    """A destroyed package is answered as destroyed (``NotFoundError`` saying when and by
    which list), never as a missing or damaged one."""
    from archive.errors import NotFoundError

    t = db.get(Tombstone, package_id)
    if t is not None:
        raise NotFoundError(
            "package %(id)s is vernietigd (destroyed) on %(date)s by destruction list "
            "%(list)s: its content no longer exists (see `bewaar destroy show %(list)s`)",
            id=package_id, list=t.list_id,
            date=_aware(t.destroyed_at).date().isoformat())  # type: ignore[union-attr]
