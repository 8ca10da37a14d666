"""One convention for times: Dutch local time labelled with its zone for people, ISO 8601 UTC
with a Z for scripts; a time without a zone (as the database gives it back) is UTC."""

from __future__ import annotations

import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta, timezone

import pytest

from archive.timefmt import human, iso_utc

# 2026: summer time starts 29 March 01:00 UTC (02:00 CET → 03:00 CEST) and ends 25 October
# 01:00 UTC (03:00 CEST → 02:00 CET, so 02:xx local happens twice).
CASES = [
    (datetime(2026, 12, 1, 8, 38, 44, 987654), "01-12-2026 09:38:44 CET", "2026-12-01T08:38:44Z"),
    (datetime(2026, 3, 29, 0, 59, 59), "29-03-2026 01:59:59 CET", "2026-03-29T00:59:59Z"),
    (datetime(2026, 3, 29, 1, 0, 0), "29-03-2026 03:00:00 CEST", "2026-03-29T01:00:00Z"),
    (datetime(2026, 10, 25, 0, 30, 0), "25-10-2026 02:30:00 CEST", "2026-10-25T00:30:00Z"),
    (datetime(2026, 10, 25, 1, 30, 0), "25-10-2026 02:30:00 CET", "2026-10-25T01:30:00Z"),
    (datetime(2026, 12, 31, 23, 30, 0), "01-01-2027 00:30:00 CET", "2026-12-31T23:30:00Z"),
    (datetime(2025, 5, 1, 9, 0, 0), "01-05-2025 11:00:00 CEST", "2025-05-01T09:00:00Z"),
]


@pytest.mark.parametrize(("naive_utc", "shown", "iso"), CASES)
def test_human_and_iso(naive_utc: datetime, shown: str, iso: str) -> None:
    aware = naive_utc.replace(tzinfo=UTC)
    assert human(naive_utc) == human(aware) == shown  # naive is UTC
    assert iso_utc(naive_utc) == iso_utc(aware) == iso
    # the same instant given in another zone reads the same
    elsewhere = aware.astimezone(timezone(timedelta(hours=-5)))
    assert human(elsewhere) == shown and iso_utc(elsewhere) == iso


def test_nothing_is_empty() -> None:
    assert human(None) == "" and iso_utc(None) is None


def test_minutes_only() -> None:
    assert human(datetime(2026, 12, 1, 8, 38, 44), seconds=False) == "01-12-2026 09:38 CET"


def test_iso_utc_reads_back_as_the_same_second() -> None:
    dt = datetime(2026, 7, 4, 12, 0, 1, 999999, tzinfo=UTC)
    assert datetime.fromisoformat(iso_utc(dt) or "") == dt.replace(microsecond=0)


@pytest.mark.skipif(shutil.which("date") is None, reason="needs GNU date")
def test_agrees_with_gnu_date() -> None:
    """GNU date and the system's zone database as the independent oracle, hour by hour across
    both changes of 2026."""
    starts = [datetime(2026, 3, 28, 22, tzinfo=UTC), datetime(2026, 10, 24, 22, tzinfo=UTC)]
    instants = [start + timedelta(minutes=20 * i) for start in starts for i in range(15)]
    env = {**os.environ, "TZ": "Europe/Amsterdam", "LC_ALL": "C"}
    for dt in instants:
        out = subprocess.run(["date", "-d", f"@{int(dt.timestamp())}", "+%d-%m-%Y %H:%M:%S %Z"],
                             capture_output=True, text=True, env=env, timeout=10, check=True)
        assert human(dt) == out.stdout.strip()
