"""SQLAlchemy models: the record of every site, source, run, file, package and check.

Each domain has its own module; all share ``Base`` so Alembic sees one metadata.
"""

from archive.models.base import Base, utcnow
from archive.models.chat import ChatExport, ChatRoom, ChatSeenEvent, ChatSource
from archive.models.package import Package, SelectielijstCategory
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

__all__ = [
    "ChatExport",
    "ChatRoom",
    "ChatSeenEvent",
    "ChatSource",
    "Package",
    "SelectielijstCategory",
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
    "utcnow",
]
