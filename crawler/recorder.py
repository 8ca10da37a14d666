"""The Scrapy extension that owns the WARC writer and reports what the run recorded.

``WarcRecorder`` (built from_crawler) writes each exchange the download handler hands it,
answers the dedup question from a dict of the site's payload digests (sent with the job), and
sends capture, skipped-URL, payload-digest and WARC-file rows in batches, as JSON lines on the
worker's stdout, to the command that stores them (``crawler.ledger``). It also writes the crawl
log (one line per fetch) and sends progress. Should the command stop reading, nothing more could
be recorded: the crawl stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from scrapy import signals
from scrapy.exceptions import NotConfigured

from archive.errors import StorageError
from archive.files import write_atomic
from archive.settings import Settings
from archive.warc import ClosedWarc, RevisitOf, WarcWriter
from archive.warc.records import digest_of
from crawler.job import CrawlJob
from crawler.stored import StoredCaptures

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

    from crawler.wire import Exchange

log = logging.getLogger(__name__)

BATCH_ROWS = 500
BATCH_SECONDS = 0.5
PROGRESS_SECONDS = 0.5
EMPTY_DIGESTS = {digest_of([b""])}
MAX_ERRORS_LISTED = 1000


class WarcRecorder:
    def __init__(self, crawler: Crawler, job: CrawlJob, settings: Settings) -> None:
        self.crawler = crawler
        self.job = job
        self.settings = settings
        self.run_dir = settings.runs_dir / str(job.run_id)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.digests: dict[str, RevisitOf] = {}
        self.stored = StoredCaptures.empty()
        self._captures: list[dict[str, Any]] = []
        self._digest_rows: list[dict[str, Any]] = []
        self._skipped: list[dict[str, Any]] = []
        self._skipped_seen: set[str] = set()
        self._closed_msgs: list[dict[str, Any]] = []  # "warc" messages waiting for their rows
        self._closed_pending = False
        self._last_flush = time.monotonic()
        self._last_progress = 0.0
        self.pages = 0
        self.fetches = 0
        self.bytes = 0
        self.errors = 0
        self.revisits = 0
        self.skipped_count = 0
        self.skipped_by_reason: dict[str, int] = {}
        self.error_list: list[dict[str, str]] = []
        self.queue_size = 0
        self.fatal: str | None = None  # why the run had to stop (e.g. the disk is full)
        self.storage_failed = False  # it stopped because what it fetched could not be written
        self.closed_warcs: list[ClosedWarc] = []
        self._stopping = False
        self._log: TextIO = open(self.run_dir / "crawl.log", "a", encoding="utf-8")  # noqa: SIM115
        self._out: TextIO | None = sys.stdout  # to the command, which stores the rows
        self.writer = WarcWriter(
            job.warc_dir,
            prefix=f"{settings.warc_prefix}-{job.site_name}",
            max_size=settings.warc_max_size,
            gzip_level=settings.warc_gzip_level,
            warcinfo=self._warcinfo(),
            index_dir=job.index_dir,
            dedup=self._dedup,
            on_close=self._on_close,
        )

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> WarcRecorder:
        s = crawler.settings
        job: CrawlJob | None = s.get("BEWAAR_JOB")
        settings: Settings | None = s.get("BEWAAR_SETTINGS")
        if job is None or settings is None:
            raise NotConfigured("no crawl job given")
        ext = cls(crawler, job, settings)
        crawler.signals.connect(ext.spider_opened, signal=signals.spider_opened)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def _warcinfo(self) -> dict[str, str]:
        job, s = self.job, self.settings
        return {
            "operator": s.operator,
            **({"organisation": s.organisation} if s.organisation else {}),
            "isPartOf": f"{job.site_name} run {job.run_id}",
            "description": f"Bewaarplaats crawl of site {job.site_name}, run {job.run_id} ({job.kind})",
            "robots": "obey" if job.robots == "obey" else "ignore",
            "http-header-user-agent": s.user_agent,
            "site": job.site_name,
            "seeds": " ".join(job.seeds[:20]),
        }

    # -- lifecycle -------------------------------------------------------------------------
    def spider_opened(self) -> None:
        for digest, uri, date, record_id in self.job.known_digests:
            self.digests[digest] = RevisitOf(uri, date, record_id, digest)
        self.job.known_digests = []  # held once, in the dict (a big site has many)
        if self.job.stored:
            self.stored = StoredCaptures.from_json(self.job.stored)
        log.info("dedup: %d known payloads; %d stored captures to reuse",
                 len(self.digests), len(self.stored))

    def spider_closed(self, reason: str) -> None:
        try:
            self.writer.close()
        except StorageError as exc:  # the run's .open file is repaired by the parent
            self.storage_error(str(exc))
        self.flush(force=True)
        with contextlib.suppress(OSError):  # a full disk: storage_error said so already
            self._log.close()
        self.progress(force=True)

    def storage_error(self, message: str) -> None:
        """What was fetched cannot be written (a full disk, a folder gone): the run ends
        ``failed`` with this reason instead of fetching on for nothing."""
        self.storage_failed = True
        self.fatal = self.fatal or (f"{message}; free space, then continue with "
                                    f"bewaar crawl --resume {self.job.run_id}")
        log.error("cannot store what the crawl fetched: %s", message)
        engine = self.crawler.engine
        if engine is not None and engine.running and not self._stopping:
            self._stopping = True
            asyncio.ensure_future(engine.close_spider_async(reason="storage-error"))

    def _write_log(self, line: str) -> None:
        try:
            self._log.write(line)
        except OSError as exc:
            self.storage_error(f"cannot write the crawl log: {exc.strerror}")

    # -- dedup -----------------------------------------------------------------------------
    def _dedup(self, digest: str, url: str) -> RevisitOf | None:
        if digest in EMPTY_DIGESTS:
            return None
        return self.digests.get(digest)

    def _on_close(self, closed: ClosedWarc) -> None:
        # The file is registered only after the captures pointing into it, including the one
        # whose record made it rotate (appended after this call): ``flush`` sends it then.
        self.closed_warcs.append(closed)
        self._closed_msgs.append({
            "type": "warc", "filename": closed.path.name, "path": str(closed.path),
            "size": closed.size, "sha256": closed.sha256, "sha512": closed.sha512,
            "records": closed.records,
            "cdxj_path": str(closed.cdxj_path) if closed.cdxj_path else None,
            "cdxj_sha256": closed.cdxj_sha256,
        })
        self._closed_pending = True

    # -- records ---------------------------------------------------------------------------
    def stored_response(self, url: str) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        if not self.stored:
            return None
        return self.stored.response(url)

    def record_exchange(self, request: Request, ex: Exchange) -> None:
        date = datetime.fromtimestamp(ex.started, UTC)
        rec = self.writer.write_exchange(
            url=ex.url, request=ex.request, response=ex.response, ip=ex.ip, date=date
        )
        if ex.certificate_pem:
            self.writer.write_metadata(
                url=ex.url, concurrent_to=rec.record_id, body=ex.certificate_pem.encode("ascii"),
                content_type="application/x-pem-file", date=date,
            )
        self.fetches += 1
        self.bytes += len(ex.response)
        mime = rec.mime
        is_page = (
            request.meta.get("bewaar_kind") == "page"
            and 200 <= ex.status < 300
            and mime is not None
            and "html" in mime
        )
        if is_page:
            self.pages += 1
        if rec.record_type == "revisit":
            self.revisits += 1
        elif rec.payload_digest and rec.payload_digest not in EMPTY_DIGESTS \
                and rec.payload_digest not in self.digests:
            self.digests[rec.payload_digest] = RevisitOf(
                ex.url, rec.warc_date, rec.record_id, rec.payload_digest
            )
            self._digest_rows.append({
                "site_id": self.job.site_id, "digest": rec.payload_digest, "uri": ex.url,
                "date": rec.warc_date, "record_id": rec.record_id,
            })
        self._captures.append({
            "url": ex.url, "status": ex.status, "mime": mime,
            "is_page": is_page, "record_type": rec.record_type,
            "payload_digest": rec.payload_digest, "warc_filename": rec.filename,
            "offset": rec.offset, "length": rec.length, "fetched_at": date.isoformat(),
            "error": None,
        })
        self._write_log(
            f"{rec.warc_date} {ex.status} {len(ex.response)} {ex.url} {rec.record_type} "
            f"{request.meta.get('bewaar_kind', '-')} {ex.ip or '-'}\n"
        )
        self.flush(force=self._closed_pending)
        self.progress()

    def record_failure(self, request: Request, message: str) -> None:
        self.errors += 1
        now = datetime.now(UTC)
        if len(self.error_list) < MAX_ERRORS_LISTED:
            self.error_list.append({"url": request.url, "error": message})
        self._captures.append({
            "url": request.url, "status": None, "mime": None,
            "is_page": False, "record_type": "failed", "payload_digest": None,
            "warc_filename": None, "offset": None, "length": None,
            "fetched_at": now.isoformat(), "error": message,
        })
        self._write_log(f"{now.isoformat()} - 0 {request.url} error {message}\n")
        log.warning("fetch failed: %s", message)
        self.flush()
        self.progress()

    def record_skip(self, url: str, reason: str, detail: str | None = None) -> None:
        if url in self._skipped_seen:
            return
        self._skipped_seen.add(url)
        self.skipped_count += 1
        self.skipped_by_reason[reason] = self.skipped_by_reason.get(reason, 0) + 1
        self._skipped.append({"url": url, "reason": reason, "detail": detail,
                              "at": datetime.now(UTC).isoformat()})

    # -- batching --------------------------------------------------------------------------
    def flush(self, force: bool = False) -> None:
        pending = len(self._captures) + len(self._skipped) + len(self._digest_rows)
        if not pending:
            self._send_closed()
            return
        now = time.monotonic()
        if not force and pending < BATCH_ROWS and now - self._last_flush < BATCH_SECONDS:
            return
        self._last_flush = now
        try:
            self._log.flush()
            self.writer.flush_index()  # the rows sent point at records the index must hold
        except OSError as exc:
            self.storage_error(f"cannot write the crawl log: {exc.strerror}")
        except StorageError as exc:
            self.storage_error(str(exc))
        rows = {"type": "rows", "captures": self._captures, "skipped": self._skipped,
                "digests": self._digest_rows}
        self._captures, self._skipped, self._digest_rows = [], [], []
        self._send(rows)
        self._send_closed()

    def _send_closed(self) -> None:
        """The files closed since the last flush, after the rows that point into them."""
        msgs, self._closed_msgs, self._closed_pending = self._closed_msgs, [], False
        for msg in msgs:
            self._send(msg)

    def progress(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last_progress < PROGRESS_SECONDS:
            return
        self._last_progress = now
        engine = self.crawler.engine
        queue = 0
        sched = getattr(engine, "scheduler", None) if engine is not None else None
        if sched is not None:
            try:
                queue = len(sched)
            except (TypeError, AttributeError):
                queue = 0
        self.queue_size = queue
        self._send({"type": "progress", **self.snapshot()})

    def _send(self, msg: dict[str, Any]) -> None:
        if self._out is None:
            return
        try:
            self._out.write(json.dumps({**msg, "run": self.job.run_id}) + "\n")
            self._out.flush()
        except (ValueError, OSError):  # the command is gone: what follows could not be kept
            self._out = None
            self.fatal = self.fatal or (
                "the crawl command stopped; the crawl stopped with it "
                f"(continue with: bewaar crawl --resume {self.job.run_id})")
            log.error("%s", self.fatal)
            engine = self.crawler.engine
            if engine is not None and engine.running:
                asyncio.ensure_future(engine.close_spider_async(reason="shutdown"))

    def snapshot(self) -> dict[str, Any]:
        return {
            "pages": self.pages, "fetches": self.fetches, "bytes": self.bytes,
            "errors": self.errors, "revisits": self.revisits, "queue": self.queue_size,
            "skipped": self.skipped_count,
        }

    def write_report(self, status: str) -> Path:
        report = {
            "run_id": self.job.run_id, "site": self.job.site_name, "kind": self.job.kind,
            "status": status, **self.snapshot(),
            "skipped_by_reason": self.skipped_by_reason,
            "failed": self.error_list,
            "warc_files": [str(c.path) for c in self.closed_warcs],
        }
        path = self.run_dir / "report.json"
        try:  # the command writes the final report; this one is for a command that died
            write_atomic(path, json.dumps(report, indent=2, ensure_ascii=False).encode("utf-8"))
        except OSError as exc:
            log.error("cannot write %s: %s", path, exc.strerror)
        return path

