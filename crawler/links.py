"""Find links and page requisites in HTML, CSS and sitemaps (one parse per document)."""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterator
from urllib.parse import urljoin

import lxml.etree
import lxml.html

CSS_URL = re.compile(rb"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.I)
CSS_IMPORT = re.compile(rb"""@import\s+(?:"([^"]*)"|'([^']*)')""", re.I)
SITEMAP_LOC = re.compile(rb"<loc>\s*([^<\s]+)\s*</loc>", re.I)
REQUISITE_RELS = {
    "stylesheet", "icon", "shortcut", "apple-touch-icon", "apple-touch-icon-precomposed",
    "preload", "prefetch", "modulepreload", "manifest", "mask-icon",
}
SKIP_SCHEMES = ("mailto:", "javascript:", "tel:", "data:", "#", "about:", "blob:")


def _srcset(value: str) -> Iterator[str]:
    for candidate in value.split(","):
        part = candidate.strip().split(None, 1)
        if part:
            yield part[0]


def css_urls(css: bytes) -> list[str]:
    found: list[str] = []
    for m in CSS_URL.finditer(css):
        raw = m.group(1) or m.group(2) or m.group(3) or b""
        if raw:
            found.append(raw.decode("utf-8", "replace"))
    for m in CSS_IMPORT.finditer(css):
        raw = m.group(1) or m.group(2) or b""
        if raw:
            found.append(raw.decode("utf-8", "replace"))
    return found


def html_links(text: str, base_url: str) -> tuple[list[str], list[str]]:
    """Return (page links, requisites) as absolute URLs, in document order."""
    pages: list[str] = []
    reqs: list[str] = []
    if not text.strip():
        return pages, reqs
    try:
        doc = lxml.html.document_fromstring(text)
    except (lxml.etree.ParserError, ValueError):
        return pages, reqs
    base = base_url
    for el in doc.iter("base"):
        href = el.get("href")
        if href:
            base = urljoin(base_url, href.strip())
        break
    for el in doc.iter():
        tag = el.tag
        if not isinstance(tag, str):
            continue
        get = el.get
        if tag in ("a", "area"):
            href = get("href")
            if href:
                pages.append(href)
        elif tag in ("img", "source", "input", "track", "embed", "audio", "video", "script"):
            src = get("src")
            if src:
                reqs.append(src)
            srcset = get("srcset")
            if srcset:
                reqs.extend(_srcset(srcset))
            poster = get("poster")
            if poster:
                reqs.append(poster)
        elif tag in ("iframe", "frame"):
            src = get("src")
            if src:
                pages.append(src)
        elif tag == "link":
            rel = (get("rel") or "").lower().split()
            href = get("href")
            if href:
                if REQUISITE_RELS.intersection(rel):
                    reqs.append(href)
                    srcset = get("imagesrcset")
                    if srcset:
                        reqs.extend(_srcset(srcset))
                elif "alternate" in rel or "next" in rel or "prev" in rel:
                    pages.append(href)
        elif tag == "object":
            data = get("data")
            if data:
                reqs.append(data)
        elif tag == "style" and el.text:
            reqs.extend(css_urls(el.text.encode("utf-8", "replace")))
        if tag in ("body", "table", "td", "th") and get("background"):
            reqs.append(get("background") or "")
        style = get("style")
        if style and "url(" in style:
            reqs.extend(css_urls(style.encode("utf-8", "replace")))
    return _absolute(pages, base), _absolute(reqs, base)


def _absolute(urls: list[str], base: str) -> list[str]:
    out: list[str] = []
    for u in urls:
        u = u.strip()
        if not u or u.lower().startswith(SKIP_SCHEMES):
            continue
        try:
            out.append(urljoin(base, u).split("#", 1)[0])
        except ValueError:
            continue
    return out


def css_links(css: bytes, base_url: str) -> list[str]:
    return _absolute(css_urls(css), base_url)


def sitemap_links(body: bytes) -> tuple[list[str], bool]:
    """Return (locations, is_index) of a sitemap or sitemap index (gzip allowed)."""
    if body[:2] == b"\x1f\x8b":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError):
            return [], False
    is_index = b"<sitemapindex" in body[:2000]
    locs = [m.group(1).decode("utf-8", "replace").replace("&amp;", "&")
            for m in SITEMAP_LOC.finditer(body)]
    return locs, is_index


def robots_sitemaps(text: str) -> list[str]:
    out = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        if key.strip().lower() == "sitemap" and value.strip():
            out.append(value.strip())
    return out
