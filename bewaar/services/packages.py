"""Seal keys, the selectielijst, package verification and download, each audited.

``bewaar verify PATH`` on the command line is the auditor's own check and may run on a copy
without this archive's database: it writes no row. Verifying a package of this archive through
the web app or the API (``verify_recorded``) is recorded, with its outcome.
"""

from __future__ import annotations

import os
import tempfile
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

from archive.errors import NotFoundError
from archive.settings import Settings
from bewaar.services import queries
from bewaar.services.audit import change

if TYPE_CHECKING:
    from archive.package.keys import KeyPaths
    from archive.package.selectielijst import Category


def init_keys(settings: Settings, actor: str, *, force: bool = False) -> KeyPaths:
    from archive.package import init_keys as make_keys

    with change(settings, actor, "keys.init", str(settings.keys_dir), force=force) as c:
        paths = make_keys(settings, force=force)
        c.note(created=paths.created, ca=str(paths.ca_cert))
        return paths


def load_selectielijst(settings: Settings, actor: str, file: Path) -> list[Category]:
    from archive.package.selectielijst import load_into_db

    with change(settings, actor, "selectielijst.load", file.name) as c:
        cats = load_into_db(settings, file)
        c.note(categories=[x.code for x in cats])
        return cats


def verify_recorded(settings: Settings, actor: str, package_id: str) -> dict[str, Any]:
    """Verify one of this archive's packages; the row says valid or not."""
    from archive.package import verify_package
    from bewaar.services.disposal import refuse_destroyed

    with change(settings, actor, "package.verify", package_id) as c:
        refuse_destroyed(c.db, package_id)
        pkg = queries.package(c.db, package_id)
        from archive.package.stored import fetch_for_verify
        from archive.storage import check_storage

        check_storage(settings)
        report = verify_package(fetch_for_verify(settings, pkg["path"]))
        findings = [str(f) for f in report.findings]
        c.note(valid=report.valid, findings=len(findings))
        if not report.valid:
            c.outcome = "failed"
        return {"id": package_id, "valid": bool(report.valid), "findings": findings,
                "warnings": [str(w) for w in report.warnings]}


def zip_folder(folder: Path, top: str, target: Path) -> int:
    """Write ``folder`` as a zip (entries under ``top/``) to ``target``; return its size."""
    with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
        for path in sorted(folder.rglob("*")):
            if path.is_file():
                zf.write(path, f"{top}/{path.relative_to(folder).as_posix()}")
    return target.stat().st_size


def download(settings: Settings, actor: str, package_id: str) -> Path:
    """A zip of the package in a temporary file (the caller removes it after sending)."""
    from bewaar.services.disposal import refuse_destroyed

    with change(settings, actor, "package.download", package_id) as c:
        refuse_destroyed(c.db, package_id)
        from archive.storage import local_folder

        folder = local_folder(settings, queries.package(c.db, package_id)["path"])
        if not folder.is_dir():
            raise NotFoundError("package %(id)s is listed but its folder is gone",
                                id=package_id)
        fd, name = tempfile.mkstemp(prefix=".download-", suffix=".zip")
        os.close(fd)
        try:
            c.note(bytes=zip_folder(folder, package_id, Path(name)))
        except BaseException:
            os.unlink(name)
            raise
        return Path(name)
