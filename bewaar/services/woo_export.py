"""The export of a Woo request (``woo.export``): refused while a document is undecided,
``openbaar`` but with text redacted, or ``deels`` with nothing redacted (each listed); the files
(woo/export.py) are sealed as one package (source ``records``/``woo``, waardering B: the
Woo decision and what it made public are kept for good) and written to DIR, which must be new
or empty: first into a new folder beside it, renamed when the seal is done. Nothing is written
when anything fails. The request and its documents: bewaar/services/woo.py.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from archive.models import WooRedaction, WooRequest, utcnow
from archive.package.selectielijst import Category
from archive.settings import Settings
from bewaar.services.audit import change
from bewaar.services.destruction import acting_user
from bewaar.services.sites import InputError
from bewaar.services.woo import (
    DECISIONS,
    ROLES,
    aware,
    get_request,
    ident,
    request_documents,
)

SOURCE_NAME = "woo"  # the exports form one chain of packages
VALUATION = Category(
    code="WOO", name="Woo-verzoeken en -besluiten", waardering="B", bewaartermijn=None,
    trigger="Besluit op het Woo-verzoek", list_name="Wet open overheid, artikel 3.3")


def _export_input(settings: Settings, db: Session, req: WooRequest) -> Any:
    from archive.package.organisation import require_organisation
    from woo.export import ExportDoc, ExportRequest, redacted
    from woo.redact import Cut

    org = require_organisation(settings)
    reds = list(db.scalars(select(WooRedaction).where(WooRedaction.request_id == req.id)
                           .order_by(WooRedaction.id)))
    er = ExportRequest(req.id, req.title, org.name, org.identifier,
                       [(r.phrase, r.ground) for r in reds if r.phrase])
    docs = request_documents(db, req)
    undecided = [d.number for d in docs if d.decision is None]
    if undecided:
        raise InputError("request %(id)s has undecided documents: %(numbers)s (bewaar woo "
                         "decide %(id)s N --openbaar|--deels|--niet)", field="documents",
                         id=req.id, numbers=", ".join(map(str, undecided)))
    out, wrong_open, bare_deels = [], [], []
    for d in docs:
        cuts = [Cut(r.start or 0, r.end or 0, r.ground) for r in reds
                if r.document_id == d.id]
        ed = ExportDoc(ident(req.id, d.number), d.kind, d.source, d.title, d.text,
                       aware(d.at), d.decision or "", list(d.grounds or []), d.url,
                       aware(d.last_at) if d.last_at else None, cuts)
        applied = redacted(er, ed).grounds
        if d.decision == "openbaar" and applied:
            wrong_open.append(d.number)
        if d.decision == "deels" and not applied:
            bare_deels.append(d.number)
        out.append(ed)
    if wrong_open:
        raise InputError("document(s) %(numbers)s decided openbaar have redacted text: "
                         "decide them --deels with its grounds", field="documents",
                         numbers=", ".join(map(str, wrong_open)))
    if bare_deels:
        raise InputError("document(s) %(numbers)s decided deels have nothing redacted "
                         "(bewaar woo redact)", field="documents",
                         numbers=", ".join(map(str, bare_deels)))
    return er, out


def _check_dir(out_dir: Path) -> None:
    if out_dir.exists() or out_dir.is_symlink():
        if not out_dir.is_dir():
            raise InputError("%(dir)s exists and is not a folder", field="dir", dir=out_dir)
        if any(out_dir.iterdir()):
            raise InputError("%(dir)s is not empty: give a new or empty folder", field="dir",
                             dir=out_dir)
    elif not out_dir.parent.is_dir():
        raise InputError("%(dir)s does not exist", field="dir", dir=out_dir.parent)


def _write_dir(out_dir: Path, files: dict[str, bytes]) -> Path:
    """Every file into a new folder beside ``out_dir`` (fsynced); renamed later."""
    from archive.files import write_atomic

    tmp = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.", dir=out_dir.parent))
    try:
        for rel, data in files.items():
            path = tmp / rel
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise InputError("cannot write into %(dir)s: %(reason)s", field="dir",
                         dir=out_dir.parent, reason=exc.strerror) from None
    return tmp


def export(settings: Settings, user: str, request_id: Any, out_dir: Path | str
           ) -> dict[str, Any]:
    """Seal the decided request's export as one package and write its files to ``out_dir``
    (new or empty)."""
    from archive.package import PackageInput, build_package
    from woo.export import build

    out = Path(out_dir).absolute()
    with change(settings, user, "woo.export", f"woo:{request_id}", dir=str(out)) as c:
        acting_user(c.db, user, ROLES, "export a Woo request")
        req = get_request(c.db, request_id)
        _check_dir(out)
        er, docs = _export_input(settings, c.db, req)
        files = build(er, docs)
        tmp = _write_dir(out, files)
        try:
            counts = {k: sum(1 for d in docs if d.decision == k) for k in DECISIONS}
            result = build_package(
                settings, source_kind="records", source_name=SOURCE_NAME,
                title=f"Woo-verzoek {req.id}", category=None, valuation=VALUATION,
                description=(f"Openbaarmaking op Woo-verzoek {req.id}: {counts['openbaar']} "
                             f"openbaar, {counts['deels']} deels openbaar, {counts['niet']} "
                             "niet openbaar."),
                files=[PackageInput(rel, data, _mime(rel)) for rel, data in files.items()],
                bag_info={"Bewaar-Woo-Request": str(req.id)},
            )
            if out.is_dir():
                out.rmdir()
            os.rename(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        req.exported_at, req.package_id = utcnow(), result.id
        grounds = sorted({g for d in docs for g in d.grounds})
        c.note(package=result.id, documents=len(docs), grounds=grounds, **counts)
        return {"request": req.id, "dir": str(out), "package": result.id,
                "package_path": result.location or str(result.path), "files": sorted(files),
                "documents": len(docs), **counts,
                "withheld": [d.ident for d in docs if d.decision == "niet"]}


def _mime(rel: str) -> str:
    return {".pdf": "application/pdf", ".xml": "application/xml",
            ".csv": "text/csv"}.get(Path(rel).suffix, "application/octet-stream")
