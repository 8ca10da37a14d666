"""What became of each seed of a crawl: captured, answered with an error, failed, or skipped.

The spider (in the worker) fills a ``SeedOutcomes`` as the seeds are fetched and sends it to the
command as one ``{"type": "seeds", "seeds": [...]}`` line when the crawl closes. The command
(``crawler.run``) decides from it whether the run captured anything at all: a run none of whose
seeds was captured has failed, and its report says why, seed by seed.

Each outcome is ``{"url", "outcome", "reason", "detail", "status", "final_url"}``:

- ``outcome``: ``captured`` (a 2xx answer was archived), ``error`` (the server answered with a
  status outside 2xx: archived, but not the seed's content), ``failed`` (no answer: connection
  refused, DNS, timeout, TLS…), ``skipped`` (robots.txt, out of scope, excluded…) or
  ``not-fetched`` (the crawl ended before the seed's turn);
- ``reason``: a short code (``connection-refused``, ``dns``, ``timeout``, ``tls``,
  ``connection-error``, ``http-status``, ``robots``, ``out-of-scope``, ``excluded``, …);
- ``detail``: the message, for people.
"""

from __future__ import annotations

from typing import Any

CAPTURED = "captured"
FAILURE_REASONS = (  # (text in the fetch error, reason); the first match wins
    ("refused", "connection-refused"),
    ("dns lookup failed", "dns"),
    ("timeout", "timeout"),
    ("timed out", "timeout"),
    ("tls handshake", "tls"),
    ("ssl", "tls"),
    ("max redirections", "redirects"),
    ("not archived", "storage"),
)
SKIP_DETAILS = {
    "robots": "robots.txt does not allow it",
    "out-of-scope": "outside the site's scope (include patterns or hosts)",
    "excluded": "matches one of the site's exclude patterns",
    "not-http": "not an http(s) URL",
    "max-pages": "the site's page limit was reached",
}


def failure_reason(message: str) -> str:
    low = message.lower()
    for text, reason in FAILURE_REASONS:
        if text in low:
            return reason
    return "connection-error" if "connect" in low else "fetch-error"


class SeedOutcomes:
    def __init__(self, seeds: list[str]) -> None:
        self.by_url: dict[str, dict[str, Any]] = {
            url: {"url": url, "outcome": "not-fetched", "reason": "not-fetched",
                  "detail": "the crawl ended before this seed was fetched",
                  "status": None, "final_url": None}
            for url in seeds
        }

    def __contains__(self, url: object) -> bool:
        return url in self.by_url

    def _set(self, url: str, **values: Any) -> None:
        entry = self.by_url.get(url)
        if entry is not None and entry["outcome"] != CAPTURED:
            entry.update(values)

    def skipped(self, url: str, reason: str) -> None:
        self._set(url, outcome="skipped", reason=reason,
                  detail=SKIP_DETAILS.get(reason, f"skipped ({reason})"))

    def answered(self, url: str, status: int, final_url: str) -> None:
        moved = final_url if final_url != url else None
        if 200 <= status < 300:
            detail = f"HTTP {status}" + (f" from {moved}" if moved else "")
            self._set(url, outcome=CAPTURED, reason="ok", detail=detail, status=status,
                      final_url=moved)
        else:
            detail = f"the server answered HTTP {status}" + (f" (at {moved})" if moved else "")
            self._set(url, outcome="error", reason="http-status", detail=detail, status=status,
                      final_url=moved)

    def failed(self, url: str, message: str) -> None:
        self._set(url, outcome="failed", reason=failure_reason(message), detail=message)

    def to_list(self) -> list[dict[str, Any]]:
        return list(self.by_url.values())


def any_captured(outcomes: list[dict[str, Any]]) -> bool:
    return any(o.get("outcome") == CAPTURED for o in outcomes)


def why_none_captured(outcomes: list[dict[str, Any]], limit: int = 3) -> str:
    """One line for the run's error: why no seed was captured."""
    parts = [f"{o['url']}: {o['detail']}" for o in outcomes[:limit]]
    more = len(outcomes) - limit
    if more > 0:
        parts.append(f"and {more} more (see the report)")
    noun = "seed" if len(outcomes) == 1 else "seeds"
    return f"nothing captured from the {noun}: " + "; ".join(parts)
