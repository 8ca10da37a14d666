"""Harvests: every active site (or those named) archived at once, what ``bewaar harvest`` runs.

The crawls run in one crawl process, ``harvest_concurrency`` sites at a time
(:func:`crawler.harvest.run_harvest`). Each site is still its own run with its own audit row
``crawl.run`` (as ``bewaar crawl`` writes it), WARCs, report and package: as a site's crawl
ends, its after-steps (collection, replay check, seal: ``crawls.after_crawl``) go to a small
pool of threads, so a site is sealed while the slower ones still crawl. One ``harvest.run`` row
sums the harvest up. A site whose last run was left ``running`` by a killed harvest is resumed
(same run id), not crawled anew; ``resume_only`` resumes those and starts nothing else.

The replay checks share long-lived wayback processes started once for the harvest
(``replay.qa_server.BackgroundReplay``, one per core up to four), while the first crawls run; should
they not start, each check starts its own, as ``bewaar crawl``'s does.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import select

from archive.models import Site
from archive.settings import Settings
from bewaar.services.audit import change, reason_of
from bewaar.services.crawls import after_crawl
from bewaar.services.sites import InputError, get_site

if TYPE_CHECKING:
    from crawler import CrawlResult

log = logging.getLogger(__name__)


@dataclass
class HarvestStatus:
    """Where a harvest is: sites ended (of which failed), crawling, waiting, in after-steps."""

    total: int
    done: int = 0
    failed: int = 0
    running: int = 0
    waiting: int = 0
    sealing: int = 0


def after_workers() -> int:
    """Threads for the after-steps: they wait on fsync and on the replay check's pywb more than
    they compute, so more of them than cores. bench/harvest.py, 200 sites on 2 shared cores,
    1 December 2026: 2 threads 96.7 s, 8 threads 61.8 s, 16 threads 72.2 s (the GIL)."""
    return max(4, min(16, 4 * (os.cpu_count() or 1)))


def harvest_sites(settings: Settings, names: list[str] | None) -> list[str]:
    """The sites a harvest takes: those named (each must exist and be active), else every
    active registered site."""
    from archive.db import session_scope

    with session_scope(settings) as db:
        if names:
            unique = list(dict.fromkeys(names))
            return [get_site(db, n, active=True).name for n in unique]
        return list(db.scalars(select(Site.name).where(Site.retired_at.is_(None))
                               .order_by(Site.name)))


def harvest(settings: Settings, actor: str, *, sites: list[str] | None = None,
            resume_only: bool = False, after: bool = True,
            progress: Callable[[HarvestStatus], None] | None = None) -> dict[str, Any]:
    """Crawl the sites at once and run each one's after-steps as it ends. Returns
    ``{"runs": [{"site", "run_id", "status", "pages", "package", "error", "after_ok"}],
    "seconds", "failed"}``; ``failed`` counts the sites whose crawl or after-steps failed."""
    from crawler.harvest import run_harvest, unfinished_runs

    t0 = time.monotonic()
    names = harvest_sites(settings, sites)
    if not names:
        raise InputError("no active sites to harvest (see `bewaar site list`)")
    unfinished = unfinished_runs(settings, names)
    if resume_only:
        names = [n for n in names if n in unfinished]
        if not names:  # nothing was left unfinished: nothing to change
            return {"runs": [], "seconds": round(time.monotonic() - t0, 3), "failed": 0}
    status = HarvestStatus(total=len(names))
    rows: dict[str, dict[str, Any]] = {}
    lock = threading.Lock()

    def tell() -> None:
        if progress is not None:
            progress(status)

    qa = None
    if after and settings.qa_after_crawl:
        from replay.qa import workers_for_machine
        from replay.qa_server import BackgroundReplay

        qa = BackgroundReplay(settings, names, workers=workers_for_machine())

    def after_steps(row: dict[str, Any]) -> None:
        try:
            servers = qa.servers() if qa is not None else None
            steps = after_crawl(settings, actor, row["run_id"],
                                {"servers": servers} if servers else None)
        except Exception as exc:  # noqa: BLE001 - one site's after-steps; the others go on
            log.exception("after-steps of run %s", row["run_id"])
            steps = {"ok": False, "error": reason_of(exc)}
        with lock:
            row["package"] = (steps.get("seal") or {}).get("package_id")
            row["after_ok"] = bool(steps.get("ok"))
            row["after"] = steps
            if not row["after_ok"]:
                status.failed += 1
            status.sealing -= 1
            status.done += 1
            tell()

    pool = ThreadPoolExecutor(max_workers=after_workers(), thread_name_prefix="after")
    futures: list[Future[None]] = []

    def on_end(name: str, result: CrawlResult | None, error: str | None) -> None:
        row: dict[str, Any] = {"site": name, "run_id": result.run_id if result else None,
                               "status": result.status if result else "failed",
                               "pages": result.pages if result else 0, "package": None,
                               "error": result.error if result else error, "after_ok": None}
        with change(settings, actor, "crawl.run", name, harvest=True) as c:
            if name in unfinished:
                c.note(resume=unfinished[name])
            c.note(run_id=row["run_id"], status=row["status"], pages=row["pages"],
                   error=row["error"])
            if result is not None:
                c.note(fetches=result.fetches, errors=result.errors)
            if row["status"] != "finished":
                c.outcome = "failed"
        with lock:
            rows[name] = row
            if result is not None:
                status.running = max(0, status.running - 1)
            if row["status"] == "finished" and after:
                status.sealing += 1
                futures.append(pool.submit(after_steps, row))
            else:
                status.done += 1
                status.failed += row["status"] != "finished"
            tell()

    def on_progress(running: int, waiting: int) -> None:
        with lock:
            status.running, status.waiting = running, waiting
            tell()

    with change(settings, actor, "harvest.run", None, sites=len(names),
                resume_only=resume_only) as c:
        try:
            run_harvest(settings, names, on_end=on_end, resume=unfinished,
                        progress=on_progress)
        finally:
            try:
                for f in futures:
                    f.result()
            finally:  # also when Ctrl-C stops the wait
                pool.shutdown(wait=False, cancel_futures=True)
                if qa is not None:
                    qa.stop()
        runs = [rows[n] for n in names if n in rows]
        seconds = round(time.monotonic() - t0, 3)
        failed = sum(1 for r in runs if r["status"] != "finished" or r["after_ok"] is False)
        c.note(finished=sum(1 for r in runs if r["status"] == "finished"), failed=failed,
               resumed=len([n for n in names if n in unfinished]), seconds=seconds,
               pages=sum(r["pages"] for r in runs))
        if failed:
            c.outcome = "failed"
    return {"runs": runs, "seconds": seconds, "failed": failed}
