"""SQLAlchemy models: the record of every site, source, run, file, package and check.

Each domain has its own module; all share ``Base`` so Alembic sees one metadata.
"""

from archive.models.base import Base, utcnow
from archive.models.web import Capture, CrawlRun, PayloadDigest, Site, SkippedUrl, WarcFile

__all__ = [
    "Base",
    "Capture",
    "CrawlRun",
    "PayloadDigest",
    "Site",
    "SkippedUrl",
    "WarcFile",
    "utcnow",
]
