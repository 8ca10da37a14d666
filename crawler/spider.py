"""The one spider: robots.txt first, then seeds and sitemaps, pages in scope, requisites anywhere."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import scrapy
from scrapy.http import Request, Response, TextResponse
from twisted.python.failure import Failure

from crawler.handler import FetchFailed
from crawler.job import CrawlJob
from crawler.links import charset_of, css_links, page_loads, robots_sitemaps, sitemap_links
from crawler.scope import Scope, canonical, url_problem
from crawler.seeds import SeedOutcomes

if TYPE_CHECKING:
    from crawler.recorder import WarcRecorder

log = logging.getLogger(__name__)

PAGE, REQUISITE, ROBOTS, SITEMAP = "page", "requisite", "robots", "sitemap"
FRAME = "frame"  # an iframe/frame on another host: a requisite whose own requisites count too
MAX_SITEMAPS = 200
MAX_FRAME_NESTING = 3


class SiteSpider(scrapy.Spider):
    name = "bewaar"
    custom_settings: dict[str, Any] = {}

    def __init__(self, job: CrawlJob, scope: Scope, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.job = job
        self.scope = scope
        self.seen: set[str] = set()
        self.sitemaps = 0
        self.seed_outcomes = SeedOutcomes(job.seeds)
        self._recorder: WarcRecorder | None = None

    @property
    def recorder(self) -> WarcRecorder:
        if self._recorder is None:
            from crawler.recorder import WarcRecorder

            ext = self.crawler.get_extension(WarcRecorder)
            assert ext is not None
            self._recorder = ext
        return self._recorder

    # -- start -----------------------------------------------------------------------------
    async def start(self) -> AsyncIterator[Request]:
        if not self.job.follow_links:
            for url in self.job.seeds:
                req = self._request(url, PAGE, 0, force=True, seed=True)
                if req:
                    yield req
            return
        origins: dict[str, list[str]] = {}
        for url in self.job.seeds:
            p = urlsplit(url)
            origins.setdefault(f"{p.scheme}://{p.netloc}", []).append(url)
        for origin, seeds in origins.items():
            yield Request(
                f"{origin}/robots.txt", callback=self.parse_robots, errback=self.robots_failed,
                meta={"bewaar_kind": ROBOTS, "dont_redirect": True, "seeds": seeds,
                      "origin": origin},
                dont_filter=True, priority=1000,
            )

    def _after_robots(self, origin: str, seeds: list[str], text: str | None) -> Iterator[Request]:
        self.scope.set_robots(urlsplit(origin).netloc, text)
        self.seen.add(canonical(f"{origin}/robots.txt"))
        for url in seeds:
            req = self._request(url, PAGE, 0, seed=True)
            if req:
                yield req
        # Each line on its own: a relative one is resolved, one that is no URL is skipped
        # (and recorded), and /sitemap.xml is always tried.
        robots_url = f"{origin}/robots.txt"
        maps = robots_sitemaps(text or "", robots_url) + [f"{origin}/sitemap.xml"]
        for url in maps:
            req = self._sitemap(url, robots_url)
            if req:
                yield req

    def parse_robots(self, response: Response) -> Iterator[Request]:
        text = None
        if 200 <= response.status < 300 and isinstance(response, TextResponse):
            text = response.text
        yield from self._after_robots(response.meta["origin"], response.meta["seeds"], text)

    def robots_failed(self, failure: Failure) -> Iterator[Request]:
        req = failure.request  # type: ignore[attr-defined]
        self._note_failure(failure)
        yield from self._after_robots(req.meta["origin"], req.meta["seeds"], None)

    # -- requests --------------------------------------------------------------------------
    def _request(self, url: str, kind: str, depth: int, *, force: bool = False,
                 seed: bool = False, frames: int = 0) -> Request | None:
        problem = url_problem(url)
        if problem:
            self.recorder.record_skip(url, problem, f"depth {depth}")
            if seed:
                self.seed_outcomes.skipped(url, problem)
            return None
        key = canonical(url)
        if key in self.seen:
            return None
        self.seen.add(key)
        if not force:
            reason = (self.scope.check_page(url, depth) if kind == PAGE
                      else self.scope.check_requisite(url))
            if reason:
                self.recorder.record_skip(url, reason, f"depth {depth}")
                if seed:
                    self.seed_outcomes.skipped(url, reason)
                return None
        meta: dict[str, Any] = {"bewaar_kind": kind, "bewaar_depth": depth}
        if seed:
            meta["bewaar_seed"] = url  # kept through redirects: the seed's outcome is reported
        if frames:
            meta["bewaar_frames"] = frames  # how deep in frames of other hosts
        try:
            return Request(
                url, callback=self.parse, errback=self.failed, meta=meta,
                dont_filter=True, priority=(10 if kind in (REQUISITE, FRAME) else -depth),
            )
        except ValueError:
            self.recorder.record_skip(url, "bad-url", f"depth {depth}")
            return None

    def _sitemap(self, url: str, named_by: str) -> Request | None:
        """A request for a sitemap that robots.txt or a sitemap index names; a value that is
        no usable URL is recorded as skipped and stops nothing else."""
        problem = url_problem(url)
        if problem:
            self.recorder.record_skip(url, problem, f"sitemap named by {named_by}")
            return None
        key = canonical(url)
        if key in self.seen or self.sitemaps >= MAX_SITEMAPS:
            return None
        self.seen.add(key)
        self.sitemaps += 1
        try:
            return Request(url, callback=self.parse_sitemap, errback=self.failed,
                           meta={"bewaar_kind": SITEMAP, "bewaar_depth": 0},
                           dont_filter=True, priority=500)
        except ValueError:
            self.recorder.record_skip(url, "bad-url", f"sitemap named by {named_by}")
            return None

    # -- parsing ---------------------------------------------------------------------------
    def parse(self, response: Response) -> Iterator[Request]:
        meta = response.meta
        depth: int = meta.get("bewaar_depth", 0)
        kind: str = meta.get("bewaar_kind", PAGE)
        if meta.get("bewaar_seed"):
            self.seed_outcomes.answered(meta["bewaar_seed"], response.status, response.url)
        if meta.get("redirect_urls"):
            self.seen.add(canonical(response.url))
            host = urlsplit(response.url).hostname or ""
            if depth == 0 and kind == PAGE and not self.scope.include:
                self.scope.add_host(host)  # a seed that redirects to www. or https
        if not 200 <= response.status < 300:
            return
        ctype = (response.headers.get(b"Content-Type") or b"").split(b";", 1)[0].strip().lower()
        if ctype == b"text/css" or response.url.split("?", 1)[0].endswith(".css"):
            # Also in a patch crawl: a style sheet that was missing brings its own fonts,
            # images and imports, which replay could not have asked for without it.
            for url in css_links(response.body, response.url):
                req = self._request(url, REQUISITE, depth)
                if req:
                    yield req
            return
        if not isinstance(response, TextResponse) or b"html" not in ctype and ctype:
            return
        if kind == FRAME:
            pass  # a frame from another host: fetch what it loads, follow nothing
        elif kind != PAGE or (depth > 0 and self.scope.in_scope(response.url)):
            return  # a requisite or a page reached off-site: keep it, follow nothing
        loads = page_loads(response.body, response.url,
                           charset_of(response.headers.get(b"Content-Type")))
        frames = set(loads.frames)
        # A patch crawl fetches a page's requisites too (its new capture replays with them
        # around the same time), never its links.
        for url in loads.requisites:
            if url in frames:
                req = self._frame(url, depth, meta.get("bewaar_frames", 0) + 1)
            else:
                req = self._request(url, REQUISITE, depth)
            if req:
                yield req
        if kind == FRAME or not self.job.follow_links:
            return
        for url in loads.links:
            req = self._request(url, PAGE, depth + 1)
            if req:
                yield req

    def _frame(self, url: str, depth: int, nesting: int) -> Request | None:
        """A frame on the site is one of its pages (counted, checked, its links followed); a
        frame from another host is a requisite whose own requisites are fetched too."""
        if nesting > MAX_FRAME_NESTING:
            self.recorder.record_skip(url, "depth", f"frame nested {nesting} deep")
            return None
        kind = PAGE if self.scope.in_scope(url) is None else FRAME
        return self._request(url, kind, depth, frames=nesting)

    def parse_sitemap(self, response: Response) -> Iterator[Request]:
        if not 200 <= response.status < 300:
            return
        locs, is_index = sitemap_links(response.body, response.url)
        for url in locs:
            req = self._sitemap(url, response.url) if is_index else self._request(url, PAGE, 1)
            if req:
                yield req

    def failed(self, failure: Failure) -> None:
        req = getattr(failure, "request", None)
        if req is not None and req.meta.get("bewaar_seed"):
            self.seed_outcomes.failed(req.meta["bewaar_seed"], str(failure.value) or
                                      type(failure.value).__name__)
        self._note_failure(failure)

    def closed(self, reason: str) -> None:
        """Send what became of each seed to the command (``crawler.run`` reads it)."""
        line = json.dumps({"type": "seeds", "run": self.job.run_id,
                           "seeds": self.seed_outcomes.to_list()})
        try:
            sys.stdout.write(line + "\n")
            sys.stdout.flush()
        except (ValueError, OSError):  # the command is gone; the recorder has said so
            log.warning("cannot report the seeds' outcome: the command stopped")

    def _note_failure(self, failure: Failure) -> None:
        if failure.check(FetchFailed):
            return  # the handler recorded it already
        req = getattr(failure, "request", None)
        if req is not None:
            self.recorder.record_failure(req, f"{type(failure.value).__name__}: {failure.value}")
