"""What a crawl may fetch: same host by default, include/exclude patterns, robots.txt and traps.

``Scope.check_page`` returns None when a linked page may be fetched, or a reason (one of
``REASONS``) why not. Page requisites (CSS, images, fonts, scripts) come from any host and only
meet the exclude patterns and the size of the frontier.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from urllib.parse import urlsplit, urlunsplit

from protego import Protego

REASONS = (
    "out-of-scope",  # another host, or not matching an include pattern
    "excluded",  # matches an exclude pattern of the site
    "robots",  # robots.txt disallows it (policy obey)
    "depth",  # more links away from a seed than max_depth
    "max-pages",  # the page budget of the site is spent
    "path-repeat",  # a path segment repeats more than max_path_repeats times (a trap)
    "query-variants",  # too many query strings for one path (a calendar or filter trap)
    "not-http",  # mailto:, javascript:, ftp: …
    "bad-url",  # not a URL a browser could fetch: relative with nothing to resolve it, no host …
)


def url_problem(url: str) -> str | None:
    """None for an absolute http(s) URL with a host, else ``not-http`` or ``bad-url``."""
    try:
        parts = urlsplit(url.strip())
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError:
        return "bad-url"
    if not parts.scheme:
        return "bad-url"
    if parts.scheme.lower() not in ("http", "https"):
        return "not-http"
    if not parts.hostname:
        return "bad-url"
    return None


def canonical(url: str) -> str:
    """The URL used to decide 'seen before': no fragment, lower-case scheme and host."""
    parts = urlsplit(url.strip())
    netloc = parts.netloc.lower()
    if parts.scheme == "http" and netloc.endswith(":80"):
        netloc = netloc[:-3]
    elif parts.scheme == "https" and netloc.endswith(":443"):
        netloc = netloc[:-4]
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))


@dataclass
class Scope:
    hosts: set[str]
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    max_depth: int = 20
    max_pages: int = 10_000
    max_path_repeats: int = 3
    max_query_variants: int = 50
    obey_robots: bool = True
    pages: int = 0
    robots: dict[str, Protego | None] = field(default_factory=dict)
    user_agent: str = "Bewaarplaats"
    _include: list[re.Pattern[str]] = field(default_factory=list)
    _exclude: list[re.Pattern[str]] = field(default_factory=list)
    _queries: dict[tuple[str, str], set[str]] = field(default_factory=lambda: defaultdict(set))

    def __post_init__(self) -> None:
        self.hosts = {h.lower() for h in self.hosts}
        self._include = [re.compile(p) for p in self.include]
        self._exclude = [re.compile(p) for p in self.exclude]

    def add_host(self, host: str) -> None:
        self.hosts.add(host.lower())

    def set_robots(self, netloc: str, text: str | None) -> None:
        self.robots[netloc] = Protego.parse(text) if text else None

    def excluded(self, url: str) -> bool:
        return any(p.search(url) for p in self._exclude)

    def robots_allows(self, url: str) -> bool:
        if not self.obey_robots:
            return True
        rp = self.robots.get(urlsplit(url).netloc)
        return rp is None or rp.can_fetch(url, self.user_agent)

    def in_scope(self, url: str) -> str | None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return "not-http"
        if self._include:
            if not any(p.search(url) for p in self._include):
                return "out-of-scope"
        elif (parts.hostname or "") not in self.hosts:
            return "out-of-scope"
        if self.excluded(url):
            return "excluded"
        return None

    def check_page(self, url: str, depth: int) -> str | None:
        """None when the page may be queued (and then counts against max_pages)."""
        reason = self.in_scope(url)
        if reason:
            return reason
        if depth > self.max_depth:
            return "depth"
        parts = urlsplit(url)
        segments = [s for s in parts.path.split("/") if s]
        if segments and max(Counter(segments).values()) > self.max_path_repeats:
            return "path-repeat"
        if parts.query:
            variants = self._queries[(parts.netloc, parts.path)]
            if parts.query not in variants:
                if len(variants) >= self.max_query_variants:
                    return "query-variants"
                variants.add(parts.query)
        if not self.robots_allows(url):
            return "robots"
        if self.pages >= self.max_pages:
            return "max-pages"
        self.pages += 1
        return None

    def check_requisite(self, url: str) -> str | None:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            return "not-http"
        if self.excluded(url):
            return "excluded"
        if (parts.hostname or "") in self.hosts and not self.robots_allows(url):
            return "robots"
        return None
