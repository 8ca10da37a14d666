"""What the replay check expects a page to load: ``archive.pageloads``, the one answer the
crawler uses too, so the check asks for exactly what the crawl fetched for a page."""

from __future__ import annotations

from archive.pageloads import charset_of, css_loads, page_loads, srcset_urls

__all__ = ["css_requisites", "html_requisites", "srcset_urls"]


def css_requisites(text: str | bytes, base: str) -> list[str]:
    """url(), @import and font references of a style sheet or style attribute, absolute."""
    return css_loads(text, base)


def html_requisites(body: bytes, page_url: str, content_type: str | None = None) -> list[str]:
    """Every requisite a browser would load for this HTML page (frames included), absolute, in
    document order. ``content_type`` is the page's Content-Type header (for its charset)."""
    return page_loads(body, page_url, charset_of(content_type)).requisites
