"""The crawl worker process: ``python -m crawler.worker`` reads a job on stdin and runs Scrapy.

A Twisted reactor cannot be restarted, so each crawl runs in its own process. Progress goes to
stdout as JSON lines (the last one has ``"type": "done"``); Scrapy's log goes to the run folder.
"""

from __future__ import annotations

import json
import logging
import sys
from typing import Any
from urllib.parse import urlsplit

from scrapy.crawler import CrawlerProcess

from archive.db import open_db
from archive.settings import Settings
from crawler.job import CrawlJob, decode_job
from crawler.scope import Scope

# Order as data: only what a wire-exact archive crawl needs.
DOWNLOADER_MIDDLEWARES: dict[str, int | None] = {
    "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,  # scope.py decides
    "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,  # the spider fetches it
    "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,
    "scrapy.downloadermiddlewares.retry.RetryMiddleware": None,
    "crawler.middleware.RetryAfterMiddleware": 550,
    "scrapy.downloadermiddlewares.redirect.MetaRefreshMiddleware": None,
    "scrapy.downloadermiddlewares.cookies.CookiesMiddleware": None,
    "scrapy.downloadermiddlewares.httpproxy.HttpProxyMiddleware": None,
    "scrapy.downloadermiddlewares.stats.DownloaderStats": None,
    "scrapy.downloadermiddlewares.httpcache.HttpCacheMiddleware": None,
}
SPIDER_MIDDLEWARES: dict[str, int | None] = {
    "scrapy.spidermiddlewares.httperror.HttpErrorMiddleware": None,  # errors are archived too
    "scrapy.spidermiddlewares.urllength.UrlLengthMiddleware": None,
    "scrapy.spidermiddlewares.depth.DepthMiddleware": None,  # scope.py counts depth
    "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None,
}
EXTENSIONS: dict[str, int | None] = {
    "scrapy.extensions.telnet.TelnetConsole": None,
    "scrapy.extensions.remote_control.RemoteControl": None,
    "scrapy.extensions.memusage.MemoryUsage": None,
    "scrapy.extensions.logstats.LogStats": None,
    "scrapy.extensions.feedexport.FeedExporter": None,
    "scrapy.extensions.spiderstate.SpiderState": None,
    "crawler.recorder.WarcRecorder": 100,
}
HANDLERS = {
    "http": "crawler.handler.WireDownloadHandler",
    "https": "crawler.handler.WireDownloadHandler",
}


def scrapy_settings(job: CrawlJob, settings: Settings) -> dict[str, Any]:
    run_dir = settings.runs_dir / str(job.run_id)
    return {
        "BOT_NAME": "bewaarplaats",
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "DOWNLOAD_HANDLERS": HANDLERS,
        "DOWNLOADER_MIDDLEWARES": DOWNLOADER_MIDDLEWARES,
        "SPIDER_MIDDLEWARES": SPIDER_MIDDLEWARES,
        "EXTENSIONS": EXTENSIONS,
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
        "LOG_FILE": str(run_dir / "scrapy.log"),
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
    from crawler.recorder import WarcRecorder
    from crawler.spider import SiteSpider

    job.warc_dir.mkdir(parents=True, exist_ok=True)
    process = CrawlerProcess(scrapy_settings(job, settings))
    crawler = process.create_crawler(SiteSpider)
    process.crawl(crawler, job=job, scope=make_scope(job, settings))
    process.start()
    rec = crawler.get_extension(WarcRecorder)
    if rec is None:
        return {"type": "done", "status": "failed", "error": "recorder did not start"}
    reason = crawler.stats.get_value("finish_reason") if crawler.stats else None
    status = "finished" if reason in (None, "finished") else "interrupted"
    rec.write_report(status)
    return {"type": "done", "status": status, "error": rec.fatal, **rec.snapshot(),
            "warc_files": [str(c.path) for c in rec.closed_warcs],
            "cdxj_files": [str(c.cdxj_path) for c in rec.closed_warcs if c.cdxj_path],
            "skipped_by_reason": rec.skipped_by_reason, "failed": rec.error_list[:200]}


def main() -> None:
    job, settings = decode_job(sys.stdin.buffer.read())
    open_db(settings, migrate_schema=False)  # the parent migrated it: skip Alembic here
    logging.getLogger("scrapy").propagate = True
    try:
        result = run(job, settings)
    except Exception as exc:  # reported to the parent; the traceback goes to stderr
        logging.exception("crawl worker failed")
        result = {"type": "done", "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
    sys.stdout.write(json.dumps(result) + "\n")
    sys.stdout.flush()


if __name__ == "__main__":
    main()
