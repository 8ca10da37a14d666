"""SURT, the sort key of CDXJ index lines (``nl,example)/path``), as pywb and cdxj-indexer make it.

pywb looks a capture up by the key its own ``surt.surt(url)`` gives, so a key written here must
be that key byte for byte. The ``surt`` package imports tldextract, and with it requests and
urllib3 (80 ms of start-up in every crawl worker), for a public-suffix lookup a SURT never uses;
so the key is made here, with the standard library, by the same steps (surt 0.3.1, its default
``DefaultIAURLCanonicalizer``, output without scheme). ``tests/test_sortkey.py`` compares it with
``surt.surt`` over many URLs and with cdxj-indexer over a real WARC. One deliberate difference:
for a host that looks like a dotted number but is not an IPv4 address, surt asks the resolver
(a DNS lookup while indexing); here it is not an address, which is what that lookup answers.

The steps, on the URL's UTF-8 bytes:

1. parse: trim, drop tabs and line breaks, add ``http://`` when there is no scheme, one
   ``http(s)://`` of a repeated run, split (userinfo and fragment are dropped);
2. host: unescape repeatedly, IDNA for a non-ASCII name, collapse ``..``, trim dots, a number
   or dotted number becomes its IPv4 address, otherwise lower case and escaped once; a leading
   ``www``, ``www2``… label goes; the scheme's default port goes;
3. path: unescape repeatedly, resolve ``.`` and ``..`` and repeated slashes (when there is a
   host), escape once, lower case, drop ASP.NET session ids and a trailing slash;
4. query: unescape and escape once, drop session ids, lower case, sort the parameters;
5. write: reversed host labels joined by commas, ``:port``, ``)``, path, ``?query``.
"""

from __future__ import annotations

import contextlib
import re
import socket
from urllib.parse import SplitResultBytes, quote_from_bytes, unquote_to_bytes

_HAS_SCHEME = re.compile(rb"^[a-zA-Z][a-zA-Z0-9+\-.]*:")
_REPEATED_HTTP = re.compile(rb"^(https?://)+")
_TABS_AND_BREAKS = re.compile(rb"[\t\n\r]")
_PARTS = re.compile(
    rb"^(?:(?P<scheme>[a-zA-Z][a-zA-Z0-9+.-]*):)?"
    rb"(?://(?P<netloc>[^/?#]*))?(?P<path>[^?#]*)(?:\?(?P<query>[^#]*))?(?:#.*)?$",
    re.DOTALL,
)
# Bytes left as they are when escaping, besides letters, digits and ``_.-~``: all printable ASCII
# except ``#`` and ``%`` (control bytes, space and non-ASCII are escaped).
_SAFE = b"!\"$&'()*+,-./:;<=>?@[\\]^_`{|}~"
_DECIMAL_IP = re.compile(rb"[1-9][0-9]*(?:\.[0-9]+){0,3}\Z")
_OCTAL_IP = re.compile(rb"0[0-7]*(?:\.[0-7]+){0,3}\Z")
_WWW = re.compile(rb"^www\d*\.")
_PATH_SESSION_IDS = (
    re.compile(rb"^(.*/)\((?:[a-z]\([0-9a-z]{24}\))+\)/([^?]+\.aspx.*)$", re.I),
    re.compile(rb"^(.*/)\([0-9a-z]{24}\)/([^?]+\.aspx.*)$", re.I),
)
_QUERY_SESSION_IDS = tuple(
    re.compile(rb"^(.*)(?:" + name + rb")(?:&(.*))?$", re.I)
    for name in (
        rb"jsessionid=[0-9a-zA-Z]{32}",
        rb"phpsessid=[0-9a-zA-Z]{32}",
        rb"sid=[0-9a-zA-Z]{32}",
        rb"ASPSESSIONID[a-zA-Z]{8}=[a-zA-Z]{24}",
        rb"cfid=[^&]+&cftoken=[^&]+",
    )
)
_DEFAULT_PORTS = {b"http": 80, b"https": 443}


def surt_key(url: str) -> str:
    """The URL's SURT; an URL that has none (a bad port, only spaces) is its own key."""
    if not url:
        return "-"
    if url.startswith("filedesc"):
        return url
    try:
        return _surt(url.encode("utf-8")).decode("ascii")
    except ValueError:  # also UnicodeError
        return url


def _unescape(data: bytes) -> bytes:
    """Percent-decode until nothing changes."""
    while True:
        decoded = unquote_to_bytes(data)
        if decoded == data:
            return data
        data = decoded


def _escape(data: bytes) -> bytes:
    return quote_from_bytes(data, safe=_SAFE).encode("ascii")


def _ipv4(host: bytes) -> bytes | None:
    """The dotted quad a number or a dotted number names (``3232235777``, ``0177.1``)."""
    if host.isdigit():
        return socket.inet_ntoa((int(host) & 0xFFFFFFFF).to_bytes(4, "big")).encode("ascii")
    if _DECIMAL_IP.match(host) or _OCTAL_IP.match(host):
        try:  # inet_aton reads the short and octal forms the resolver accepts
            return socket.inet_ntoa(socket.inet_aton(host.decode("ascii"))).encode("ascii")
        except OSError:
            return None
    return None


def _canonical_host(host: bytes) -> bytes:
    host = _unescape(host)
    if not host.isascii():
        with contextlib.suppress(UnicodeError):  # a name IDNA refuses stays as it is
            host = host.decode("utf-8", "ignore").encode("idna")
    host = host.replace(b"..", b".").strip(b".")
    return _ipv4(host) or _escape(host.lower())


def _resolve_dots(path: bytes) -> bytes:
    """``/a/./b/../c//d/`` → ``/a/c/d/``; a ``..`` above the root stays."""
    kept: list[bytes] = []
    for segment in path.split(b"/")[1:]:
        if segment == b".":
            continue
        if segment == b"..":
            if kept:
                kept.pop()
            else:
                kept.append(segment)
            continue
        kept.append(segment)
    if not kept:
        return b"/"
    return b"/" + b"".join(s + b"/" for s in kept[:-1] if s) + kept[-1]


def _without_session_ids(query: bytes) -> bytes:
    for pattern in _QUERY_SESSION_IDS:
        m = pattern.match(query)
        if m:
            query = m.group(1) + (m.group(2) or b"")
    return query


def _sorted_query(query: bytes) -> bytes:
    if len(query) <= 1:
        return query
    params = sorted(tuple(param.split(b"=", 1)) for param in query.split(b"&"))
    return b"&".join(b"=".join(param) for param in params)


def _surt(url: bytes) -> bytes:
    url = _TABS_AND_BREAKS.sub(b"", url.strip())
    if url and not _HAS_SCHEME.match(url):
        url = b"http://" + url
    url = _REPEATED_HTTP.sub(lambda m: m.group(1), url)
    m = _PARTS.match(url)
    if m is None or not m["scheme"]:
        raise ValueError("no scheme")
    scheme = m["scheme"]
    split = SplitResultBytes(scheme, (m["netloc"] or b"").rstrip(b":"), m["path"], b"", b"")
    port = split.port or None  # ValueError for a port that is not one
    host = split.hostname
    path = m["path"] or None
    if scheme.startswith(b"http") and host is None and path is not None:
        host, _, rest = path.lstrip(b"/").partition(b"/")  # http:////host/path
        path = b"/" + rest
    query = m["query"] or None

    if host:
        host = _canonical_host(host)
    if path is not None:
        path = _unescape(path)
        if host:
            path = _resolve_dots(path)
        path = _escape(path) if path else path
    elif host:
        path = b"/"
    if host:
        host = host.lower()  # also the escapes: %C3 → %c3
        if scheme != b"dns":
            host = _WWW.sub(b"", host, count=1)
    if port == _DEFAULT_PORTS.get(scheme.lower(), 0):
        port = None
    if path:
        path = path.lower()
        for pattern in _PATH_SESSION_IDS:
            found = pattern.match(path)
            if found:
                path = found.group(1) + found.group(2)
        if len(path) > 1 and path.endswith(b"/"):
            path = path[:-1]
    if query:
        query = _sorted_query(_without_session_ids(_escape(_unescape(query))).lower()) or None

    key = b",".join(reversed(host.split(b"."))) + (b":%d" % port if port else b"") + b")" \
        if host else scheme + b":"
    if path:
        key += path
    elif query is not None:
        key += b"/"
    if query is not None:
        key += b"?" + query
    return key
