"""What a browser loads to show a page, and where the page leads: one answer for crawl and replay.

The crawler (``crawler.links``) fetches what ``page_loads`` calls requisites and follows its
links; the replay check (``replay.requisites``) expects every requisite to replay. Both ask
this module, so the two can never disagree about a page.

The rules:

* **Base URL**: the first ``<base>`` that has an ``href``, resolved against the page URL (an
  ``href`` that does not resolve to http(s) is ignored, as browsers do).
* **Requisites** (loaded to show the page, from any host): ``img`` ``src``/``srcset``
  (also ``data-src``/``data-srcset`` of lazy-loading scripts), ``picture``/``video``/``audio``
  ``source`` ``src``/``srcset``, ``video`` ``src``/``poster``, ``audio`` ``src``, ``track``,
  ``script src``, ``embed src``, ``object data``, ``input type=image src``, the legacy
  ``background`` attribute of ``body``/``table``/``td``/``th``, SVG ``<image>``, ``<use>`` and
  ``<feImage>`` ``href``/``xlink:href``, ``url()``/``@import`` in ``<style>`` blocks and
  ``style`` attributes, and ``<link>`` whose ``rel`` set holds one of ``stylesheet`` (also
  ``alternate stylesheet``), ``icon``, ``apple-touch-icon[-precomposed]``, ``mask-icon``,
  ``manifest``, ``modulepreload``, or ``preload`` with a known ``as`` (a preload without a
  valid ``as`` is not fetched by browsers; with ``as=image`` its ``imagesrcset`` counts too).
  ``prefetch``, ``preconnect``, ``dns-prefetch`` and ``prerender`` are hints for a later page,
  not requisites. ``<meta property="og:image">`` is not a requisite: no browser loads it to
  show the page (it is for link previews elsewhere).
* **Frames**: ``iframe``/``frame`` ``src`` is a requisite (the page shows it), listed in
  ``frames`` as well because it is itself a document with requisites. An ``iframe srcdoc``
  is parsed in place: its requisites and frames are the page's.
* **Links** (where the page leads, for the crawler's scope to judge): ``a``/``area`` ``href``
  (also SVG ``xlink:href``), ``<link rel=alternate|next|prev>`` (unless the ``rel`` set also
  makes it a requisite), and the target of ``<meta http-equiv=refresh>``.
* Ignored everywhere: empty and fragment-only references, ``javascript:``, ``data:``,
  ``mailto:``, ``tel:``, ``about:``, ``blob:``; the contents of ``<template>``. Requisites are
  http(s) only; links keep other schemes, so the crawler can record why it skipped them.
  ``<noscript>`` contents count (a browser without scripts loads them).
* URLs come back absolute, without fragment, unique, in document order; the page itself is
  never its own requisite.
* **CSS**: ``url()`` (quoted, unquoted, with CSS escapes), ``@import`` with a string or
  ``url()``, ``@font-face`` ``src``, strings in ``image-set()``; not in comments, and not the
  ``@namespace`` URL (a name, never loaded).
* **Encoding**: the charset of the Content-Type header when given, else ``<meta charset>``
  (or a byte-order mark), else UTF-8 when the bytes are valid UTF-8, else windows-1252.
"""

from __future__ import annotations

import codecs
import re
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import urljoin, urlsplit

from lxml import etree

IGNORED_SCHEMES = ("javascript:", "data:", "mailto:", "tel:", "about:", "blob:")
REQUISITE_RELS = frozenset({
    "stylesheet", "icon", "apple-touch-icon", "apple-touch-icon-precomposed", "mask-icon",
    "manifest", "modulepreload",
})
LINK_RELS = frozenset({"alternate", "next", "prev"})
PRELOAD_AS = frozenset({
    "audio", "document", "embed", "fetch", "font", "image", "json", "object", "script",
    "style", "track", "video", "worker",
})
BACKGROUND_TAGS = frozenset({"body", "table", "td", "th"})
XLINK_HREF = "xlink:href"
MAX_SRCDOC_NESTING = 3

_STRIP = "".join(chr(c) for c in range(0x21))  # C0 controls and space, as the URL parser strips
_TAB_NEWLINE = re.compile(r"[\t\n\r]")
# Case-insensitive only where CSS and HTML are (keywords): a case-folded negated class is slow
# to compile, and this module loads in the crawl worker's start-up.
_CSS = re.compile(
    r"""/\*.*?(?:\*/|\Z)"""  # a comment: skipped
    r"""|(?<![\w\\-])(?i:url)\(\s*(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)'"""
    r"""|((?:[^)\s"'\\]|\\.)*))\s*\)"""  # url(): groups 1-3
    r"""|(?i:@import)\s*(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)')"""  # groups 4-5
    r"""|"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*'""",  # any other string: skipped
    re.S,
)
_CSS_ESCAPE = re.compile(r"\\(?:([0-9a-fA-F]{1,6})(?:\r\n|[ \t\n\r\f])?|(\r\n|[\n\r\f])|(.))", re.S)
_NAMESPACE = re.compile(r"(?i:@namespace)\b[^;{}]*")
_IMAGE_SET = re.compile(r"(?<![\w-])(?i:(?:-webkit-)?image-set)\(")
_CSS_STRING = re.compile(r"""((?i:type)\(\s*)?(?:"((?:[^"\\\n]|\\.)*)"|'((?:[^'\\\n]|\\.)*)')""",
                         re.S)
_CHARSET_RULE = re.compile(rb'^@charset "([\w.:-]{1,40})";')
_META_CHARSET = re.compile(rb"""<(?i:meta)\b[^>]*?(?i:charset)\s*=\s*["']?\s*([\w.:-]{1,40})""")
_CT_CHARSET = re.compile(r"""(?i:charset)\s*=\s*["']?\s*([\w.:-]{1,40})""")
_Add = Callable[[str | None], None]
_REFRESH = re.compile(r"""^\s*[\d.]*\s*[;,]?\s*(?:(?i:url)\s*=\s*)?(?:"([^"]*)"?|'([^']*)'?|(.*))$""",
                      re.S)


@dataclass(frozen=True, slots=True)
class PageLoads:
    """What a page loads (``requisites``, frames included), which of those are ``frames``, and
    the ``links`` it offers; absolute URLs, unique, in document order."""

    requisites: list[str]
    frames: list[str]
    links: list[str]


def resolve(ref: str | None, base: str) -> str | None:
    """``ref`` made absolute against ``base`` without its fragment, or None when a browser
    would load nothing for it (empty, fragment-only, an ignored scheme, unparseable)."""
    if not ref:
        return None
    ref = ref.strip(_STRIP)
    if not ref or ref[0] == "#":
        return None
    if "\t" in ref or "\n" in ref or "\r" in ref:
        ref = _TAB_NEWLINE.sub("", ref)
    if ref[:11].lower().startswith(IGNORED_SCHEMES):
        return None
    if "\\" in ref:
        ref = ref.replace("\\", "/")  # browsers read a backslash as a slash in http(s) URLs
    url = _join(base, ref)
    if url is None:
        try:
            url = urljoin(base, ref)
        except ValueError:
            return None
    return url.split("#", 1)[0] or None


@lru_cache(maxsize=64)
def _base_parts(base: str) -> tuple[str, str] | None:
    try:
        parts = urlsplit(base)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    origin = f"{parts.scheme}://{parts.netloc}"
    path = parts.path or "/"
    return origin, origin + path[: path.rfind("/") + 1]


def _join(base: str, ref: str) -> str | None:
    """``urljoin`` for the common references (a path, a plain absolute URL) without its cost;
    None leaves a reference to ``urljoin`` (dot segments, scheme-relative, other schemes …)."""
    parts = _base_parts(base)
    if parts is None:
        return None
    c = ref[0]
    if c == "/":
        if "//" in ref or "/." in ref:
            return None
        return parts[0] + ref
    if ref.startswith(("http://", "https://")):
        rest = ref[ref.index("//") + 2:]
        return None if "//" in rest or "/." in rest or "[" in rest else ref
    if c in "?.;#" or "//" in ref or "/." in ref or ":" in ref.split("/", 1)[0]:
        return None
    return parts[1] + ref


def _is_http(url: str) -> bool:
    return url.startswith(("http://", "https://"))


def srcset_urls(value: str) -> list[str]:
    """The candidate URLs of a ``srcset`` (HTML's parsing rules: a URL runs to white space, a
    URL may hold commas, a trailing comma ends a candidate without descriptors, commas inside
    parentheses of a descriptor do not split)."""
    urls: list[str] = []
    pos, n = 0, len(value)
    while True:
        while pos < n and (value[pos] in " \t\n\r\f,"):
            pos += 1
        if pos >= n:
            return urls
        start = pos
        while pos < n and value[pos] not in " \t\n\r\f":
            pos += 1
        url = value[start:pos]
        if url.endswith(","):
            url = url.rstrip(",")
        else:
            depth = 0
            while pos < n:
                c = value[pos]
                if c == "(":
                    depth += 1
                elif c == ")":
                    depth = max(0, depth - 1)
                elif c == "," and depth == 0:
                    break
                pos += 1
        if url:
            urls.append(url)


def _css_unescape(text: str) -> str:
    if "\\" not in text:
        return text

    def one(m: re.Match[str]) -> str:
        if m.group(1):
            cp = int(m.group(1), 16)
            return chr(cp) if 0 < cp <= 0x10FFFF and not 0xD800 <= cp <= 0xDFFF else "\ufffd"
        return "" if m.group(2) else m.group(3)

    return _CSS_ESCAPE.sub(one, text)


def css_references(css: str) -> list[str]:
    """The URL references in a style sheet or ``style`` attribute, as written (unescaped, not
    resolved), in the order they appear."""
    low = css.lower()
    if "url(" not in low and "@import" not in low and "image-set" not in low:
        return []
    skip: list[tuple[int, int]] = []
    if "@namespace" in low:
        skip = [m.span() for m in _NAMESPACE.finditer(css)]
    found: list[tuple[int, str]] = []
    for m in _CSS.finditer(css):
        if m.lastindex is None:
            continue  # a comment or another string
        if skip and any(a <= m.start() < b for a, b in skip):
            continue
        raw = m.group(m.lastindex)
        if raw:
            found.append((m.start(), _css_unescape(raw)))
    if "image-set" in low:
        found.extend(_image_set_strings(css))
        found.sort(key=lambda t: t[0])
    return [ref for _, ref in found]


def _image_set_strings(css: str) -> Iterable[tuple[int, str]]:
    for m in _IMAGE_SET.finditer(css):
        depth, pos, end = 1, m.end(), len(css)
        while pos < end and depth:
            c = css[pos]
            if c in "\"'":
                close = css.find(c, pos + 1)
                pos = end if close < 0 else close
            elif c == "(":
                depth += 1
            elif c == ")":
                depth -= 1
            pos += 1
        for s in _CSS_STRING.finditer(css, m.end(), pos):
            raw = s.group(2) if s.group(2) is not None else s.group(3)
            if not s.group(1) and raw:
                yield s.start(), _css_unescape(raw)


def decode_css(css: bytes, fallback: str = "utf-8") -> str:
    """A style sheet's text: byte-order mark, then ``@charset``, then ``fallback`` (UTF-8)."""
    if css.startswith(codecs.BOM_UTF8):
        return css[3:].decode("utf-8", "replace")
    if css.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return css.decode("utf-16", "replace")
    m = _CHARSET_RULE.match(css)
    encoding = _known_encoding(m.group(1).decode("ascii")) if m else None
    return css.decode(encoding or fallback, "replace")


def css_loads(css: str | bytes, url: str) -> list[str]:
    """What a style sheet (or style attribute) at ``url`` loads: absolute http(s), unique."""
    text = decode_css(css) if isinstance(css, bytes) else css
    out: dict[str, None] = {}
    for ref in css_references(text):
        u = resolve(ref, url)
        if u and _is_http(u):
            out.setdefault(u, None)
    return list(out)


# -- HTML ------------------------------------------------------------------------------------

def _known_encoding(label: str | None) -> str | None:
    """A charset label as libxml2 and Python both read it; ASCII and Latin-1 mean
    windows-1252, as in browsers. None for an unknown label."""
    if not label:
        return None
    try:
        name = codecs.lookup(label.strip().strip("\"'")).name
    except LookupError:
        return None
    return "cp1252" if name in ("ascii", "latin-1", "iso8859-1") else name


def charset_of(content_type: str | bytes | None) -> str | None:
    """The charset named by a Content-Type header value, if any."""
    if isinstance(content_type, bytes):
        content_type = content_type.decode("latin-1")
    m = _CT_CHARSET.search(content_type or "")
    return m.group(1) if m else None


def _encoding_for(body: bytes, hint: str | None) -> str | None:
    encoding = _known_encoding(hint)
    if encoding:
        return encoding
    if body.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return None  # libxml2 reads the byte-order mark
    m = _META_CHARSET.search(body, 0, 2048)
    if m and (encoding := _known_encoding(m.group(1).decode("ascii"))):
        return encoding
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


_parsers = threading.local()


def _parser(encoding: str | None) -> etree.HTMLParser:
    cache: dict[str | None, etree.HTMLParser] = _parsers.__dict__.setdefault("cache", {})
    parser = cache.get(encoding)
    if parser is None:
        try:
            parser = etree.HTMLParser(encoding=encoding)
        except LookupError:
            parser = _parser(None) if encoding else etree.HTMLParser()
        cache[encoding] = parser
    return parser


def _parse(body: bytes | str, encoding: str | None) -> etree._Element | None:
    if isinstance(body, str):
        body = body.encode("utf-8", "surrogatepass")
        encoding = "utf-8"
    if not body.strip():
        return None
    try:
        return etree.fromstring(body, _parser(_encoding_for(body, encoding)))
    except (etree.ParserError, etree.XMLSyntaxError, ValueError):
        return None


def page_loads(body: bytes | str, url: str, encoding: str | None = None) -> PageLoads:
    """What a browser loads to show the HTML page at ``url`` and the links it offers.

    ``encoding`` is the charset of the HTTP Content-Type header, if it named one (see
    ``charset_of``); a ``str`` body is taken as already decoded.
    """
    doc = _parse(body, encoding)
    reqs: dict[str, None] = {}
    frames: dict[str, None] = {}
    links: dict[str, None] = {}
    if doc is not None:
        base = url
        for el in doc.iter("base"):
            href = el.get("href")
            if href is not None:
                resolved = resolve(href, url)
                if resolved and _is_http(resolved):
                    base = resolved
                break
        _walk(doc, base, reqs, frames, links, 0)
    reqs.pop(url.split("#", 1)[0], None)
    frames.pop(url.split("#", 1)[0], None)
    return PageLoads(list(reqs), list(frames), list(links))


def _walk(doc: etree._Element, base: str, reqs: dict[str, None], frames: dict[str, None],
          links: dict[str, None], nesting: int) -> None:
    def req(ref: str | None) -> None:
        u = resolve(ref, base)
        if u and _is_http(u):
            reqs.setdefault(u, None)

    def srcset(value: str | None) -> None:
        if value:
            for ref in srcset_urls(value):
                req(ref)

    def css(text: str | None) -> None:
        if text:
            for ref in css_references(text):
                req(ref)

    def link(ref: str | None) -> None:
        u = resolve(ref, base)
        if u:
            links.setdefault(u, None)

    template: etree._Element | None = None
    for el in doc.iter():
        tag = el.tag
        if not isinstance(tag, str):
            continue  # a comment or processing instruction
        if template is not None:
            if any(a is template for a in el.iterancestors("template")):
                continue
            template = None
        get = el.get
        if tag == "a" or tag == "area":
            link(get("href") or get(XLINK_HREF))
        elif tag == "img":
            req(get("src"))
            srcset(get("srcset"))
            req(get("data-src"))
            srcset(get("data-srcset"))
        elif tag == "link":
            _link_element(el, req, srcset, link)
        elif tag == "script":
            req(get("src") or get(XLINK_HREF))
        elif tag == "source":
            req(get("src"))
            srcset(get("srcset"))
            srcset(get("data-srcset"))
        elif tag == "style":
            css(el.text)
        elif tag in ("iframe", "frame"):
            u = resolve(get("src"), base)
            if u and _is_http(u):
                reqs.setdefault(u, None)
                frames.setdefault(u, None)
            srcdoc = get("srcdoc")
            if srcdoc and tag == "iframe" and nesting < MAX_SRCDOC_NESTING:
                inner = _parse(srcdoc, None)
                if inner is not None:
                    _walk(inner, base, reqs, frames, links, nesting + 1)
        elif tag == "video":
            req(get("src"))
            req(get("poster"))
        elif tag in ("audio", "track", "embed"):
            req(get("src"))
        elif tag == "object":
            req(get("data"))
        elif tag == "input":
            if (get("type") or "").strip().lower() == "image":
                req(get("src"))
        elif tag in ("image", "use", "feimage"):
            ref = get("href") or get(XLINK_HREF)
            if ref is None and tag == "image":
                ref = get("src")  # outside SVG, HTML parses <image> as <img>
                srcset(get("srcset"))
            req(ref)
        elif tag == "meta":
            if (get("http-equiv") or "").strip().lower() == "refresh":
                m = _REFRESH.match(get("content") or "")
                if m:
                    link(next((g for g in m.groups() if g is not None), None))
        elif tag == "template":
            template = el
            continue
        if tag in BACKGROUND_TAGS:
            req(get("background"))
        style = get("style")
        if style:
            css(style)


def _link_element(el: etree._Element, req: _Add, srcset: _Add, link: _Add) -> None:
    rels = set((el.get("rel") or "").lower().split())
    if not rels:
        return
    is_req = not REQUISITE_RELS.isdisjoint(rels)
    kind = (el.get("as") or "").strip().lower()
    if not is_req and "preload" in rels and kind in PRELOAD_AS:
        is_req = True
    if is_req:
        req(el.get("href"))
        if "preload" in rels and kind == "image":
            srcset(el.get("imagesrcset"))
    elif not LINK_RELS.isdisjoint(rels):
        link(el.get("href"))
