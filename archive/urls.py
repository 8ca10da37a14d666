"""URL checks shared by the CLI and the crawler."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit


def normalise_seed(url: str) -> str:
    """Return a usable http(s) seed URL or raise ValueError with a clear reason."""
    text = url.strip()
    if "://" not in text:
        text = "http://" + text
    parts = urlsplit(text)
    if parts.scheme not in ("http", "https"):
        raise ValueError(f"not an http(s) URL: {url!r}")
    if not parts.hostname:
        raise ValueError(f"URL without a host: {url!r}")
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise ValueError(f"bad port in URL: {url!r}") from None
    path = parts.path or "/"
    return urlunsplit((parts.scheme, parts.netloc.lower(), path, parts.query, ""))
