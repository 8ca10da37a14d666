"""Which web documents a search may show: the replay access rules, as pywb applies them.

pywb takes, for a capture, the most specific rule whose key is a prefix of the capture's SURT
key (``replay.access.acl_keys``): an exclusion hides it unless a narrower allow rule opens it.
A site's embargo hides captures newer than its days, allow rules included. A document is the
text of one URL captured once or more (revisits): it is hidden when its first capture is; when
only its newer captures are embargoed, the hit opens the first.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session


@dataclass
class Access:
    """The rules in force now: (block keys, allow keys) and each embargoed site's cutoff."""

    blocks: list[str] = field(default_factory=list)
    allows: list[str] = field(default_factory=list)
    cutoffs: dict[str, datetime] = field(default_factory=dict)  # site -> newest replayable

    @classmethod
    def now(cls, db: Session) -> Access:
        from archive.models import AccessRule, Site
        from replay.access import Rule, acl_keys

        blocks: list[str] = []
        allows: list[str] = []
        for r in db.scalars(select(AccessRule)):
            if not Rule(r.url_prefix, r.access, r.until).active:
                continue
            (blocks if r.access == "block" else allows).extend(acl_keys(r.url_prefix))
        now = datetime.now(UTC)
        cutoffs = {s.name: now - timedelta(days=s.embargo_days)
                   for s in db.scalars(select(Site).where(Site.embargo_days.is_not(None)))
                   if s.embargo_days}
        return cls(blocks, allows, cutoffs)

    # In SQL: one condition true for the documents to leave out ---------------------------
    def hidden_sql(self, params: dict[str, Any]) -> str | None:
        def starts(key: str) -> str:
            n = len(params)
            if key.endswith("###"):  # pywb's exact match of a folder URL
                params[f"k{n}"] = key[:-3]
                return f"d.surt = :k{n}"
            params[f"k{n}"], params[f"n{n}"] = key, len(key)
            return f"substr(d.surt, 1, :n{n}) = :k{n}"

        parts = []
        for b in self.blocks:
            inner = [a for a in self.allows if a.startswith(b.rstrip("#")) and len(a) > len(b)]
            cond = starts(b)
            if inner:
                cond += " AND NOT (" + " OR ".join(starts(a) for a in inner) + ")"
            parts.append(f"({cond})")
        for site, cutoff in self.cutoffs.items():
            n = len(params)
            params[f"s{n}"], params[f"c{n}"] = site, cutoff
            parts.append(f"(d.source = :s{n} AND d.first_at > :c{n})")
        if not parts:
            return None
        return "(d.kind = 'web' AND (" + " OR ".join(parts) + "))"

    # In Python: the same, for one hit ----------------------------------------------------
    def state(self, kind: str, source: str, surt: str | None, first_at: datetime) -> str | None:
        """"excluded", "embargoed" or None for a document."""
        if kind != "web":
            return None
        key = surt or ""

        def hit(k: str) -> bool:
            return key == k[:-3] if k.endswith("###") else key.startswith(k)

        best = max((k for k in self.blocks + self.allows if hit(k)), key=len, default=None)
        if best is not None and best in self.blocks:
            return "excluded"
        cutoff = self.cutoffs.get(source)
        if cutoff is not None and _aware(first_at) > cutoff:
            return "embargoed"
        return None

    def open_newest(self, source: str, at: datetime) -> bool:
        """Whether the newest capture may be replayed (else the hit opens the first)."""
        cutoff = self.cutoffs.get(source)
        return cutoff is None or _aware(at) <= cutoff


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)
