"""What a browser loads to show a page: the requisites named in HTML and CSS."""

from __future__ import annotations

import re
from urllib.parse import urldefrag, urljoin

import lxml.html
from lxml import etree

CSS_URL = re.compile(r"""url\(\s*(?:"([^"]*)"|'([^']*)'|([^)'"\s]*))\s*\)""", re.I)
CSS_IMPORT = re.compile(r"""@import\s+(?:"([^"]*)"|'([^']*)')""", re.I)
LINK_RELS = {"stylesheet", "icon", "shortcut", "apple-touch-icon", "preload", "modulepreload",
             "mask-icon"}
SRC_TAGS = ("script", "embed", "iframe", "frame", "track", "audio")
SKIP_SCHEMES = ("data:", "javascript:", "about:", "mailto:", "blob:", "tel:", "#")


def _absolute(base: str, ref: str | None) -> str | None:
    if not ref:
        return None
    ref = ref.strip()
    if not ref or ref.lower().startswith(SKIP_SCHEMES):
        return None
    try:
        url = urldefrag(urljoin(base, ref))[0]
    except ValueError:
        return None
    return url if url.startswith(("http://", "https://")) else None


def srcset_urls(value: str) -> list[str]:
    """The URLs of a srcset: comma-separated candidates, each a URL and a descriptor."""
    urls = []
    for candidate in re.split(r",\s+|,(?=\S+\s+\d)", value.strip()):
        parts = candidate.strip().split()
        if parts:
            urls.append(parts[0].rstrip(","))
    return urls


def css_requisites(text: str, base: str) -> list[str]:
    """url() and @import references in a style sheet or style attribute."""
    found: list[str] = []
    for m in CSS_URL.finditer(text):
        found.append(next((g for g in m.groups() if g is not None), ""))
    for m in CSS_IMPORT.finditer(text):
        found.append(m.group(1) or m.group(2) or "")
    return _unique(_absolute(base, ref) for ref in found)


def _unique(urls: object) -> list[str]:
    seen: dict[str, None] = {}
    for u in urls:  # type: ignore[attr-defined]
        if u:
            seen.setdefault(u, None)
    return list(seen)


def html_requisites(body: bytes, page_url: str) -> list[str]:
    """Every requisite a browser would load for this HTML page, absolute, in document order."""
    if not body.strip():
        return []
    try:
        doc = lxml.html.document_fromstring(body)
    except (etree.ParserError, ValueError):
        return []
    base = page_url
    for el in doc.iter("base"):
        href = el.get("href")
        if href:
            base = urljoin(page_url, href.strip())
            break
    refs: list[str | None] = []
    for el in doc.iter():
        tag = el.tag if isinstance(el.tag, str) else ""
        if tag in ("img", "source"):
            refs.append(_absolute(base, el.get("src")))
            for attr in ("srcset", "data-srcset"):
                if el.get(attr):
                    refs.extend(_absolute(base, u) for u in srcset_urls(el.get(attr, "")))
        elif tag == "link":
            rels = set((el.get("rel") or "").lower().split())
            if rels & LINK_RELS:
                refs.append(_absolute(base, el.get("href")))
                if el.get("imagesrcset"):
                    refs.extend(_absolute(base, u) for u in srcset_urls(el.get("imagesrcset", "")))
        elif tag in SRC_TAGS or (tag == "input" and (el.get("type") or "").lower() == "image"):
            refs.append(_absolute(base, el.get("src")))
        elif tag == "video":
            refs.append(_absolute(base, el.get("src")))
            refs.append(_absolute(base, el.get("poster")))
        elif tag == "object":
            refs.append(_absolute(base, el.get("data")))
        elif tag == "style" and el.text:
            refs.extend(css_requisites(el.text, base))
        style = el.get("style") if tag else None
        if style and "url(" in style:
            refs.extend(css_requisites(style, base))
    return _unique(r for r in refs if r != page_url)
