"""Replay QA: replay every page of a run through pywb and load its requisites as a browser would.

``check_run`` starts its own pywb processes (one per core, over a QA configuration without
access rules or embargo, since QA checks completeness, not who may see what), fetches each page
from pywb's ``warcserver`` (the archived record pywb's replay finds for it: the same index
lookup, fuzzy match, revisit resolution and WARC read that the front end's ``id_`` replay
passes through unrewritten, at a third of the front end's CPU per request, measured with
bench/crawl.py), parses the HTML and the CSS it loads, and asks the same for every requisite.
With ``browser=True`` it runs ``wayback`` (the front end) instead, which the browser loads.
A requisite is *missing* when pywb has no capture of it (no record; from ``wayback``: a 404
without a Memento-Datetime), an *error* when the replay gives the page a 4xx/5xx answer for it
(what a visitor would see: a broken image). Either makes the page incomplete. Requisites are
fetched once per check, however many pages use them.

The pages checked are the run's and those of its patch runs, each at its newest capture: a patch
crawl refetches a page whose requisite was an error, so that page's new capture replays with the
mended requisite. A check of no pages never passes: there is nothing it could vouch for.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import quote, urljoin

from sqlalchemy import select

from archive.db import session_scope
from archive.errors import NotFoundError
from archive.models import Capture, CollectionRun, CrawlRun, QaCheck, QaPage, SkippedUrl
from archive.settings import Settings
from replay import fetch
from replay.collections import (
    CollectionError,
    add_run_to_collection,
    load_run,
    verify_collection,
    write_config,
)
from replay.fetch import Response
from replay.requisites import css_requisites, html_requisites
from replay.wayback import Wayback

log = logging.getLogger(__name__)
T = TypeVar("T")
MAX_REDIRECTS = 5
MAX_CSS_DEPTH = 4


@dataclass
class PageResult:
    url: str
    replay_url: str
    crawl_status: int | None
    status: int | None
    missing: list[str] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)
    status_diffs: list[dict[str, Any]] = field(default_factory=list)
    requisites: int = 0
    similarity: float | None = None
    browser: dict[str, Any] | None = None

    @property
    def ok(self) -> bool:
        return (self.status is not None and not self.missing and not self.errors
                and not self.status_diffs)

    def to_dict(self) -> dict[str, Any]:
        return {
            "url": self.url,
            "replay_url": self.replay_url,
            "status": self.status,
            "crawl_status": self.crawl_status,
            "ok": self.ok,
            "missing": self.missing,
            "errors": self.errors,
            "status_diffs": self.status_diffs,
            "requisites": self.requisites,
            "similarity": self.similarity,
        }


@dataclass
class QAResult:
    run_id: int
    check_id: int
    collection: str
    pages: list[PageResult]
    report_path: Path
    seconds: float
    requests: int
    start_seconds: float = 0.0
    run_status: str | None = None

    @property
    def failed(self) -> int:
        return sum(1 for p in self.pages if not p.ok)

    @property
    def ok(self) -> bool:
        return bool(self.pages) and self.failed == 0

    @property
    def reason(self) -> str:
        """Why the check passed or not, in one sentence."""
        if not self.pages:
            why = f" (the crawl {self.run_status})" if self.run_status == "failed" else ""
            return f"run {self.run_id} has no pages to check: it captured none{why}"
        if self.ok:
            return "every page replays with all its requisites"
        return f"{self.failed} of {plural(len(self.pages), 'page')} do not replay completely"

    @property
    def pages_per_second(self) -> float:
        """Replay throughput, once the wayback workers are up."""
        busy = self.seconds - self.start_seconds
        return len(self.pages) / busy if busy > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "check_id": self.check_id,
            "collection": self.collection,
            "ok": self.ok,
            "reason": self.reason,
            "failed": self.failed,
            "report": str(self.report_path),
            "seconds": round(self.seconds, 3),
            "pages": [p.to_dict() for p in self.pages],
        }


@dataclass
class Fetched:
    status: int | None  # None: no answer at all
    archived: bool  # pywb had a capture (Memento-Datetime present)
    children: list[str] = field(default_factory=list)  # requisites of a style sheet
    final_url: str = ""


def plural(n: int, word: str, many: str | None = None) -> str:
    """``1 page``, ``2 pages``, ``0 findings``."""
    return f"{n} {word if n == 1 else (many or word + 's')}"


def timestamp(dt: datetime) -> str:
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC)
    return dt.strftime("%Y%m%d%H%M%S")


def record_response(resp: Response) -> Response:
    """The archived HTTP response in a warcserver's answer (a WARC record), as the front end's
    ``id_`` replay gives it, with the capture's Memento-Datetime; no record: a bare 404."""
    if resp.status != 200 or "warcserver-type" not in resp.headers:
        return Response(404, {}, b"")
    end = resp.body.find(b"\r\n\r\n")
    warc_head, block = resp.body[:max(end, 0)], resp.body[end + 4:] if end >= 0 else b""
    archived = fetch.parse_response(block) if block.startswith(b"HTTP/") else None
    if archived is None:  # a resource record: its block is the document itself
        ctype = ""
        for line in warc_head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            if name.strip().lower() == b"content-type":
                ctype = value.strip().decode("latin-1")
        archived = Response(200, {"content-type": ctype}, block)
    headers = dict(archived.headers)
    headers["memento-datetime"] = resp.headers.get("memento-datetime", "")
    return Response(archived.status, headers, archived.body)


class _Replayer:
    """Fetches through several pywb workers, round robin, each requisite once: from a
    warcserver (``direct``) or from wayback's ``id_`` replay."""

    def __init__(self, servers: list[tuple[str, int]], coll: str, limit: int,
                 direct: bool = True) -> None:
        self.direct = direct
        self.servers = itertools.cycle(servers)
        self.prefixes = tuple(f"http://{h}:{p}/{coll}/" for h, p in servers)
        self.coll = coll
        self.sem = asyncio.Semaphore(limit)
        self.cache: dict[str, asyncio.Task[Fetched]] = {}
        self.requests = 0

    def _original(self, location: str, current: str) -> str:
        for prefix in self.prefixes:
            if location.startswith(prefix):
                rest = location[len(prefix):]
                marker = rest.find("/")
                return rest[marker + 1:] if marker >= 0 else rest
        if location.startswith(f"/{self.coll}/"):
            rest = location[len(self.coll) + 2:]
            marker = rest.find("/")
            return rest[marker + 1:] if marker >= 0 else rest
        return urljoin(current, location)

    async def get(self, url: str, ts: str) -> Response | None:
        host, port = next(self.servers)
        async with self.sem:
            self.requests += 1
            if self.direct:
                resp = await fetch.get(host, port, f"/{self.coll}/resource?url="
                                       f"{quote(url, safe='')}&closest={ts}&matchType=exact")
            else:
                resp = await fetch.get(host, port, f"/{self.coll}/{ts}id_/{url}")
        if resp is None:
            log.warning("replay of %s gave no answer", url)
            return None
        return record_response(resp) if self.direct else resp

    async def requisite(self, url: str, ts: str) -> Fetched:
        task = self.cache.get(url)
        if task is None:
            task = asyncio.ensure_future(self._requisite(url, ts))
            self.cache[url] = task
        return await task

    async def _requisite(self, url: str, ts: str) -> Fetched:
        current = url
        for _ in range(MAX_REDIRECTS + 1):
            resp = await self.get(current, ts)
            if resp is None:
                return Fetched(None, False, final_url=current)
            archived = "memento-datetime" in resp.headers
            if archived and resp.status in (301, 302, 303, 307, 308) and \
                    resp.headers.get("location"):
                current = self._original(resp.headers["location"], current)
                continue
            children: list[str] = []
            ctype = resp.headers.get("content-type", "")
            if archived and resp.status == 200 and (
                "css" in ctype or current.lower().split("?")[0].endswith(".css")
            ):
                children = css_requisites(resp.body, current)  # as the crawler reads it
            return Fetched(resp.status, archived, children, current)
        return Fetched(None, True, final_url=current)


async def _check_page(rp: _Replayer, url: str, ts: str, crawl_status: int | None,
                      captured: dict[str, int | None], replay_base: str) -> PageResult:
    result = PageResult(url, f"{replay_base}/{rp.coll}/{ts}/{url}", crawl_status, None)
    resp = await rp.get(url, ts)
    if resp is None:
        return result
    result.status = resp.status
    if "memento-datetime" not in resp.headers:
        result.missing.append(url)
        result.status = None
        return result
    if crawl_status is not None and resp.status != crawl_status:
        result.status_diffs.append({"url": url, "crawl": crawl_status, "replay": resp.status})
    if "html" not in resp.headers.get("content-type", "") or resp.status != 200:
        return result
    todo = [(u, 0) for u in html_requisites(resp.body, url,
                                            resp.headers.get("content-type"))]
    seen = {u for u, _ in todo}
    while todo:
        fetched = await asyncio.gather(*(rp.requisite(u, ts) for u, _ in todo))
        nxt: list[tuple[str, int]] = []
        for (req, depth), f in zip(todo, fetched, strict=True):
            result.requisites += 1
            if f.status is None or not f.archived:
                result.missing.append(req)
                continue
            if f.status >= 400:
                result.errors.append({"url": req, "status": f.status})
            crawled = captured.get(req, f.status)
            if crawled is not None and crawled != f.status and f.final_url == req:
                result.status_diffs.append({"url": req, "crawl": crawled, "replay": f.status})
            if depth < MAX_CSS_DEPTH:
                for child in f.children:
                    if child not in seen:
                        seen.add(child)
                        nxt.append((child, depth + 1))
        todo = nxt
    return result


async def _replay_all(servers: list[tuple[str, int]], coll: str,
                      pages: list[tuple[str, str, int | None]], captured: dict[str, int | None],
                      replay_base: str, progress: Callable[[int, int], None] | None,
                      direct: bool = True) -> tuple[list[PageResult], int]:
    rp = _Replayer(servers, coll, limit=8 * len(servers), direct=direct)
    done = 0
    page_sem = asyncio.Semaphore(16 * len(servers))

    async def one(url: str, ts: str, status: int | None) -> PageResult:
        nonlocal done
        async with page_sem:
            res = await _check_page(rp, url, ts, status, captured, replay_base)
        done += 1
        if progress:
            progress(done, len(pages))
        return res

    results = await asyncio.gather(*(one(u, ts, st) for u, ts, st in pages))
    return list(results), rp.requests


def _run_coroutine(factory: Callable[[], Coroutine[Any, Any, T]]) -> T:
    """asyncio.run, also when the caller already runs an event loop (then in a thread)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(factory())
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = asyncio.run(factory())
        except BaseException as exc:  # handed back to the caller's thread
            box["error"] = exc

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if "error" in box:
        raise box["error"]
    return box["value"]


def _sync_site_runs(settings: Settings, run: CrawlRun) -> None:
    """Add the site's other finished runs (e.g. patch runs) that are not in the collection yet."""
    with session_scope(settings) as db:
        added = set(db.scalars(select(CollectionRun.run_id)))
        others = [
            r.id for r in db.scalars(select(CrawlRun).where(CrawlRun.site_id == run.site_id))
            if r.id != run.id and r.id not in added and r.status != "running" and r.warc_files
        ]
    for rid in others:
        try:
            add_run_to_collection(settings, rid)
        except CollectionError as exc:
            log.warning("run %s not added to the collection: %s", rid, exc)


def workers_for_machine() -> int:
    return max(1, min(4, os.cpu_count() or 1))


def check_run(settings: Settings, run_id: int, *, workers: int | None = None,
              progress: Callable[[int, int], None] | None = None,
              browser: bool = False, browser_pages: int = 50,
              servers: list[tuple[str, int]] | None = None) -> QAResult:
    """Replay-check every page of a run; store the result and write the HTML report.
    ``servers``: running warcserver processes that serve the run's collection
    (``replay.qa_server.QaReplay``), used instead of starting its own; not with ``browser``,
    which starts wayback processes of its own (the browser loads the front end)."""
    from replay.report import write_report

    with session_scope(settings) as db:
        run = load_run(db, run_id)
        coll = run.site.name
        run_status = run.status
        has_warcs = bool(run.warc_files)
        # The run and its patch runs: a page counts at its newest capture.
        runs = [run_id, *db.scalars(select(CrawlRun.id).where(
            CrawlRun.parent_run_id == run_id, CrawlRun.status != "running"))]
        caps = db.execute(
            select(Capture.url, Capture.status, Capture.is_page, Capture.fetched_at)
            .where(Capture.run_id.in_(runs)).order_by(Capture.fetched_at, Capture.id)
        ).all()
        skipped = set(db.scalars(select(SkippedUrl.url).where(SkippedUrl.run_id.in_(runs))))
    # Check the collection before touching it: a failed check changes nothing.
    if (settings.collections_dir / coll).exists():
        problems = verify_collection(settings, coll)
        if problems:
            raise CollectionError("the collection is damaged:\n  " + "\n  ".join(problems))
    if has_warcs:  # a run that captured nothing has nothing to add (and gets no collection)
        add_run_to_collection(settings, run_id)
        _sync_site_runs(settings, run)

    captured: dict[str, int | None] = {}
    page_map: dict[str, tuple[str, int | None]] = {}
    for url, status, is_page, fetched_at in caps:
        if status is not None or url not in captured:
            captured[url] = status  # the newest answer; a later failed fetch does not undo it
        if is_page:
            page_map[url] = (timestamp(fetched_at), status)
    pages = [(u, ts, st) for u, (ts, st) in page_map.items()]
    replay_base = f"http://{settings.replay_host}:{settings.replay_port}"

    started = datetime.now(UTC)
    t0 = time.monotonic()
    settings.collections_dir.mkdir(parents=True, exist_ok=True)
    qa_dir = Path(tempfile.mkdtemp(prefix=".qa-", dir=settings.collections_dir))
    own: list[Wayback] = []
    tool = "wayback" if browser else "warcserver"
    if browser:
        servers = None
    try:
        if servers is None:
            write_config(settings, target=qa_dir / "config.yaml", access=False)
            n = workers or workers_for_machine()
            for i in range(min(n, max(1, len(pages) // 20)) if pages else 0):
                own.append(Wayback(qa_dir, log_path=qa_dir / f"{tool}-{i}.log",
                                   tool=tool).launch())
            for server in own:
                server.wait_ready()
        used = servers if servers is not None else [(s.host, s.port) for s in own]
        start_seconds = time.monotonic() - t0
        results: list[PageResult] = []
        requests = 0
        if pages:
            results, requests = _run_coroutine(
                lambda: _replay_all(used, coll, pages, captured, replay_base, progress,
                                    direct=not browser)
            )
        if browser and results:
            from replay.browser import browser_check

            browser_check(results, replay=used[0], coll=coll,
                          shots_dir=settings.runs_dir / str(run_id) / "qa-shots",
                          max_pages=browser_pages,
                          known={u for u, st in captured.items() if st is not None} | skipped)
    finally:
        for s in own:
            s.stop()
        shutil.rmtree(qa_dir, ignore_errors=True)
    seconds = time.monotonic() - t0

    report_path = settings.runs_dir / str(run_id) / "qa-report.html"
    qa = QAResult(run_id, 0, coll, results, report_path, seconds, requests, start_seconds,
                  run_status=run_status)
    with session_scope(settings) as db:
        check = QaCheck(run_id=run_id, started_at=started, finished_at=datetime.now(UTC),
                        pages=len(results), failed=qa.failed, ok=qa.ok,
                        requisites=sum(r.requisites for r in results),
                        report_path=str(report_path),
                        stats={"seconds": round(seconds, 3), "requests": requests,
                               "workers": len(used), "runs": runs, "reason": qa.reason,
                               "start_seconds": round(start_seconds, 3)})
        db.add(check)
        db.flush()
        db.add_all(
            QaPage(check_id=check.id, url=r.url, replay_url=r.replay_url,
                   crawl_status=r.crawl_status, replay_status=r.status, ok=r.ok,
                   missing=r.missing, errors=r.errors, status_diffs=r.status_diffs,
                   requisites=r.requisites, similarity=r.similarity, browser=r.browser)
            for r in results
        )
        qa.check_id = check.id
    write_report(qa, started)
    return qa


def missing_urls(settings: Settings, run_id: int) -> list[str]:
    """What a patch crawl of ``run_id`` fetches, from its last replay check.

    Requisites missing from the archive, those the replay answered with a 4xx/5xx, and what the
    browser saw on the live page that the crawl did not capture. A page whose requisite was an
    error comes after its requisites: replay picks the capture closest in time, so only a new
    capture of the page replays with the mended requisite.
    """
    with session_scope(settings) as db:
        load_run(db, run_id)
        check = db.scalar(
            select(QaCheck).where(QaCheck.run_id == run_id).order_by(QaCheck.id.desc()).limit(1)
        )
        if check is None:
            raise NotFoundError(
                f"run {run_id} has no replay check yet: run `bewaar replay check {run_id}` first"
            )
        urls: dict[str, None] = {}
        pages: dict[str, None] = {}
        for page in db.scalars(select(QaPage).where(QaPage.check_id == check.id)
                               .order_by(QaPage.id)):
            for u in page.missing:
                urls.setdefault(u, None)
            for e in page.errors:
                urls.setdefault(str(e["url"]), None)
            if page.errors:
                pages.setdefault(page.url, None)
        for u in pages:
            urls.setdefault(u, None)
        return list(urls)


def last_check(settings: Settings, run_id: int) -> QaCheck | None:
    with session_scope(settings) as db:
        return db.scalar(
            select(QaCheck).where(QaCheck.run_id == run_id).order_by(QaCheck.id.desc()).limit(1)
        )

