"""Wire-exact web crawls with Scrapy: ``run_crawl(settings, site_name=… | urls=…)``."""

from crawler.run import CrawlProgress, CrawlResult, run_crawl

__all__ = ["CrawlProgress", "CrawlResult", "run_crawl"]
