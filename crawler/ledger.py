"""The crawl's database record, kept by the command while its worker crawls.

The worker process (``crawler.worker``) does not load the database layer: it starts sooner and
spends its core on the crawl. It sends what it records as JSON lines on its stdout, between its
progress lines:

- ``{"type": "rows", "captures": [...], "skipped": [...], "digests": [...]}``: fetched URLs,
  skipped URLs and newly seen payload digests, a batch at a time;
- ``{"type": "warc", ...}``: a finished WARC file, sent after the captures that point into it.

This process, otherwise waiting, stores each message as it arrives (``store``). A message the
worker had not sent when it was killed is lost with it, as an unflushed batch always was: the
resume fetches those URLs again. Before the crawl, ``known_digests`` reads what dedup needs.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import insert, select

from archive.db import session_scope
from archive.models import Capture, PayloadDigest, SkippedUrl, WarcFile
from archive.settings import Settings


def known_digests(settings: Settings, site_id: int) -> list[tuple[str, str, str, str]]:
    """The site's payload digests from earlier captures: (digest, uri, WARC-Date, record id)."""
    with session_scope(settings) as db:
        return [(d.digest, d.uri, d.date, d.record_id) for d in db.execute(
            select(PayloadDigest.digest, PayloadDigest.uri, PayloadDigest.date,
                   PayloadDigest.record_id).where(PayloadDigest.site_id == site_id))]


def store(settings: Settings, run_id: int, msg: dict[str, Any]) -> None:
    """Store one ``rows`` or ``warc`` message of run ``run_id``'s worker."""
    if msg.get("type") == "warc":
        with session_scope(settings) as db:
            db.add(WarcFile(
                run_id=run_id, filename=msg["filename"], path=msg["path"], size=msg["size"],
                sha256=msg["sha256"], sha512=msg.get("sha512"), records=msg["records"],
                cdxj_path=msg.get("cdxj_path"), cdxj_sha256=msg.get("cdxj_sha256"),
            ))
        return
    captures = [{**c, "run_id": run_id, "fetched_at": _when(c["fetched_at"])}
                for c in msg.get("captures", [])]
    skipped = [{**s, "run_id": run_id, "at": _when(s["at"])} for s in msg.get("skipped", [])]
    digests = [{**d, "run_id": run_id} for d in msg.get("digests", [])]
    with session_scope(settings) as db:
        if captures:
            db.execute(insert(Capture), captures)
        if skipped:
            db.execute(insert(SkippedUrl), skipped)
        if digests:  # another run of the site may have stored the same payload meanwhile
            if settings.db_url.startswith("sqlite"):
                db.execute(insert(PayloadDigest).prefix_with("OR IGNORE"), digests)
            else:
                from sqlalchemy.dialects.postgresql import insert as pg_insert

                db.execute(pg_insert(PayloadDigest).values(digests).on_conflict_do_nothing())


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)
