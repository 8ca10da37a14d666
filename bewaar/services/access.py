"""Replay access: exclusions of URL prefixes and per-site embargoes, each change audited."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from archive.settings import Settings
from bewaar.services.audit import change


def exclude(settings: Settings, actor: str, url_prefix: str,
            until: datetime | None = None) -> dict[str, Any]:
    """Block replay of every capture under ``url_prefix`` (until ``until``)."""
    from replay.access import exclude as block

    with change(settings, actor, "access.exclude", url_prefix, until=until) as c:
        rule = block(settings, url_prefix, until)
        c.note(rule=rule.to_dict())
        return rule.to_dict()


def allow(settings: Settings, actor: str, url_prefix: str) -> dict[str, Any]:
    """Lift the exclusion of ``url_prefix`` (or open it inside a wider excluded prefix)."""
    from replay.access import allow as open_up

    with change(settings, actor, "access.allow", url_prefix) as c:
        rule = open_up(settings, url_prefix)
        data = {"url_prefix": url_prefix, "removed": rule is None,
                "rule": rule.to_dict() if rule else None}
        c.note(removed=rule is None)
        return data


def embargo(settings: Settings, actor: str, site: str, days: int) -> dict[str, Any]:
    """No replay of ``site``'s captures younger than ``days`` days (0 lifts the embargo)."""
    from replay.access import set_embargo

    with change(settings, actor, "access.embargo", site, days=days) as c:
        set_embargo(settings, site, days)
        return {"site": c.target, "embargo_days": days or None}
