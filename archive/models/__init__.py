"""SQLAlchemy models: the record of every site, source, run, file, package and check.

Each domain has its own module; all share ``Base`` so Alembic sees one metadata (after
``load_all()``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from archive.models.base import Base, utcnow

if TYPE_CHECKING:
    from archive.models.chat import ChatExport, ChatRoom, ChatSeenEvent, ChatSource
    from archive.models.package import Package, SelectielijstCategory
    from archive.models.records import DestructionItem, DestructionList, Hold, Retention
    from archive.models.replay import AccessRule, CollectionRun, FixityCheck, QaCheck, QaPage
    from archive.models.service import (
        ApiToken,
        AuditEvent,
        ChatSchedule,
        JobClaim,
        JobRun,
        ServiceLock,
        User,
    )
    from archive.models.web import Capture, CrawlRun, PayloadDigest, Site, SkippedUrl, WarcFile

# Each model's module. A module is imported when one of its models is first asked for, so a
# process that only crawls (the crawl worker) does not declare the other nineteen models.
_HOMES = {
    **dict.fromkeys(("ChatExport", "ChatRoom", "ChatSeenEvent", "ChatSource"), "chat"),
    **dict.fromkeys(("Package", "SelectielijstCategory"), "package"),
    **dict.fromkeys(("DestructionItem", "DestructionList", "Hold", "Retention"), "records"),
    **dict.fromkeys(("AccessRule", "CollectionRun", "FixityCheck", "QaCheck", "QaPage"),
                    "replay"),
    **dict.fromkeys(("ApiToken", "AuditEvent", "ChatSchedule", "JobClaim", "JobRun",
                     "ServiceLock", "User"), "service"),
    **dict.fromkeys(("Capture", "CrawlRun", "PayloadDigest", "Site", "SkippedUrl", "WarcFile"),
                    "web"),
}


def load_all() -> None:
    """Import every model module, so that ``Base.metadata`` describes the whole schema."""
    for module in sorted(set(_HOMES.values())):
        importlib.import_module(f"archive.models.{module}")


def __getattr__(name: str) -> Any:
    if name in _HOMES:
        return getattr(importlib.import_module(f"archive.models.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'archive.models' has no attribute {name!r}")


__all__ = [
    "ChatExport",
    "ChatRoom",
    "ChatSeenEvent",
    "ChatSource",
    "Package",
    "SelectielijstCategory",
    "DestructionItem",
    "DestructionList",
    "Hold",
    "Retention",
    "AccessRule",
    "CollectionRun",
    "FixityCheck",
    "QaCheck",
    "QaPage",
    "ApiToken",
    "AuditEvent",
    "ChatSchedule",
    "JobClaim",
    "JobRun",
    "ServiceLock",
    "User",
    "Base",
    "Capture",
    "CrawlRun",
    "PayloadDigest",
    "Site",
    "SkippedUrl",
    "WarcFile",
    "load_all",
    "utcnow",
]
