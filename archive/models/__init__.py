"""SQLAlchemy models: the record of every site, source, run, file, package and check.

Each domain has its own module; all share ``Base`` so Alembic sees one metadata (after
``load_all()``).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from archive.models.base import Base, utcnow

if TYPE_CHECKING:
    from archive.models.archivist import Suggestion
    from archive.models.chat import ChatExport, ChatRoom, ChatSeenEvent, ChatSource
    from archive.models.package import Package, SelectielijstCategory
    from archive.models.records import (
        DestructionItem,
        DestructionList,
        Hold,
        Retention,
        Tombstone,
    )
    from archive.models.replay import AccessRule, CollectionRun, FixityCheck, QaCheck, QaPage
    from archive.models.search import SearchDoc
    from archive.models.service import (
        ApiToken,
        AuditEvent,
        ChatSchedule,
        JobClaim,
        JobRun,
        ServiceLock,
        User,
    )
    from archive.models.transfer import SipExport, SipExportPackage
    from archive.models.web import Capture, CrawlRun, PayloadDigest, Site, SkippedUrl, WarcFile
    from archive.models.woo import WooDocument, WooRedaction, WooRequest

# Each model's module. A module is imported when one of its models is first asked for, so a
# process that only crawls (the crawl worker) does not declare the other nineteen models.
_HOMES = {
    "Suggestion": "archivist",
    **dict.fromkeys(("ChatExport", "ChatRoom", "ChatSeenEvent", "ChatSource"), "chat"),
    **dict.fromkeys(("Package", "SelectielijstCategory"), "package"),
    **dict.fromkeys(("DestructionItem", "DestructionList", "Hold", "Retention", "Tombstone"),
                    "records"),
    **dict.fromkeys(("AccessRule", "CollectionRun", "FixityCheck", "QaCheck", "QaPage"),
                    "replay"),
    "SearchDoc": "search",
    **dict.fromkeys(("ApiToken", "AuditEvent", "ChatSchedule", "JobClaim", "JobRun",
                     "ServiceLock", "User"), "service"),
    **dict.fromkeys(("SipExport", "SipExportPackage"), "transfer"),
    **dict.fromkeys(("Capture", "CrawlRun", "PayloadDigest", "Site", "SkippedUrl", "WarcFile"),
                    "web"),
    **dict.fromkeys(("WooDocument", "WooRedaction", "WooRequest"), "woo"),
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
    "Suggestion",
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
    "SipExport",
    "SipExportPackage",
    "Tombstone",
    "AccessRule",
    "CollectionRun",
    "FixityCheck",
    "QaCheck",
    "QaPage",
    "SearchDoc",
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
    "WooDocument",
    "WooRedaction",
    "WooRequest",
    "load_all",
    "utcnow",
]
