"""The one URL check for seeds and access rules, used by every face and by the crawler.

A seed is an absolute http(s) URL whose host is a domain name with at least one dot,
``localhost`` or an IP address; it holds no white space or control characters anywhere. A bare
host name (``www.example.nl``) gets ``http://``. What it returns is the URL as stored: the host
in lower case (IDN as punycode), an empty path as ``/``, no fragment.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit, urlunsplit

from archive.errors import BewaarError

_LABEL = re.compile(r"(?!-)[a-z0-9-]{1,63}(?<!-)")
_BAD_CHARS = re.compile(r"[\s\x00-\x1f\x7f]")


class SeedError(BewaarError, ValueError):
    """A URL that is no usable seed (a ValueError too, as it always was)."""


def _check_host(host: str, url: str) -> str:
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        raise SeedError("bad host name in URL: %(url)r", url=url) from None
    labels = ascii_host.rstrip(".").split(".")
    if not all(_LABEL.fullmatch(label) for label in labels):
        raise SeedError("bad host name %(host)r in URL: %(url)r", host=host, url=url)
    if len(labels) < 2 and ascii_host != "localhost":
        raise SeedError("%(url)r is not a web address: the host %(host)r has no domain "
                        "(like www.example.nl)", url=url, host=host)
    return ascii_host


def normalise_seed(url: str) -> str:
    """Return a usable http(s) seed URL or raise SeedError (a ValueError) with a clear
    reason."""
    text = url.strip()
    if not text:
        raise SeedError("empty URL")
    if _BAD_CHARS.search(text):
        raise SeedError("URL with white space or control characters: %(url)r", url=url)
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https"):
        raise SeedError("not an http(s) URL: %(url)r", url=url)
    if not parts.hostname:
        raise SeedError("URL without a host: %(url)r", url=url)
    try:
        port = parts.port
    except ValueError:
        raise SeedError("bad port in URL: %(url)r", url=url) from None
    host = _check_host(parts.hostname, url)
    if ":" in host:
        host = f"[{host}]"
    netloc = host if port is None else f"{host}:{port}"
    if parts.username or parts.password:
        raise SeedError("URL with a user name or password: %(url)r (never put secrets in a "
                        "seed)", url=url)
    return urlunsplit((parts.scheme.lower(), netloc, parts.path or "/", parts.query, ""))
