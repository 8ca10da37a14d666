"""Downloader middleware: retry 429/503 (and 502/504) politely, honouring Retry-After.

The download handler closes a per-host gate for the Retry-After time; this middleware sends the
request again (at most the ``retry_times`` setting). Every attempt is in the WARC.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from scrapy.exceptions import NotConfigured

if TYPE_CHECKING:
    from scrapy import Request, Spider
    from scrapy.crawler import Crawler
    from scrapy.http import Response

RETRY_STATUSES = {429, 502, 503, 504}
DEFAULT_BACKOFF = 1.0


class RetryAfterMiddleware:
    def __init__(self, crawler: Crawler, times: int) -> None:
        self.crawler = crawler
        self.times = times

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> RetryAfterMiddleware:
        settings = crawler.settings.get("BEWAAR_SETTINGS")  # archive.settings.Settings
        times = settings.retry_times if settings is not None else 0
        if times <= 0:
            raise NotConfigured("retries switched off")
        return cls(crawler, times)

    def process_response(
        self, request: Request, response: Response, spider: Spider | None = None
    ) -> Request | Response:
        if response.status not in RETRY_STATUSES or "archived" in response.flags:
            return response
        tries = int(request.meta.get("bewaar_retries", 0))
        if tries >= self.times:
            return response
        if "bewaar_retry_after" not in request.meta:
            handler = self._handler()
            if handler is not None:
                handler.retry_after(request.url, DEFAULT_BACKOFF * (tries + 1))
        retry = request.replace(dont_filter=True)
        retry.meta["bewaar_retries"] = tries + 1
        retry.meta.pop("bewaar_retry_after", None)
        return retry

    def _handler(self):
        from crawler.handler import WireDownloadHandler

        engine = self.crawler.engine
        if engine is None:
            return None
        handlers = engine.downloader.handlers._handlers
        for h in handlers.values():
            if isinstance(h, WireDownloadHandler):
                return h
        return None
