"""WARC 1.1 writing, indexing and repair, free of Scrapy."""

from archive.warc.http import entity_body, parse_head
from archive.warc.writer import ClosedWarc, RevisitOf, WarcWriter, WrittenRecord

__all__ = ["ClosedWarc", "RevisitOf", "WarcWriter", "WrittenRecord", "entity_body", "parse_head"]
