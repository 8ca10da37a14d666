"""Scrapy download handler for http/https that records the exact wire bytes.

Scrapy's own HTTP stack is not used: ``WireDownloadHandler`` fetches with ``crawler.wire`` (h11 on
asyncio streams), hands each exchange to the ``WarcRecorder`` extension (which writes it to the
WARC before Scrapy's middlewares see the response), then builds a normal Scrapy Response from the
de-chunked body; HttpCompressionMiddleware decompresses it as usual.

Retry-After (429/503) closes a per-host gate: later requests to that host wait until it opens.
Resumed runs ask the recorder for what was stored already and get it back from the WARC.
"""

from __future__ import annotations

import asyncio
import ipaddress
import time
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from scrapy.core.downloader.handlers.base import BaseDownloadHandler
from scrapy.exceptions import IgnoreRequest
from scrapy.http import Headers, Response
from scrapy.responsetypes import responsetypes

from archive.errors import StorageError
from crawler.wire import Exchange, FetchError, WirePool

if TYPE_CHECKING:
    from scrapy import Request
    from scrapy.crawler import Crawler

    from crawler.recorder import WarcRecorder

MAX_RETRY_AFTER = 120.0


class FetchFailed(IgnoreRequest):
    """A fetch failed; the recorder has logged it. Scrapy drops the request quietly."""


class WireDownloadHandler(BaseDownloadHandler):
    lazy = False

    def __init__(self, crawler: Crawler) -> None:
        super().__init__(crawler)
        s = crawler.settings
        self.pool = WirePool(
            max_idle_per_origin=max(1, s.getint("CONCURRENT_REQUESTS_PER_DOMAIN", 8)),
        )
        self.timeout = s.getfloat("DOWNLOAD_TIMEOUT", 60.0)
        self.max_size = s.getint("DOWNLOAD_MAXSIZE", 0) or 500_000_000
        self._gates: dict[str, float] = {}
        self._recorder: WarcRecorder | None = None

    @property
    def recorder(self) -> WarcRecorder:
        if self._recorder is None:
            from crawler.recorder import WarcRecorder

            ext = self.crawler.get_extension(WarcRecorder)
            if ext is None:  # pragma: no cover - configuration error
                raise RuntimeError("the WarcRecorder extension is not enabled")
            self._recorder = ext
        return self._recorder

    def retry_after(self, url: str, seconds: float) -> None:
        host = urlsplit(url).netloc
        until = time.monotonic() + min(max(seconds, 0.0), MAX_RETRY_AFTER)
        self._gates[host] = max(self._gates.get(host, 0.0), until)

    async def download_request(self, request: Request) -> Response:
        recorder = self.recorder
        stored = recorder.stored_response(request.url)
        if stored is not None:
            return self._response(request, *stored, ip=None, from_archive=True)
        gate = self._gates.get(urlsplit(request.url).netloc)
        if gate is not None:
            wait = gate - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
        timeout = float(request.meta.get("download_timeout", self.timeout))
        max_size = int(request.meta.get("download_maxsize", self.max_size))
        headers = [
            (bytes(k), bytes(v))
            for k, values in request.headers.items()
            for v in values
        ]
        try:
            ex = await self.pool.fetch(
                request.url, method=request.method, headers=headers, body=request.body,
                timeout=timeout, max_size=max_size,
            )
        except FetchError as exc:
            recorder.record_failure(request, str(exc))
            raise FetchFailed(str(exc)) from None
        try:
            recorder.record_exchange(request, ex)
        except StorageError as exc:
            # No room to write (disk full, folder gone): stop the run rather than fetch for nothing.
            recorder.storage_error(str(exc))
            recorder.record_failure(request, f"not archived: {exc}")
            raise FetchFailed(str(exc)) from None
        if ex.status in (429, 503):
            value = _header(ex, b"retry-after")
            if value is not None:
                seconds = _retry_after_seconds(value)
                if seconds is not None:
                    self.retry_after(request.url, seconds)
                    request.meta["bewaar_retry_after"] = seconds
        return self._response(request, ex.status, ex.headers, ex.body, ip=ex.ip,
                              from_archive=False, protocol=f"HTTP/{ex.http_version.decode()}")

    def _response(
        self, request: Request, status: int, raw_headers: list[tuple[bytes, bytes]], body: bytes,
        *, ip: str | None, from_archive: bool, protocol: str | None = None,
    ) -> Response:
        headers = Headers()
        for name, value in raw_headers:
            if name.lower() == b"transfer-encoding":
                continue  # the body handed to Scrapy is already de-chunked
            headers.appendlist(name, value)
        cls = responsetypes.from_args(headers=headers, url=request.url, body=body)
        ip_obj = None
        if ip:
            try:
                ip_obj = ipaddress.ip_address(ip.split("%", 1)[0])
            except ValueError:
                ip_obj = None
        flags = ["archived"] if from_archive else None
        return cls(url=request.url, status=status, headers=headers, body=body, flags=flags,
                   ip_address=ip_obj, protocol=protocol, request=request)

    async def close(self) -> None:
        self.pool.close()


def _header(ex: Exchange, name: bytes) -> bytes | None:
    for k, v in ex.headers:
        if k.lower() == name:
            return v
    return None


def _retry_after_seconds(value: bytes) -> float | None:
    text = value.decode("latin-1").strip()
    if text.isdigit():
        return float(text)
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())
