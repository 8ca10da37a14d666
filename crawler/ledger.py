"""The crawl's database record, kept by the command while its worker crawls.

The worker process (``crawler.worker``) does not load the database layer: it starts sooner and
spends its core on the crawl. It sends what it records as JSON lines on its stdout, between its
progress lines:

- ``{"type": "rows", "captures": [...], "skipped": [...], "digests": [...]}``: fetched URLs,
  skipped URLs and newly seen payload digests, a batch at a time;
- ``{"type": "warc", ...}``: a finished WARC file, sent after the captures that point into it.

This process, otherwise waiting, stores each message as it arrives (``store``). A message the
worker had not sent when it was killed is lost with it, as an unflushed batch always was: the
resume fetches those URLs again. Before the crawl, ``known_digests`` reads what dedup needs
and, for a resume, ``stored_captures`` what the run stored already.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select

from archive.db import session_scope
from archive.models import Capture, CrawlRun, PayloadDigest, SkippedUrl, WarcFile
from archive.settings import Settings
from crawler.job import CrawlJob
from crawler.scope import canonical
from crawler.stored import StoredCaptures, StoredRef


def known_digests(settings: Settings, site_id: int) -> list[tuple[str, str, str, str]]:
    """The site's payload digests from earlier captures: (digest, uri, WARC-Date, record id).
    Digests of destroyed runs are left out (their records are gone: a revisit against them
    could not be replayed), should a row of one remain."""
    from archive.models import Tombstone

    destroyed = select(Tombstone.run_id).where(Tombstone.run_id.is_not(None))
    with session_scope(settings) as db:
        return [(d.digest, d.uri, d.date, d.record_id) for d in db.execute(
            select(PayloadDigest.digest, PayloadDigest.uri, PayloadDigest.date,
                   PayloadDigest.record_id).where(PayloadDigest.site_id == site_id,
                                                  PayloadDigest.run_id.not_in(destroyed)))]


def stored_captures(settings: Settings, job: CrawlJob) -> StoredCaptures:
    """Captures of this run whose records are whole in a finished WARC file."""
    out = StoredCaptures()
    remote: dict[str, str] = {}  # in the bucket: fetched below when a capture needs it
    with session_scope(settings) as db:
        for f in db.scalars(
            select(WarcFile).join(CrawlRun).where(CrawlRun.site_id == job.site_id)
        ):
            if f.path.startswith("s3://"):
                remote[f.filename] = f.path
                continue
            p = Path(f.path)
            if p.is_file():
                out.paths[f.filename] = p
        sizes = {name: p.stat().st_size for name, p in out.paths.items()}
        sizes.update({f.filename: f.size for f in db.scalars(
            select(WarcFile).where(WarcFile.filename.in_(list(remote))))} if remote else {})
        out.paths.update({name: Path() for name in remote})  # placeholders, see below
        for c in db.execute(
            select(Capture.url, Capture.warc_filename, Capture.offset, Capture.length,
                   Capture.record_type, Capture.payload_digest)
            .where(Capture.run_id == job.run_id, Capture.warc_filename.is_not(None))
        ):
            assert c.warc_filename is not None
            size = sizes.get(c.warc_filename)
            if size is None or c.offset is None or c.length is None \
                    or c.offset + c.length > size:
                continue  # its record was cut off by the repair: fetch it again
            out.by_url[canonical(c.url)] = StoredRef(c.warc_filename, c.offset, c.length,
                                                c.record_type, c.payload_digest)
        digests = {r.digest for r in out.by_url.values() if r.record_type == "revisit"}
        if digests:
            for o in db.execute(
                select(Capture.warc_filename, Capture.offset, Capture.length,
                       Capture.payload_digest)
                .join(CrawlRun)
                .where(CrawlRun.site_id == job.site_id, Capture.record_type == "response",
                       Capture.payload_digest.in_(digests))
            ):
                if o.warc_filename in out.paths and o.payload_digest:
                    out.by_digest[o.payload_digest] = StoredRef(
                        o.warc_filename, o.offset or 0, o.length or 0, "response",
                        o.payload_digest,
                    )
    if remote:  # the bucket's WARCs this resume reads records from, through the cache
        from archive.storage import local_copy

        needed = {r.filename for r in (*out.by_url.values(), *out.by_digest.values())}
        for name, url in remote.items():
            if name in needed:
                out.paths[name] = local_copy(settings, url)
            else:
                del out.paths[name]
    return out


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
