"""Replay access rules: pywb ACL lines kept in the database, written to ``.aclj`` files.

``exclude`` stores a ``block`` rule for a URL prefix, written for pywb as ``exclude``: its
captures leave every answer pywb gives (replay, calendar, Memento timemaps, the CDX API), as if
they had never been captured; no digest or date of them is shown. ``until`` makes a rule lapse at
a date (it is left out from then on; the files are rewritten whenever rules change, whenever
replay starts and every minute while ``bewaar replay serve`` runs). ``allow`` removes a rule for
exactly that prefix, or adds an ``allow`` rule that opens a narrower prefix inside a blocked one.

The per-site embargo (``Site.embargo_days``) is written as ACL lines too, with pywb's ``newer``
date condition, so that it holds in a running replay: pywb opens a collection's ACL file for
every query, and the files are replaced by rename. Each collection has its own file
(``<site>/acl/access-rules.aclj``): the rules, and when the site is embargoed one line per host
in its index plus the allow rules turned into "exclude when newer". (pywb's ``*,`` catch-all is
not used: pywb stops looking at the first rule of a lower top-level domain, so with rules for
other hosts in the file it would not be reached.) ``collections/access-rules.aclj`` holds the
rules alone.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO
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
        raise AccessRuleError("not an http(s) URL prefix: %(prefix)r", prefix=url_prefix)
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
        raise AccessRuleError("--until %(date)s is not in the future", date=until.date().isoformat())
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
            raise NotFoundError("no site named %(name)r", name=site_name)
        site.embargo_days = days or None
    write_acl(settings)


# pywb's "block" answers 451 on replay but still lists the capture in CDX API and timemaps.
PYWB_ACCESS = {"block": "exclude", "allow": "allow"}


def acl_lines(rules: list[Rule], embargo_days: int | None = None,
              hosts: Iterable[str] = ()) -> list[str]:
    """ACL lines for one collection, sorted the way pywb searches them (descending).

    With ``embargo_days``, each of ``hosts`` (SURT host keys like ``nl,justid)/``) gets a line
    excluding captures newer than that, and allow rules exclude them as well: an allow rule
    opens a blocked prefix, not the embargo.
    """
    embargo = {"access": "exclude", "newer": {"days": embargo_days}} if embargo_days else None
    by_key: dict[str, dict[str, object]] = {}
    if embargo:
        for host in hosts:
            by_key[host] = {**embargo, "url": "*"}
    for rule in rules:
        if not rule.active:
            continue
        body: dict[str, object] = {"access": PYWB_ACCESS[rule.access], "url": rule.url_prefix}
        if embargo and rule.access == "allow":
            body = {**embargo, "url": rule.url_prefix}
        for key in acl_keys(rule.url_prefix):
            by_key[key] = body
    return sorted((f"{key} - {json.dumps(body)}" for key, body in by_key.items()), reverse=True)


def collection_acl(settings: Settings, name: str) -> Path:
    """The ACL file of one collection (pywb's own layout: ``<coll>/acl/access-rules.aclj``)."""
    from replay.collections import ACL_NAME, collection_dir

    return collection_dir(settings, name) / "acl" / ACL_NAME


def write_acl(settings: Settings, *, extra_indexes: dict[str, list[Path]] | None = None,
              only: Iterable[str] | None = None) -> Path:
    """Write the active rules to ``collections_dir/access-rules.aclj`` and to every collection's
    own file (with its embargo); return the first. Each file is replaced by rename.

    ``extra_indexes`` names index files about to join a collection: their hosts are covered by
    its embargo before pywb can see them. ``only``: just these collections' files (and the
    first), e.g. the one a run joins, whose hosts changed; the others' did not (rewriting all of
    them per run made a harvest of N sites write N squared files).
    """
    from archive.files import write_atomic
    from replay.collections import ACL_NAME, collection_index, collection_names, locked

    root = settings.collections_dir
    root.mkdir(parents=True, exist_ok=True)
    extra = extra_indexes or {}
    with locked(root / ".acl.lock"):  # read and write together: the last writer has the latest
        rules = list_rules(settings)
        with session_scope(settings) as db:
            embargo = {s.name: s.embargo_days for s in db.scalars(select(Site))}
        path = root / ACL_NAME
        write_atomic(path, _text(acl_lines(rules)))
        names = sorted(set(collection_names(settings)) | set(extra))
        if only is not None:
            keep = set(only)
            names = [n for n in names if n in keep]
        for name in names:
            days = embargo.get(name)
            hosts: set[str] = set()
            if days:
                for index in [collection_index(settings, name), *extra.get(name, [])]:
                    hosts |= index_hosts(index)
            write_atomic(collection_acl(settings, name), _text(acl_lines(rules, days, hosts)))
    return path


def _text(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode()


def index_hosts(index: Path) -> set[str]:
    """The SURT host keys (``nl,justid)/``) of a sorted CDXJ index, without reading all of it:
    after each host it seeks to the first line past that host's lines."""
    hosts: set[str] = set()
    try:
        fh = open(index, "rb")  # noqa: SIM115
    except FileNotFoundError:
        return hosts
    with fh:
        size = os.fstat(fh.fileno()).st_size
        pos = 0
        while pos < size:
            fh.seek(pos)
            line = fh.readline()
            key = line.split(b" ", 1)[0]
            end = key.find(b")")
            if end > 0 and not key.startswith(b"!"):
                hosts.add(key[: end + 1].decode("utf-8", "replace") + "/")
                after = key[: end + 1][:-1] + b"*"  # ")" + 1: past every "host)..." line
            else:
                after = key + b"\xff"  # a header or a key without a host: step over it
            pos = _first_line_at_or_after(fh, size, after, pos + len(line))
    return hosts


def _first_line_at_or_after(fh: BinaryIO, size: int, target: bytes, lo: int) -> int:
    """Offset of the first line at or after ``lo`` (a line start) that sorts >= ``target``:
    galloping ahead from ``lo``, then bisecting, then reading the last few kilobytes."""
    step = 1 << 14
    while lo + step < size and (line := _line_after(fh, lo + step)) and line < target:
        lo = _line_start(fh, lo + step)  # that line, and every line before it, sorts lower
        step *= 2
    hi = min(size, lo + step)
    while hi - lo > 1 << 14:
        mid = (lo + hi) // 2
        if _line_after(fh, mid) >= target:
            hi = mid
        else:
            lo = _line_start(fh, mid)
    fh.seek(lo)
    while lo < size and (line := fh.readline()) and line < target:
        lo += len(line)
    return lo


def _line_after(fh: BinaryIO, pos: int) -> bytes:
    """The first line that begins at or after ``pos`` (b"" at the end)."""
    fh.seek(_line_start(fh, pos))
    return fh.readline()


def _line_start(fh: BinaryIO, pos: int) -> int:
    """The start of the first line that begins at or after ``pos``."""
    if pos == 0:
        return 0
    fh.seek(pos - 1)
    fh.readline()
    return fh.tell()
