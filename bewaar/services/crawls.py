"""Crawls and what follows them: the replay collection, the replay check, the seal; and the
other changes made to a run's archive (patch crawls, WACZ export).

``crawl`` is what ``bewaar crawl``, the web's "crawl now" and the scheduler all run: one audit
row ``crawl.run`` with the run's outcome, and one row per after-crawl step (``replay.add``,
``replay.check``, ``package.seal``), each written by the step's own service function.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from archive.models import Site
from archive.settings import Settings
from bewaar.services.audit import change, reason_of
from bewaar.services.sites import add_site, check_seeds, get_site

if TYPE_CHECKING:
    from archive.package.build import PackageResult
    from crawler import CrawlProgress, CrawlResult
    from replay import QAResult
    from replay.qa_server import BackgroundReplay

log = logging.getLogger(__name__)


def _adhoc_site(settings: Settings, actor: str, urls: list[str]) -> str:
    """The site an ad-hoc crawl of ``urls`` goes to: named after the first URL's host,
    registered (an audited ``site.add``) when new."""
    from archive.db import session_scope
    from crawler.run import site_name_for

    seeds = check_seeds(urls)
    name = site_name_for(seeds[0])
    with session_scope(settings) as db:
        exists = db.scalar(select(Site.id).where(Site.name == name)) is not None
    if not exists:
        add_site(settings, actor, {"name": name, "seeds": seeds})
    return name


def crawl(settings: Settings, actor: str, *, site: str | None = None,
          urls: list[str] | None = None, resume: int | None = None, patch: int | None = None,
          progress: Callable[[CrawlProgress], None] | None = None,
          after: bool = True) -> tuple[CrawlResult, dict[str, Any] | None]:
    """Crawl a registered site, ad-hoc URLs, a patch of a run or the resume of a run; then
    (``after``) add it to its collection, check its replay and seal it, as the settings say.
    Returns the crawl result and what the after-crawl steps did (None when they did not run:
    a failed crawl or ``after=False``)."""
    from crawler import run_crawl

    replay: BackgroundReplay | None = None
    try:
        with change(settings, actor, "crawl.run", site) as c:
            from archive.storage import check_storage

            check_storage(settings)  # a bucket that cannot be used: before a site is added
            if patch is not None:
                c.note(patch_of=patch)
                replay = _replay_for(settings, after, lambda: _site_of_run(settings, patch))
                result = run_crawl(settings, patch_run_id=patch, urls=urls, progress=progress)
            elif resume is not None:
                c.note(resume=resume)
                replay = _replay_for(settings, after, lambda: _site_of_run(settings, resume))
                result = run_crawl(settings, resume_run_id=resume, progress=progress)
            else:
                if site is None:
                    site = c.target = _adhoc_site(settings, actor, list(urls or []))
                with _session(settings) as db:
                    get_site(db, site, active=True)
                replay = _replay_for(settings, after, lambda: str(site))
                result = run_crawl(settings, site_name=site, urls=urls, progress=progress)
            c.note(run_id=result.run_id, status=result.status, pages=result.pages,
                   fetches=result.fetches, errors=result.errors, error=result.error)
            if c.target is None:
                c.target = _site_of_run(settings, result.run_id)
            if result.status != "finished":
                c.outcome = "failed"
        steps = None
        if after and result.status == "finished":
            servers = replay.servers() if replay is not None else None
            steps = after_crawl(settings, actor, result.run_id,
                                {"servers": servers} if servers else None)
    finally:
        if replay is not None:
            replay.stop()
    return result, steps


def _replay_for(settings: Settings, after: bool,
                site: Callable[[], str]) -> BackgroundReplay | None:
    """The replay check's pywb processes (``replay.qa_server``), started as the crawl begins
    (``qa_after_crawl``): their start (pywb and gevent imports, about a CPU-second each) then
    overlaps the crawl instead of following it. None when there will be no check or the run is unknown (the crawl
    then says so)."""
    if not (after and settings.qa_after_crawl):
        return None
    from archive.errors import NotFoundError
    from replay.qa import workers_for_machine
    from replay.qa_server import BackgroundReplay

    try:
        name = site()
    except NotFoundError:
        return None
    return BackgroundReplay(settings, [name], workers=workers_for_machine())


def _session(settings: Settings) -> Any:
    from archive.db import session_scope

    return session_scope(settings)


def _site_of_run(settings: Settings, run_id: int) -> str:
    from bewaar.services.queries import get_run

    with _session(settings) as db:
        return get_run(db, run_id).site.name


def add_to_collection(settings: Settings, actor: str, run_id: int) -> Path:
    """Add a run's WARCs and index to its site's pywb collection."""
    from replay import add_run_to_collection

    with change(settings, actor, "replay.add", str(run_id)) as c:
        path = add_run_to_collection(settings, run_id)
        c.note(collection=path.name)
        return path


def check(settings: Settings, actor: str, run_id: int, **options: Any) -> QAResult:
    """Replay-check a run (``replay.check_run`` options); the row says passed or failed."""
    from replay import check_run

    with change(settings, actor, "replay.check", str(run_id),
                browser=bool(options.get("browser"))) as c:
        result = check_run(settings, run_id, **options)
        c.note(passed=result.ok, pages=len(result.pages), failed=result.failed)
        if not result.ok:
            c.outcome = "failed"
        return result


def seal(settings: Settings, actor: str, run_id: int, *, again: bool = False,
         progress: Callable[[int], None] | None = None) -> PackageResult:
    """Seal a finished crawl run into a package (``again``: once more, chained)."""
    from archive.package import seal_run

    with change(settings, actor, "package.seal", str(run_id), again=again) as c:
        kwargs: dict[str, Any] = {"progress": progress}
        if again:
            kwargs["again"] = True
        result = seal_run(settings, run_id, **kwargs)
        c.note(package=result.id, previous=result.previous_id, timestamped=result.timestamped)
        return result


def export_wacz(settings: Settings, actor: str, run_id: int, output: Path) -> Path:
    from replay.wacz import export_wacz as write_wacz

    with change(settings, actor, "export.wacz", str(run_id)) as c:
        path = write_wacz(settings, run_id, output)
        c.note(path=str(path), bytes=path.stat().st_size)
        return path


def after_crawl(settings: Settings, actor: str, run_id: int,
                qa_options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Index the run into its collection, check its replay (``qa_after_crawl``) and seal it
    (``seal_after_crawl``). Each step is guarded: a failed step is recorded (here and in its
    audit row) and never undoes the crawl. Returns ``{"run_id", "ok", "collection", "qa",
    "seal"}``; each step ``{"ok": bool, …}`` or ``{"ok": True, "skipped": reason}``."""
    steps: dict[str, dict[str, Any]] = {}

    def step(name: str, fn: Callable[[], dict[str, Any]]) -> bool:
        try:
            steps[name] = {"ok": True, **fn()}
        except Exception as exc:  # noqa: BLE001 - recorded, not fatal to the crawl
            log.info("after crawl %s: %s failed: %s", run_id, name, reason_of(exc))
            steps[name] = {"ok": False, "error": reason_of(exc)}
            return False
        return True

    def qa() -> dict[str, Any]:
        result = check(settings, actor, run_id, **(qa_options or {}))  # e.g. servers=
        return {"ok": result.ok, "passed": result.ok, "pages": len(result.pages),
                "failed": result.failed, "report": str(result.report_path)}

    def sealed() -> dict[str, Any]:
        package = seal(settings, actor, run_id)
        return {"package_id": package.id, "path": package.location or str(package.path),
                "timestamped": package.timestamped}

    indexed = step("collection", lambda: {"path": str(add_to_collection(settings, actor,
                                                                         run_id))})
    if not settings.qa_after_crawl:
        steps["qa"] = {"ok": True, "skipped": "qa_after_crawl is off"}
    elif not indexed:
        steps["qa"] = {"ok": False, "skipped": "the run is not in a collection"}
    else:
        step("qa", qa)
    if settings.seal_after_crawl:
        step("seal", sealed)
    else:
        steps["seal"] = {"ok": True, "skipped": "seal_after_crawl is off"}
    if steps["seal"].get("package_id"):  # enrich_after_archiving; never fails the crawl
        from bewaar.services.suggestions import after_archiving

        steps["enrich"] = after_archiving(settings, actor, steps["seal"]["package_id"])
    if settings.search_after_crawl:
        step("search", lambda: _search_index(settings, actor, run_id))  # after the seal: its id
    else:
        steps["search"] = {"ok": True, "skipped": "search_after_crawl is off"}
    return {"run_id": run_id, "ok": all(s["ok"] for s in steps.values()), **steps}


def _search_index(settings: Settings, actor: str, run_id: int) -> dict[str, Any]:
    from bewaar.services.search import index_run

    return index_run(settings, actor, run_id)


def fixity(settings: Settings, actor: str,
           progress: Callable[[int, int], None] | None = None) -> Any:
    """Re-hash every stored WARC and CDXJ index against the database (recorded)."""
    from replay.fixity import audit as rehash

    with change(settings, actor, "fixity.check") as c:
        report = rehash(settings, progress=progress)
        c.note(files=report.files, bytes=report.bytes, findings=len(report.findings))
        if not report.ok:
            c.outcome = "failed"
        return report
