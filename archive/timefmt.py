"""One convention for times: people read Dutch local time labelled with its zone, scripts read
ISO 8601 UTC.

- ``human(dt)`` → ``01-12-2026 09:38:44 CET`` (Europe/Amsterdam, day-month-year, whole seconds,
  the zone's abbreviation: CET in winter, CEST in summer).
- ``iso_utc(dt)`` → ``2026-12-01T08:38:44Z``.

A naive datetime (as SQLite gives them back) is taken as UTC: the database stores UTC.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

ZONE = ZoneInfo("Europe/Amsterdam")


def as_utc(dt: datetime) -> datetime:
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def human(dt: datetime | None, *, seconds: bool = True) -> str:
    """Local time in the Netherlands, labelled: ``01-12-2026 09:38:44 CET``; '' for None."""
    if dt is None:
        return ""
    local = as_utc(dt).astimezone(ZONE)
    return local.strftime("%d-%m-%Y %H:%M:%S %Z" if seconds else "%d-%m-%Y %H:%M %Z")


def iso_utc(dt: datetime | None) -> str | None:
    """ISO 8601 in UTC with a Z and whole seconds: ``2026-12-01T08:38:44Z``; None for None."""
    if dt is None:
        return None
    return as_utc(dt).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
