"""The record life cycle, part 6: transfer to the e-Depot.

1. **export** (``transfer.export``): packages become one SIP (``archive.package.sip``) in a
   new folder, and a tar if asked. Each package must exist, be neither destroyed nor
   transferred nor valued V, and verify (bag, MDTO, seal, time-stamp): one that does not is
   refused with its findings (``ValidationError``, exit 1) and nothing is written.
2. **confirm** (``transfer.confirm``): the receiving archive confirmed the SIP; a records
   manager or archivist records it. Its packages become ``transferred`` (``Retention``), the
   SIP's "Overbrenging" is stored with who and when (one ``retention.transferred`` row per
   package), and a second confirmation is refused. The sealed packages are never changed: their
   history (:func:`history`) is the sealed MDTO's events followed by those recorded here.
"""

from __future__ import annotations

import secrets
import shutil
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from lxml import etree
from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.errors import Finding, NotFoundError, ValidationError, Word
from archive.models import Package, Retention, SipExport, SipExportPackage, utcnow
from archive.settings import Settings
from bewaar.services.audit import change
from bewaar.services.destruction import acting_user
from bewaar.services.sites import InputError

CONFIRMERS = ("records", "archivist", "admin")
MAX_TEXT = 500
_NS = "{https://www.nationaalarchief.nl/mdto}"


def _text(value: str | None, what: str) -> str | None:
    text = " ".join((value or "").split())
    if len(text) > MAX_TEXT:
        raise InputError("%(what)s is longer than %(max)s characters", field=what,
                         what=what, max=MAX_TEXT)
    return text or None


def _local_ca(settings: Settings) -> Path | None:
    """The trust anchor of this archive's own local seal, when it seals with one."""
    ca = settings.keys_dir / "ca.pem"
    return ca if settings.seal_cert is None and ca.is_file() else None


def _exportable(db: Session, package_id: str) -> Package:
    p = db.get(Package, package_id)
    if p is None:
        raise NotFoundError("no package %(id)r (see `bewaar package list`)", id=package_id)
    r = db.get(Retention, package_id)
    if r is not None and r.disposition == "destroyed":
        raise InputError("package %(id)s was destroyed: there is nothing to transfer",
                         id=package_id)
    if r is not None and r.disposition == "transferred":
        raise InputError("package %(id)s was transferred already", id=package_id)
    if r is not None and r.waardering == "V":
        raise InputError("package %(id)s is valued V (to be destroyed when its term ends): "
                         "only packages kept for good are transferred", id=package_id)
    if not p.path.startswith("s3://") and not Path(p.path).is_dir():
        raise InputError("package %(id)s is listed but its folder %(path)s is gone",
                         id=package_id, path=p.path)
    return p


def export_sip(settings: Settings, actor: str, package_ids: list[str], output: Path, *,
               tar: Path | None = None, title: str | None = None, parent: str | None = None,
               contact: str | None = None) -> dict[str, Any]:
    """Write a SIP of the packages to the new folder ``output`` (and ``tar``); see the module
    docstring. Returns the export as :func:`export_dict` gives it."""
    from archive.storage import in_use

    with in_use(settings):  # packages fetched from a bucket stay until they are copied
        return _export_sip(settings, actor, package_ids, output, tar=tar, title=title,
                           parent=parent, contact=contact)


def _export_sip(settings: Settings, actor: str, package_ids: list[str], output: Path, *,
                tar: Path | None = None, title: str | None = None, parent: str | None = None,
                contact: str | None = None) -> dict[str, Any]:
    from archive.package import verify_package
    from archive.package.organisation import require_organisation
    from archive.package.sip import SipSource, check_target, stage_sip

    ids = [str(i).strip() for i in package_ids]
    written: list[Path] = []
    try:
        with change(settings, actor, "transfer.export", None, packages=ids,
                    output=str(output), tar=str(tar) if tar else None) as c:
            db = c.db
            if not ids or not all(ids):
                raise InputError("name at least one package (see `bewaar retention`)")
            twice = sorted({i for i in ids if ids.count(i) > 1})
            if twice:
                raise InputError("package %(ids)s given twice", ids=", ".join(twice))
            title_text = _text(title, "title")
            parent_text = _text(parent, "parent")
            contact_text = _text(contact, "contact")
            check_target(output.absolute(), tar.absolute() if tar else None)
            depot = settings.packages_dir.resolve()
            for path in (output, tar):
                if path is not None and path.absolute().resolve().is_relative_to(depot):
                    raise InputError("%(path)s is inside the package store %(depot)s: "
                                     "sealed packages are never written to; give another "
                                     "folder", path=path, depot=depot)
            packages = [_exportable(db, i) for i in ids]
            organisation = require_organisation(settings)
            sources, findings, warnings = [], [], []
            from archive.package.stored import fetch_for_verify
            from archive.storage import check_storage

            check_storage(settings)
            for p in packages:  # in a bucket: a fresh copy of what the bucket holds
                folder = fetch_for_verify(settings, p.path)
                report = verify_package(folder, ca=_local_ca(settings))
                findings += [Finding(f"{p.id}/{f.path}", f.problem, f.expected, f.found)
                             for f in report.findings]
                warnings += [f"{p.id}: {w}" for w in report.warnings]
                sources.append(SipSource(p.id, folder, report.info.get("signer"),
                                         report.info.get("timestamp"), datetime.now(UTC)))
            for p in packages:
                valued = db.get(Retention, p.id)
                if valued is None or valued.waardering != "B":
                    warnings.append(f"{p.id}: valued N (nader te bepalen), not B: is it to "
                                    "be transferred?")
            if parent_text is None:
                warnings.append("no --parent: the SIP names no aggregation in the e-Depot for "
                                "its packages (the receiving archive gives it)")
            if findings:
                raise ValidationError("the seal of a package does not verify: a SIP of a "
                                      "damaged package must not leave; no SIP written",
                                      findings)
            created = datetime.now(UTC).replace(microsecond=0)
            sip_id = f"SIP-{created:%Y%m%dT%H%M%SZ}-{secrets.token_hex(3)}"
            c.target = f"sip:{sip_id}"
            name = title_text or (f"Overbrenging {organisation.name} {created.date()}: "
                                  f"{len(packages)} pakket(ten)")
            staged = stage_sip(sources, output, sip_id=sip_id, title=name,
                               organisation=organisation, created=created,
                               parent=parent_text, contact=contact_text, tar=tar)
            r = staged.result
            try:
                export = SipExport(id=sip_id, title=name, state="exported", path=str(r.path),
                                   tar_path=str(r.tar) if r.tar else None, parent=parent_text,
                                   objects=r.objects, files=r.files, bytes=r.bytes,
                                   sip_hash=r.sip_hash, created_by=actor, created_at=created)
                db.add(export)
                db.flush()
                for n, src in enumerate(sources):
                    db.add(SipExportPackage(sip_id=sip_id, package_id=src.package_id,
                                            position=n, folder=r.folders[src.package_id],
                                            validation=r.validations[src.package_id]))
                db.flush()
                staged.finish()
            except BaseException:
                staged.discard()
                raise
            written = [r.path] + ([r.tar] if r.tar else [])
            c.note(objects=r.objects, files=r.files, bytes=r.bytes, sip_hash=r.sip_hash,
                   formats=r.formats, by_extension_only=len(r.by_extension_only),
                   unidentified=len(r.unidentified))
            db.refresh(export)
            out = export_dict(export)
            out.update(formats=r.formats, by_extension_only=r.by_extension_only,
                       unidentified=r.unidentified, warnings=warnings)
            return out
    except BaseException:
        for path in written:  # renamed into place, then the record failed: take it back
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        raise


def export_dict(e: SipExport) -> dict[str, Any]:
    return {"id": e.id, "title": e.title, "state": e.state, "path": e.path, "tar": e.tar_path,
            "parent": e.parent, "objects": e.objects, "files": e.files, "bytes": e.bytes,
            "sip_hash": e.sip_hash, "created_by": e.created_by, "created_at": e.created_at,
            "confirmed_by": e.confirmed_by, "confirmed_at": e.confirmed_at,
            "packages": [i.package_id for i in e.items]}


def get_export(db: Session, sip_id: str) -> SipExport:
    e = db.get(SipExport, (sip_id or "").strip())
    if e is None:
        raise NotFoundError("no SIP export %(id)r (see `bewaar transfer list`)", id=sip_id)
    return e


def exports(db: Session) -> list[dict[str, Any]]:
    """Every SIP export, newest first."""
    return [export_dict(e) for e in
            db.scalars(select(SipExport).order_by(SipExport.created_at.desc(), SipExport.id))]


def confirm(settings: Settings, user: str, sip_id: str,
            via: str | None = None) -> dict[str, Any]:
    """The receiving archive confirmed the SIP: its packages are transferred."""
    with change(settings, user, "transfer.confirm", f"sip:{sip_id}", via=via) as c:
        db = c.db
        acting_user(db, user, CONFIRMERS, "confirm a transfer")
        e = get_export(db, sip_id)
        if e.state == "transferred":
            raise InputError("SIP %(id)s was confirmed already (by %(by)s on %(date)s): its "
                             "packages are transferred", id=e.id, by=e.confirmed_by,
                             date=e.confirmed_at.date().isoformat() if e.confirmed_at else "-")
        now = utcnow()
        for item in e.items:
            r = db.get(Retention, item.package_id)
            if r is not None and r.disposition is not None:
                raise InputError("package %(id)s is %(state)s already: SIP %(sip)s cannot be "
                                 "confirmed", id=item.package_id, state=Word(r.disposition),
                                 sip=e.id)
            if r is None:  # sealed before retention was recorded
                p = db.get(Package, item.package_id)
                start = p.created_at.date() if p is not None else date.today()
                r = Retention(package_id=item.package_id, waardering="N", trigger_date=start)
                db.add(r)
            r.disposition, r.disposition_at = "transferred", now
            c.also("retention.transferred", item.package_id, sip=e.id, event="Overbrenging")
        e.state, e.confirmed_by, e.confirmed_at = "transferred", user, now
        c.note(packages=[i.package_id for i in e.items])
        db.flush()
        return export_dict(e)


def _sealed_events(path: Path, package_id: str) -> list[dict[str, Any]]:
    doc = path / "bag" / "data" / f"{package_id}.mdto.xml"
    try:
        raw = doc.read_bytes()
        root = etree.fromstring(raw, etree.XMLParser(resolve_entities=False, no_network=True))
    except (OSError, etree.XMLSyntaxError):
        return []
    out = []
    for ev in root.iter(f"{_NS}event"):
        out.append({"type": ev.findtext(f"{_NS}eventType/{_NS}begripLabel"),
                    "time": ev.findtext(f"{_NS}eventTijd"),
                    "actor": ev.findtext(f"{_NS}eventVerantwoordelijkeActor/{_NS}verwijzingNaam"),
                    "result": ev.findtext(f"{_NS}eventResultaat"), "recorded": "package"})
    return out


def _iso(value: datetime) -> str:
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).strftime("%Y-%m-%dT%H:%M:%SZ")


def history(db: Session, package_id: str) -> list[dict[str, Any]]:
    """A package's MDTO events: those it was sealed with, then each SIP export's "Export" and
    "Validatie Handtekening" and, once confirmed, its "Overbrenging" (recorded here)."""
    p = db.get(Package, package_id)
    if p is None:
        raise NotFoundError("no package %(id)r (see `bewaar package list`)", id=package_id)
    events = _sealed_events(Path(p.path), p.id)
    items = db.scalars(select(SipExportPackage).where(SipExportPackage.package_id == p.id))
    for item in sorted(items, key=lambda i: i.export.created_at):
        e = item.export
        events.append({"type": "Export", "time": _iso(e.created_at), "actor": e.created_by,
                       "result": f"Geëxporteerd in SIP {e.id} ({e.title}).",
                       "recorded": "database"})
        events.append({"type": "Validatie Handtekening", "time": _iso(e.created_at),
                       "actor": e.created_by, "result": item.validation,
                       "recorded": "database"})
        if e.confirmed_at is not None:
            events.append({"type": "Overbrenging", "time": _iso(e.confirmed_at),
                           "actor": e.confirmed_by,
                           "result": f"Overgebracht naar de archiefbewaarplaats in SIP {e.id}; "
                                     f"ontvangst bevestigd, vastgelegd door {e.confirmed_by}.",
                           "recorded": "database"})
    return events
