"""Wire-exact web crawls with Scrapy: ``run_crawl(settings, site_name=… | urls=…)``.

The names are loaded on first use, so the crawl worker process (``crawler.worker``) does not
import the parent's run management at start-up.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from crawler.run import CrawlProgress, CrawlResult, run_crawl

__all__ = ["CrawlProgress", "CrawlResult", "run_crawl"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from crawler import run

        return getattr(run, name)
    raise AttributeError(f"module 'crawler' has no attribute {name!r}")
