"""What a resumed run stored already, served back from its WARC files instead of the network.

The command reads it from the database (``load``) and sends it to the worker with the job
(``to_json``, ``from_json``): the worker does not load the database layer.
"""

from __future__ import annotations

import zlib
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any

from archive.settings import Settings
from archive.warc.http import iter_entity, parse_head
from crawler.job import CrawlJob
from crawler.scope import canonical


@dataclass
class _Ref:
    filename: str
    offset: int
    length: int
    record_type: str
    digest: str | None


@dataclass
class StoredCaptures:
    by_url: dict[str, _Ref] = field(default_factory=dict)
    by_digest: dict[str, _Ref] = field(default_factory=dict)
    paths: dict[str, Path] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> StoredCaptures:
        return cls()

    def __len__(self) -> int:
        return len(self.by_url)

    def to_json(self) -> dict[str, Any]:
        return {"by_url": {u: astuple(r) for u, r in self.by_url.items()},
                "by_digest": {d: astuple(r) for d, r in self.by_digest.items()},
                "paths": {n: str(p) for n, p in self.paths.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> StoredCaptures:
        return cls({u: _Ref(*r) for u, r in data["by_url"].items()},
                   {d: _Ref(*r) for d, r in data["by_digest"].items()},
                   {n: Path(p) for n, p in data["paths"].items()})

    @classmethod
    def load(cls, settings: Settings, job: CrawlJob) -> StoredCaptures:
        """Captures of this run whose records are whole in a finished WARC file."""
        from sqlalchemy import select  # in the command only: the worker gets these as JSON

        from archive.db import session_scope
        from archive.models import Capture, CrawlRun, WarcFile

        out = cls()
        with session_scope(settings) as db:
            for f in db.scalars(
                select(WarcFile).join(CrawlRun).where(CrawlRun.site_id == job.site_id)
            ):
                p = Path(f.path)
                if p.is_file():
                    out.paths[f.filename] = p
            sizes = {name: p.stat().st_size for name, p in out.paths.items()}
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
                out.by_url[canonical(c.url)] = _Ref(c.warc_filename, c.offset, c.length,
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
                        out.by_digest[o.payload_digest] = _Ref(
                            o.warc_filename, o.offset or 0, o.length or 0, "response",
                            o.payload_digest,
                        )
        return out

    def _read(self, ref: _Ref) -> bytes | None:
        path = self.paths.get(ref.filename)
        if path is None:
            return None
        with open(path, "rb") as fh:
            fh.seek(ref.offset)
            member = fh.read(ref.length)
        try:
            record = zlib.decompress(member, wbits=31)
        except zlib.error:
            return None
        end = record.find(b"\r\n\r\n")
        if end < 0:
            return None
        return record[end + 4 :].removesuffix(b"\r\n\r\n")

    def response(self, url: str) -> tuple[int, list[tuple[bytes, bytes]], bytes] | None:
        ref = self.by_url.get(canonical(url))
        if ref is None:
            return None
        http = self._read(ref)
        if http is None:
            return None
        head = parse_head(http)
        if head.status is None:
            return None
        headers = _headers(http[: head.body_start])
        if ref.record_type == "revisit":
            original = self.by_digest.get(ref.digest or "")
            full = self._read(original) if original else None
            if full is None:
                return None
            ohead = parse_head(full)
            body = b"".join(bytes(p) for p in iter_entity(full, ohead))
        else:
            body = b"".join(bytes(p) for p in iter_entity(http, head))
        return head.status, headers, body


def _headers(head: bytes) -> list[tuple[bytes, bytes]]:
    out = []
    for line in head.split(b"\r\n")[1:]:
        if b":" in line:
            k, _, v = line.partition(b":")
            out.append((k.strip(), v.strip()))
    return out
