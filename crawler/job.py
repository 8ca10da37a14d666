"""The crawl job: everything the worker process needs, sent to it as JSON on stdin."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from archive.settings import Settings


@dataclass
class CrawlJob:
    run_id: int
    site_id: int
    site_name: str
    kind: str  # crawl | resume | patch
    seeds: list[str]
    include: list[str] = field(default_factory=list)
    exclude: list[str] = field(default_factory=list)
    max_pages: int = 10_000
    max_depth: int = 20
    robots: str = "obey"
    follow_links: bool = True  # False for patch crawls: fetch exactly the seeds
    resume: bool = False  # serve what this run stored already from its WARCs
    # Read from the database by the command (the worker has no database layer): the site's
    # known payloads (digest, uri, WARC-Date, record id) and, on resume, StoredCaptures.to_json().
    known_digests: list[tuple[str, str, str, str]] = field(default_factory=list)
    stored: dict[str, Any] | None = None

    def warc_dir_for(self, settings: Settings) -> Path:
        return settings.warc_dir / self.site_name / str(self.run_id)

    def index_dir_for(self, settings: Settings) -> Path:
        return settings.index_dir / self.site_name

    # filled in by the worker once settings are known
    warc_dir: Path = Path(".")
    index_dir: Path = Path(".")

    def bind(self, settings: Settings) -> CrawlJob:
        self.warc_dir = self.warc_dir_for(settings)
        self.index_dir = self.index_dir_for(settings)
        return self


def encode_job(job: CrawlJob, settings: Settings) -> bytes:
    data = {f.name: getattr(job, f.name) for f in fields(job)
            if f.name not in ("warc_dir", "index_dir")}
    return json.dumps({"job": data, "settings": settings.model_dump(mode="json")}).encode()


def decode_job(raw: bytes) -> tuple[CrawlJob, Settings]:
    data: dict[str, Any] = json.loads(raw)
    settings = Settings.model_validate(data["settings"])
    job = CrawlJob(**data["job"]).bind(settings)
    return job, settings
