"""Replay access rules: pywb ACL lines kept in the database, written to one ``.aclj`` file.

``exclude`` stores a ``block`` rule for a URL prefix: pywb answers 451 and never shows the
content. ``until`` makes a rule lapse at a date (it is left out of the file from then on; the
file is rewritten whenever rules change and whenever replay starts). ``allow`` removes a rule for
exactly that prefix, or adds an ``allow`` rule that opens a narrower prefix inside a blocked one.
The per-site embargo lives on ``Site.embargo_days`` and becomes pywb's ``embargo`` setting.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from sqlalchemy import select

from archive.db import session_scope
from archive.errors import BewaarError, NotFoundError
from archive.models import AccessRule, Site
from archive.settings import Settings
from archive.warc.sortkey import surt_key


class AccessRuleError(BewaarError):
    """An access rule that cannot be stored (bad URL prefix, bad date)."""


@dataclass(frozen=True)
class Rule:
    url_prefix: str
    access: str
    until: datetime | None

    @property
    def active(self) -> bool:
        return self.until is None or _aware(self.until) > datetime.now(UTC)

    def to_dict(self) -> dict[str, object]:
        return {
            "url_prefix": self.url_prefix,
            "access": self.access,
            "until": self.until.isoformat() if self.until else None,
            "active": self.active,
        }


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def check_prefix(url_prefix: str) -> str:
    parts = urlsplit(url_prefix)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise AccessRuleError(f"not an http(s) URL prefix: {url_prefix!r}")
    return url_prefix


def acl_key(url_prefix: str) -> str:
    """The SURT key pywb compares a capture's key against (prefix match)."""
    key = surt_key(url_prefix)
    path = urlsplit(url_prefix).path
    if path in ("", "/"):
        return key.split(")")[0] + ")/"
    if path.endswith("/") and not key.endswith("/"):
        key += "/"  # SURT drops the slash; keep it, or /prive/ would also block /prive-beleid
    return key


def acl_keys(url_prefix: str) -> list[str]:
    """Keys for a rule: the prefix, plus the folder URL itself (exact) for a prefix ending in /."""
    key = acl_key(url_prefix)
    keys = [key]
    if key.endswith("/") and not key.endswith(")/"):
        keys.append(key[:-1] + "###")  # pywb's exact-match suffix
    return keys


def list_rules(settings: Settings) -> list[Rule]:
    with session_scope(settings) as db:
        return [
            Rule(r.url_prefix, r.access, r.until)
            for r in db.scalars(select(AccessRule).order_by(AccessRule.url_prefix))
        ]


def exclude(settings: Settings, url_prefix: str, until: datetime | None = None) -> Rule:
    """Block replay of every capture under ``url_prefix`` (until ``until``, if given)."""
    check_prefix(url_prefix)
    if until is not None and _aware(until) <= datetime.now(UTC):
        raise AccessRuleError(f"--until {until.date()} is not in the future")
    with session_scope(settings) as db:
        row = db.scalar(select(AccessRule).where(AccessRule.url_prefix == url_prefix))
        if row is None:
            row = AccessRule(url_prefix=url_prefix, access="block")
            db.add(row)
        row.access, row.until = "block", until
        rule = Rule(row.url_prefix, row.access, row.until)
    write_acl(settings)
    return rule


def allow(settings: Settings, url_prefix: str) -> Rule | None:
    """Lift the rule for exactly ``url_prefix``, or open it inside a wider blocked prefix.

    Returns the allow rule that was added, or None when a rule was removed (or none applied).
    """
    check_prefix(url_prefix)
    with session_scope(settings) as db:
        row = db.scalar(select(AccessRule).where(AccessRule.url_prefix == url_prefix))
        result = None
        if row is not None and row.access == "block":
            db.delete(row)
        elif row is None and any(
            acl_key(url_prefix).startswith(acl_key(r.url_prefix))
            for r in db.scalars(select(AccessRule).where(AccessRule.access == "block"))
        ):  # inside a wider blocked prefix: open this part
            row = AccessRule(url_prefix=url_prefix, access="allow")
            db.add(row)
            result = Rule(row.url_prefix, row.access, row.until)
    write_acl(settings)
    return result


def set_embargo(settings: Settings, site_name: str, days: int) -> None:
    """No replay of the site's captures younger than ``days`` days (0 lifts the embargo)."""
    if days < 0:
        raise AccessRuleError("embargo days must be 0 or more")
    with session_scope(settings) as db:
        site = db.scalar(select(Site).where(Site.name == site_name))
        if site is None:
            raise NotFoundError(f"no site named {site_name!r}")
        site.embargo_days = days or None
    from replay.collections import write_config

    write_config(settings)


def acl_lines(rules: list[Rule]) -> list[str]:
    lines = []
    for rule in rules:
        if not rule.active:
            continue
        body = {"access": rule.access, "url": rule.url_prefix}
        lines += [f"{key} - {json.dumps(body)}" for key in acl_keys(rule.url_prefix)]
    # pywb searches ACL files in reverse order.
    return sorted(set(lines), reverse=True)


def write_acl(settings: Settings) -> Path:
    """Write the active rules to ``collections_dir/access-rules.aclj`` (temp name, rename)."""
    from archive.files import write_atomic
    from replay.collections import ACL_NAME

    path = settings.collections_dir / ACL_NAME
    lines = acl_lines(list_rules(settings))
    write_atomic(path, "".join(line + "\n" for line in lines).encode())
    return path
