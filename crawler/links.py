"""What the crawler follows and fetches: links and requisites (``archive.pageloads``, the one
answer the replay check uses too), and the URLs named by robots.txt and sitemaps."""

from __future__ import annotations

import gzip
import html
import re

from archive.pageloads import PageLoads, charset_of, css_loads, page_loads, resolve

__all__ = ["PageLoads", "charset_of", "css_links", "html_links", "page_loads", "robots_sitemaps",
           "sitemap_links"]

SITEMAP_LOC = re.compile(rb"<loc>\s*(?:<!\[CDATA\[\s*)?(.*?)\s*(?:\]\]>\s*)?</loc>", re.I | re.S)
MAX_SITEMAP_BYTES = 50 * 1024 * 1024  # the sitemap protocol's limit, uncompressed


def html_links(body: bytes | str, base_url: str, encoding: str | None = None
               ) -> tuple[list[str], list[str]]:
    """Return (page links, requisites) of an HTML page as absolute URLs, in document order."""
    loads = page_loads(body, base_url, encoding)
    return loads.links, loads.requisites


def css_links(css: bytes, base_url: str) -> list[str]:
    """What a style sheet loads: url(), @import, fonts, absolute."""
    return css_loads(css, base_url)


def sitemap_links(body: bytes, base_url: str | None = None) -> tuple[list[str], bool]:
    """Return (locations, is_index) of a sitemap or sitemap index (gzip allowed).

    A relative ``<loc>`` is resolved against ``base_url`` (the sitemap's own URL) when given;
    a location that cannot be resolved comes back as written, for the caller to skip.
    """
    if body[:2] == b"\x1f\x8b":
        try:
            body = gzip.decompress(body)[:MAX_SITEMAP_BYTES]
        except (OSError, EOFError):
            return [], False
    is_index = b"<sitemapindex" in body[:2000]
    locs = []
    for m in SITEMAP_LOC.finditer(body):
        raw = html.unescape(m.group(1).decode("utf-8", "replace")).strip()
        if raw:
            locs.append(_resolve(raw, base_url))
    return locs, is_index


def robots_sitemaps(text: str, robots_url: str | None = None) -> list[str]:
    """The ``Sitemap:`` lines of a robots.txt, resolved against ``robots_url`` when given; a
    value that cannot be resolved comes back as written, for the caller to skip."""
    out = []
    for line in text.splitlines():
        key, _, value = line.lstrip("\ufeff").partition(":")
        value = value.split("#", 1)[0].strip() if " #" in value else value.strip()
        if key.strip().lower() == "sitemap" and value:
            out.append(_resolve(value, robots_url))
    return out


def _resolve(raw: str, base: str | None) -> str:
    if base is None:
        return raw
    return resolve(raw, base) or raw
