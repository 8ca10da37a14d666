"""Imports of web archives made elsewhere (``bewaar import warc`` / ``bewaar import wacz``).

Each file given is its own change and its own run of the site (kind ``import``): one audit row
``import.warc`` or ``import.wacz`` (target the site; detail the file's name, the run, the
records counted and the problems found), then the steps that follow a crawl
(``crawls.after_crawl``: collection, replay check, seal, each with its own row). A file that
cannot be imported is refused with its reason (its row ``failed``) and the next file goes on;
nothing of a refused file stays behind.
"""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from archive.settings import Settings
from bewaar.services.audit import change
from bewaar.services.sites import InputError, get_site

# A file given → the WARCs to import, the origin to record, a scratch folder to remove after.
Sources = Callable[[Path], tuple[list[Path], dict[str, Any], Path | None]]
MAX_LISTED = 50  # problems and notes per file in the result (the run's import.json has all)


@dataclass
class FileOutcome:
    """What became of one file given: its run and package, or why it was refused."""

    file: str
    run_id: int | None = None
    package: str | None = None
    records: dict[str, Any] | None = None
    problems: list[dict[str, Any]] = field(default_factory=list)
    notes: list[dict[str, Any]] = field(default_factory=list)
    software: list[str] = field(default_factory=list)
    error: str | None = None
    after: dict[str, Any] | None = None
    report: str | None = None

    @property
    def imported(self) -> bool:
        return self.run_id is not None

    def to_dict(self) -> dict[str, Any]:
        return {"file": self.file, "run_id": self.run_id, "package": self.package,
                "records": self.records, "problems": self.problems, "notes": self.notes,
                "software": self.software, "error": self.error, "report": self.report,
                "after": self.after}


def _check_site(settings: Settings, site: str) -> None:
    from archive.db import session_scope

    with session_scope(settings) as db:
        get_site(db, site, active=True)


def _bad_input(exc: BaseException) -> InputError:
    if isinstance(exc, OSError):
        return InputError("cannot read it: %(reason)s", reason=exc.strerror or str(exc))
    return InputError(str(exc))


def _refusals() -> tuple[type[BaseException], ...]:
    from archive.warc.check import WarcUnreadable
    from crawler.imports import AlreadyImported
    from replay.wacz_read import WaczRefused

    return WarcUnreadable, AlreadyImported, WaczRefused, OSError


def _one(settings: Settings, actor: str, action: str, site: str, path: Path,
         progress: Callable[[str], None], sources: Sources, after: bool) -> FileOutcome:
    from bewaar.services.crawls import after_crawl
    from crawler.imports import import_warcs

    out = FileOutcome(path.name)
    staging: list[Path] = []  # what ``sources`` unpacked, removed afterwards
    try:
        with change(settings, actor, action, site, file=path.name) as c:
            try:
                if not path.is_file():
                    if not path.exists():
                        raise InputError("no such file")
                    raise InputError("not a file")
                warcs, origin, scratch = sources(path)
                staging.extend([scratch] if scratch else [])
                result = import_warcs(settings, site, warcs, origin=origin,
                                      owned=scratch is not None, progress=progress)
            except _refusals() as exc:
                raise _bad_input(exc) from None
            from archive.handover import push_run

            # with a bucket: the imported WARCs are stored there now (a failure is said here;
            # sealing the run stores them later)
            not_stored = push_run(settings, result.run_id)
            if not_stored:
                c.note(not_stored=not_stored[0])
            c.note(run_id=result.run_id, records=result.records,
                   problems=len(result.problems), dedup_added=result.dedup_added,
                   software=sorted({str(f.check.warcinfo.get("software") or "unknown")
                                    for f in result.files}))
    except InputError as exc:
        out.error = f"{path.name}: {exc}" if not str(exc).startswith(path.name) else str(exc)
        return out
    finally:
        for p in staging:
            shutil.rmtree(p, ignore_errors=True)
    out.run_id, out.records = result.run_id, result.records
    out.problems, out.notes = result.problems[:MAX_LISTED], result.notes[:MAX_LISTED]
    out.software = sorted({str(f.check.warcinfo.get("software") or "unknown")
                           for f in result.files})
    out.report = str(result.report)
    if after:
        progress(f"{path.name}: run {result.run_id}: collection, replay check, seal")
        out.after = after_crawl(settings, actor, result.run_id)
        seal = out.after.get("seal") or {}
        out.package = seal.get("package_id")
    return out


def import_warc(settings: Settings, actor: str, site: str, files: list[Path], *,
                progress: Callable[[str], None] | None = None,
                after: bool = True) -> list[FileOutcome]:
    """Import each WARC file as a new run of ``site``; one outcome per file, in order."""
    from archive.storage import check_storage

    _check_site(settings, site)
    check_storage(settings)
    say = progress or (lambda _m: None)
    return [_one(settings, actor, "import.warc", site, Path(f), say,
                 lambda p: ([p], {"kind": "warc", "file": p.name}, None), after)
            for f in files]


def import_wacz(settings: Settings, actor: str, site: str, files: list[Path], *,
                progress: Callable[[str], None] | None = None,
                after: bool = True) -> list[FileOutcome]:
    """Import each WACZ file's WARCs as a new run of ``site``; one outcome per file."""
    from archive.storage import check_storage
    from replay.wacz_read import unpack_wacz

    _check_site(settings, site)
    check_storage(settings)
    say = progress or (lambda _m: None)

    def unpack(path: Path) -> tuple[list[Path], dict[str, Any], Path | None]:
        into = settings.warc_dir / site / f".wacz-{secrets.token_hex(4)}"
        say(f"{path.name}: checking the ZIP and datapackage.json")
        try:
            contents = unpack_wacz(path, into / "files")
        except BaseException:
            shutil.rmtree(into, ignore_errors=True)
            raise
        return contents.warcs, {"kind": "wacz", "file": path.name,
                                "datapackage": contents.datapackage,
                                "members": contents.members,
                                "resources_verified": contents.resources_verified}, into

    return [_one(settings, actor, "import.wacz", site, Path(f), say, unpack, after)
            for f in files]
