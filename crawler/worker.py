"""The crawl worker process: ``python -m crawler.worker`` reads a job on stdin and runs Scrapy.
It is started before its job is known (``crawler.prestart``).

A Twisted reactor cannot be restarted, so each crawl runs in its own process. Progress goes to
stdout as JSON lines (the last one has ``"type": "done"``); Scrapy's log goes to the run folder.

``python -m crawler.worker --many`` runs many jobs in one reactor (``bewaar harvest``,
``crawler.harvest``): a header line ``{"settings", "log"}``, then one job per line
(``encode_job``), each started as it arrives as its own Scrapy crawler (spider, settings, WARC
writer, scope and per-host slots of its own). Every line it sends carries its ``"run"``; each
run ends with its own ``done`` line. It stops when stdin is closed and its crawls have ended.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import Crawler, CrawlerProcess
from twisted.python.failure import Failure

from archive.exit import exit_now
from archive.settings import Settings
from crawler.job import CrawlJob, decode_job
from crawler.scope import Scope

# Order as data: exactly the components a wire-exact archive crawl uses. These replace
# Scrapy's *_BASE lists instead of switching entries off with None, because Scrapy imports
# every listed component, even a switched-off one (RemoteControl alone pulls in aiohttp).
# Left out on purpose: offsite (scope.py decides), robots.txt (the spider fetches it), retry
# (crawler.middleware honours Retry-After), meta refresh, cookies, proxy, HTTP auth, cache,
# downloader stats, http errors (errors are archived too), URL length, depth (scope.py counts
# depth), meta copy detection, telnet, remote control, memory usage, log stats, feed export,
# spider state.
DOWNLOADER_MIDDLEWARES: dict[str, int] = {
    "scrapy.downloadermiddlewares.downloadtimeout.DownloadTimeoutMiddleware": 350,
    "scrapy.downloadermiddlewares.defaultheaders.DefaultHeadersMiddleware": 400,
    "scrapy.downloadermiddlewares.useragent.UserAgentMiddleware": 500,
    "crawler.middleware.RetryAfterMiddleware": 550,
    "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": 590,
    "scrapy.downloadermiddlewares.redirect.RedirectMiddleware": 600,
}
SPIDER_MIDDLEWARES: dict[str, int] = {
    "scrapy.spidermiddlewares.start.StartSpiderMiddleware": 25,
    "scrapy.spidermiddlewares.referer.RefererMiddleware": 700,
}
EXTENSIONS: dict[str, int] = {
    "scrapy.extensions.corestats.CoreStats": 0,  # sets finish_reason
    "scrapy.extensions.logcount.LogCount": 0,
    "crawler.recorder.WarcRecorder": 100,
}
HANDLERS = {
    "http": "crawler.handler.WireDownloadHandler",
    "https": "crawler.handler.WireDownloadHandler",
}


def scrapy_settings(job: CrawlJob | None, settings: Settings,
                    log_file: Path | None = None) -> dict[str, Any]:
    if log_file is None:
        assert job is not None
        log_file = settings.runs_dir / str(job.run_id) / "scrapy.log"
    return {
        "BOT_NAME": "bewaarplaats",
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "DOWNLOAD_HANDLERS_BASE": HANDLERS,  # no file:, data:, s3: or ftp:
        "DOWNLOAD_HANDLERS": {},
        "DOWNLOADER_MIDDLEWARES_BASE": DOWNLOADER_MIDDLEWARES,
        "DOWNLOADER_MIDDLEWARES": {},
        "SPIDER_MIDDLEWARES_BASE": SPIDER_MIDDLEWARES,
        "SPIDER_MIDDLEWARES": {},
        "EXTENSIONS_BASE": EXTENSIONS,
        "EXTENSIONS": {},
        "DUPEFILTER_CLASS": "scrapy.dupefilters.BaseDupeFilter",  # the spider's seen set
        "ROBOTSTXT_OBEY": False,
        "COOKIES_ENABLED": False,
        "USER_AGENT": settings.user_agent,
        "CONCURRENT_REQUESTS": settings.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": settings.concurrency_per_host,
        "DOWNLOAD_DELAY": settings.download_delay,
        "RANDOMIZE_DOWNLOAD_DELAY": settings.download_delay > 0,
        "DOWNLOAD_TIMEOUT": settings.download_timeout,
        "DOWNLOAD_MAXSIZE": settings.max_response_size,
        "DOWNLOAD_WARNSIZE": 0,
        "REDIRECT_MAX_TIMES": 10,
        # Scrapy starts CONCURRENT_ITEMS tasks per response to handle callback output; the
        # spider yields only requests, so one is enough (100 tasks per page cost a third of CPU).
        "CONCURRENT_ITEMS": 1,
        "WARN_ON_GENERATOR_RETURN_VALUE": False,  # it parses the callback's source per response
        "SCHEDULER_PRIORITY_QUEUE": "scrapy.pqueues.ScrapyPriorityQueue",
        "LOG_LEVEL": settings.log_level,
        "LOG_FILE": str(log_file),
        "LOG_FILE_APPEND": True,
        "STATS_DUMP": False,
        "BEWAAR_JOB": job,
        "BEWAAR_SETTINGS": settings,
    }


def make_scope(job: CrawlJob, settings: Settings) -> Scope:
    return Scope(
        hosts={urlsplit(u).hostname or "" for u in job.seeds},
        include=job.include,
        exclude=job.exclude,
        max_depth=job.max_depth,
        max_pages=job.max_pages,
        max_path_repeats=settings.max_path_repeats,
        max_query_variants=settings.max_query_variants,
        obey_robots=job.robots == "obey",
        user_agent=settings.user_agent,
    )


def run(job: CrawlJob, settings: Settings) -> dict[str, Any]:
    from crawler.spider import SiteSpider

    job.warc_dir.mkdir(parents=True, exist_ok=True)
    process = CrawlerProcess(scrapy_settings(job, settings))
    crawler = process.create_crawler(SiteSpider)
    process.crawl(crawler, job=job, scope=make_scope(job, settings))
    process.start()
    return outcome(crawler)


def outcome(crawler: Crawler) -> dict[str, Any]:
    """The ``done`` line of a crawler that has ended."""
    from crawler.recorder import WarcRecorder

    rec = crawler.get_extension(WarcRecorder)
    if rec is None:
        return {"type": "done", "status": "failed", "error": "recorder did not start"}
    reason = crawler.stats.get_value("finish_reason") if crawler.stats else None
    status = "finished" if reason in (None, "finished") else "interrupted"
    if rec.storage_failed:  # what it fetched could not all be written: say so, not "finished"
        status = "failed"
    rec.write_report(status)
    return {"type": "done", "status": status, "error": rec.fatal, **rec.snapshot(),
            "warc_files": [str(c.path) for c in rec.closed_warcs],
            "cdxj_files": [str(c.cdxj_path) for c in rec.closed_warcs if c.cdxj_path],
            "skipped_by_reason": rec.skipped_by_reason, "failed": rec.error_list[:200]}


def _stderr_to(path: Path) -> None:
    """From here on, stderr (tracebacks, warnings) goes to the run's worker.log."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
    sys.stderr.flush()
    os.dup2(fd, 2)
    os.close(fd)


def preload() -> None:
    """Import every component the crawl will load, while the job is still being prepared."""
    from scrapy.utils.misc import load_object

    import crawler.spider  # noqa: F401

    for path in [*DOWNLOADER_MIDDLEWARES, *SPIDER_MIDDLEWARES, *EXTENSIONS, *HANDLERS.values()]:
        load_object(path)


def run_many(lines: Any) -> None:
    """Run every job of ``lines`` (after its header) in this process's one reactor."""
    import threading

    from scrapy.utils.reactor import install_reactor

    from crawler.spider import SiteSpider

    header: dict[str, Any] = json.loads(next(lines))
    settings = Settings.model_validate(header["settings"])
    log_file = Path(header["log"])
    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import reactor

    base = scrapy_settings(None, settings, log_file)
    del base["BEWAAR_JOB"], base["BEWAAR_SETTINGS"]  # each crawler has its own
    process = CrawlerProcess(base)
    stop_reactor: Any = getattr(reactor, "stop")  # noqa: B009 - typed as a bare function
    logging.getLogger("scrapy").propagate = True
    state = {"active": 0, "eof": False}

    def send(msg: dict[str, Any]) -> None:
        try:
            sys.stdout.write(json.dumps(msg) + "\n")
            sys.stdout.flush()
        except OSError:  # the command is gone; each run is repaired when it is resumed
            logging.error("the harvest command stopped before run %s ended", msg.get("run"))

    def maybe_stop() -> None:
        if state["eof"] and state["active"] == 0:
            with contextlib.suppress(RuntimeError):
                stop_reactor()

    def ended(result: Any, crawler: Crawler, run_id: int) -> None:
        state["active"] -= 1
        try:
            if isinstance(result, Failure):
                logging.error("run %s failed: %s", run_id, result.getTraceback())
                done = {"type": "done", "status": "failed",
                        "error": f"{type(result.value).__name__}: {result.value}"}
            else:
                done = outcome(crawler)
        except Exception as exc:  # noqa: BLE001 - reported for this run, the others go on
            logging.exception("run %s: no outcome", run_id)
            done = {"type": "done", "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
        send({**done, "run": run_id})
        maybe_stop()

    def start(raw: bytes) -> None:
        run_id = 0
        try:
            job, job_settings = decode_job(raw)
            run_id = job.run_id
            job.warc_dir.mkdir(parents=True, exist_ok=True)
            crawler = Crawler(SiteSpider, scrapy_settings(job, job_settings, log_file))
            d = process.crawl(crawler, job=job, scope=make_scope(job, job_settings))
        except Exception as exc:  # noqa: BLE001 - this job cannot start; the others go on
            logging.exception("job %s did not start", run_id)
            send({"type": "done", "status": "failed", "run": run_id,
                  "error": f"{type(exc).__name__}: {exc}"})
            return
        state["active"] += 1
        d.addBoth(ended, crawler, run_id)

    def eof() -> None:
        state["eof"] = True
        maybe_stop()

    def read() -> None:
        for raw in lines:
            if raw.strip():
                reactor.callFromThread(start, raw)
        reactor.callFromThread(eof)

    threading.Thread(target=read, name="jobs", daemon=True).start()
    process.start(stop_after_crawl=False)


def main() -> None:
    preload()
    if sys.argv[1:] == ["--many"]:
        run_many(iter(sys.stdin.buffer.readline, b""))
        return
    raw = sys.stdin.buffer.read()
    if not raw:  # started early for a crawl that did not happen
        return
    job, settings = decode_job(raw)
    _stderr_to(settings.runs_dir / str(job.run_id) / "worker.log")
    logging.getLogger("scrapy").propagate = True
    try:
        result = run(job, settings)
    except Exception as exc:  # reported to the parent; the traceback goes to stderr
        logging.exception("crawl worker failed")
        result = {"type": "done", "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    try:
        sys.stdout.write(json.dumps(result) + "\n")
        sys.stdout.flush()
    except OSError:  # the command is gone; the run is repaired when it is resumed
        logging.error("the crawl command stopped before the crawl ended")


if __name__ == "__main__":
    main()
    exit_now()  # the command waits for this process: skip the collections over Scrapy's heap
