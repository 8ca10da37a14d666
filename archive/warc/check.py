"""Checking a WARC made elsewhere (wget, Heritrix, Browsertrix, a contractor), record by record.

``check_warc(path)`` reads the file with warcio, one record at a time, and returns what it holds
(``WarcCheck``): the records counted by type, every indexable record (what an import records as
captures and CDXJ lines), the first ``warcinfo`` (which tool made it), and a list of findings.

A finding is a ``problem`` (a bad or missing header, a block or payload digest that does not
match, a record whose Content-Length is off) or a ``note`` (something stated, not wrong). The
file is *refused* (``WarcUnreadable``) when it cannot be read as a whole: not a WARC, a gzip
member cut off or damaged, a record shorter than its Content-Length, a record warcio cannot
parse. Files from outside are hostile: nothing is trusted, each block is held in memory only up
to ``MAX_BLOCK_IN_MEMORY``.

Payload digests, WARC 1.1 section 5.9: the digest of the entity body, i.e. with the chunked
transfer encoding removed. warcio's own check (``warcio check``) digests the chunked bytes
(warcio issue 74), so it reports the payload digest of a correctly written chunked response as
failed, and passes one computed over the chunked bytes. Both cases are stated as notes, with
which way the digest was computed; a digest that matches neither is a problem.

Every response also gets the project's own payload digest (sha256, base32, as
``archive.warc.writer`` computes it): that is what the dedup store and the CDXJ ``digest`` field
hold, so a later crawl's revisit records find the imported payloads.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import zlib
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from archive.errors import BewaarError
from archive.warc.http import iter_entity, parse_head
from archive.warc.records import digest_label

MAX_BLOCK_IN_MEMORY = 64 * 1024 * 1024
MAX_FINDINGS = 1000  # listed; more are counted
MAX_RECORDS = 2_000_000  # indexable records held for one file (a 1 GB WARC has ~100,000)
WARCINFO_FIELDS = ("software", "format", "conformsTo", "operator", "description", "isPartOf",
                   "robots", "http-header-user-agent")  # never the tool's arguments (secrets)
MANDATORY = ("WARC-Record-ID", "WARC-Date", "WARC-Type", "Content-Length")
INDEXED = ("response", "revisit", "resource")
_ALGORITHMS = {"sha1": "sha1", "sha-1": "sha1", "sha256": "sha256", "sha-256": "sha256",
               "sha512": "sha512", "sha-512": "sha512", "md5": "md5"}


class WarcUnreadable(BewaarError):
    """The file cannot be taken as a WARC at all; nothing of it is imported."""


@dataclass
class Record:
    """One indexable record (response, revisit, resource) as an import records it."""

    record_type: str
    url: str
    date: str  # WARC-Date as written
    when: datetime
    record_id: str
    offset: int
    length: int
    status: int | None
    mime: str | None
    digest: str | None  # the project's sha256 payload digest; for a revisit, its own header
    header_digest: str | None  # WARC-Payload-Digest as written
    refers_to: str | None = None


@dataclass
class WarcCheck:
    path: Path
    compressed: bool
    records_by_type: dict[str, int] = field(default_factory=dict)
    records: list[Record] = field(default_factory=list)
    warcinfo: dict[str, str] = field(default_factory=dict)
    warcinfo_date: str | None = None
    findings: list[dict[str, Any]] = field(default_factory=list)
    problem_count: int = 0
    note_count: int = 0

    @property
    def total(self) -> int:
        return sum(self.records_by_type.values())

    @property
    def problems(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["severity"] == "problem"]

    @property
    def notes(self) -> list[dict[str, Any]]:
        return [f for f in self.findings if f["severity"] == "note"]

    def add(self, severity: str, kind: str, message: str, offset: int | None = None,
            record_id: str | None = None) -> None:
        if severity == "problem":
            self.problem_count += 1
        else:
            self.note_count += 1
        if len(self.findings) < MAX_FINDINGS:
            self.findings.append({"severity": severity, "kind": kind, "offset": offset,
                                  "record_id": record_id, "message": message})

    def summary(self) -> dict[str, Any]:
        return {"total": self.total, "by_type": dict(sorted(self.records_by_type.items())),
                "problems": self.problem_count, "notes": self.note_count}


def _decode_digest(value: str) -> tuple[str, bytes] | None:
    """``sha1:BASE32`` (or base16 / base64) as (hashlib name, raw bytes); None if unreadable."""
    algo, sep, text = value.strip().partition(":")
    name = _ALGORITHMS.get(algo.lower())
    if not sep or name is None:
        return None
    size = hashlib.new(name).digest_size
    text = text.strip()
    decoders = (lambda t: base64.b32decode(t.upper() + "=" * (-len(t) % 8)),
                lambda t: binascii.unhexlify(t),
                lambda t: base64.b64decode(t + "=" * (-len(t) % 4)),
                lambda t: base64.urlsafe_b64decode(t + "=" * (-len(t) % 4)))
    for decode in decoders:
        try:
            raw = decode(text)
        except (ValueError, binascii.Error):
            continue
        if len(raw) == size:
            return name, raw
    return None


def _digest_matches(expected: tuple[str, bytes], pieces: list[bytes | memoryview]) -> bool:
    h = hashlib.new(expected[0])
    for p in pieces:
        h.update(p)
    return h.digest() == expected[1]


def check_gzip(path: Path) -> None:
    """Raise ``WarcUnreadable`` unless the file is whole gzip members, one after another."""
    start = 0  # file offset of the member being read
    fed = 0  # bytes of it read so far
    d = zlib.decompressobj(31)
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            buf = chunk
            while buf:
                try:
                    d.decompress(buf, 1 << 22)  # output thrown away, bounded per call
                except zlib.error as exc:
                    raise WarcUnreadable(
                        f"damaged gzip data in the member at byte {start}: {exc}") from None
                if d.eof:
                    rest = d.unused_data
                    fed += len(buf) - len(rest)
                    start, fed = start + fed, 0
                    buf = rest
                    d = zlib.decompressobj(31)
                elif d.unconsumed_tail:
                    fed += len(buf) - len(d.unconsumed_tail)
                    buf = d.unconsumed_tail
                else:
                    fed += len(buf)
                    buf = b""
    if fed:
        raise WarcUnreadable(f"the file ends inside a gzip member (it starts at byte {start}, "
                             f"{fed} bytes of it are there): the file was cut off")


def _first_line(path: Path, compressed: bool) -> bytes:
    with open(path, "rb") as fh:
        head = fh.read(1 << 16)
    if compressed:
        try:
            head = zlib.decompressobj(31).decompress(head, 64)
        except zlib.error as exc:
            raise WarcUnreadable(f"not a WARC file: damaged gzip data ({exc})") from None
    return head.split(b"\n", 1)[0].strip()


def _when(date: str) -> datetime | None:
    text = date.strip().replace("Z", "+00:00")
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    return dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)


def _uri(value: str | None) -> str:
    # WARC 1.0 drafts (and wget) write the URI in angle brackets.
    return (value or "").strip().removeprefix("<").removesuffix(">").strip()


def check_warc(path: Path) -> WarcCheck:
    """Read every record of ``path``; see the module docstring."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    path = Path(path)
    with open(path, "rb") as fh:
        magic = fh.read(2)
    compressed = magic == b"\x1f\x8b"
    first = _first_line(path, compressed)
    if not first.startswith(b"WARC/"):
        shown = first[:40].decode("latin-1").encode("unicode_escape").decode("ascii")
        what = "an ARC file (only WARC is taken)" if first.startswith(b"filedesc://") else \
            f"it starts with {shown!r}" if shown else "it is empty"
        raise WarcUnreadable(f"not a WARC file: {what}")
    if compressed:
        check_gzip(path)
    result = WarcCheck(path, compressed)
    # Originals' header digests → the project's digest, so this file's own revisits index
    # against the same digest as their originals.
    translated: dict[str, str] = {}
    with open(path, "rb") as fh:
        it = ArchiveIterator(fh, no_record_parse=True)
        offset = 0
        try:
            for record in it:
                errors_before = it.err_count
                _check_record(result, record, translated, it)
                offset = it.get_record_offset()
                if it.err_count > errors_before:
                    result.add("problem", "content-length",
                               "the record is not followed by the two line ends a WARC record "
                               "ends with: its Content-Length is probably wrong", offset)
        except ArchiveLoadFailed as exc:
            raise WarcUnreadable(f"cannot read the record after byte {offset}: "
                                 f"{str(exc).strip()[:300]}") from None
    for rec in result.records:  # a revisit written before its original in the file
        if rec.record_type == "revisit" and rec.header_digest in translated:
            rec.digest = translated[rec.header_digest]
    return result


def _check_record(result: WarcCheck, record: Any, translated: dict[str, str], it: Any) -> None:
    h = record.rec_headers
    rtype = (h.get_header("WARC-Type") or "").strip() or "(none)"
    rid = (h.get_header("WARC-Record-ID") or "").strip() or None
    result.records_by_type[rtype] = result.records_by_type.get(rtype, 0) + 1
    declared = record.length
    block_h: tuple[str, bytes] | None = None
    block_value = h.get_header("WARC-Block-Digest")
    if block_value:
        block_h = _decode_digest(block_value)
    hasher = hashlib.new(block_h[0]) if block_h else None
    kept: list[bytes] = []
    start = b""  # the first 64 KiB, for the HTTP head of a block too big to keep
    size = 0
    too_big = False
    while chunk := record.raw_stream.read(1 << 20):
        size += len(chunk)
        if len(start) < 65536:
            start += chunk[: 65536 - len(start)]
        if hasher is not None:
            hasher.update(chunk)
        if not too_big:
            kept.append(chunk)
            if size > MAX_BLOCK_IN_MEMORY:
                too_big, kept = True, []
    offset = it.get_record_offset()
    length = it.get_record_length()
    if declared is not None and size < int(declared):
        raise WarcUnreadable(f"the record at byte {offset} is cut off: {size} of its "
                             f"{declared} bytes are there")
    for name in MANDATORY:
        if not (h.get_header(name) or "").strip():
            result.add("problem", "header", f"{rtype} record has no {name} header", offset, rid)
    date = (h.get_header("WARC-Date") or "").strip()
    when = _when(date) if date else None
    if date and when is None:
        result.add("problem", "header", f"WARC-Date {date[:40]!r} is not a date", offset, rid)
    if block_value and block_h is None:
        result.add("note", "digest", f"WARC-Block-Digest {block_value[:60]!r} uses an unknown "
                   "algorithm or encoding: not checked", offset, rid)
    if hasher is not None and block_h is not None and hasher.digest() != block_h[1]:
        result.add("problem", "block-digest", f"WARC-Block-Digest does not match the block "
                   f"({block_value})", offset, rid)
    if rtype == "warcinfo" and not result.warcinfo and not too_big:
        result.warcinfo = _warcinfo(b"".join(kept))
        result.warcinfo_date = date or None
    if rtype not in INDEXED:
        return
    url = _uri(h.get_header("WARC-Target-URI"))
    if not url:
        result.add("problem", "header", f"{rtype} record has no WARC-Target-URI: not indexed",
                   offset, rid)
        return
    if when is None:
        return  # reported above; a capture needs a time
    header_digest = (h.get_header("WARC-Payload-Digest") or "").strip() or None
    ctype = (h.get_header("Content-Type") or "").lower()
    rec = Record(rtype, url, date, when, rid or "", offset, length, None, None, None,
                 header_digest, _uri(h.get_header("WARC-Refers-To")) or None)
    if rtype == "resource":
        body = b"".join(kept)
        rec.status, rec.mime = 200, ctype.split(";", 1)[0].strip()[:200] or None
        rec.digest = None if too_big else digest_label(hashlib.sha256(body))
    elif "application/http" not in ctype and not ctype.startswith("message/http"):
        result.add("problem", "header", f"{rtype} record's Content-Type {ctype[:60]!r} is not "
                   "application/http: not indexed", offset, rid)
        return
    else:
        block = b"".join(kept)
        head = parse_head(start if too_big else block)
        rec.status = head.status if head.status is None or 100 <= head.status <= 999 else None
        rec.mime = head.mime[:200] if head.mime else None
        if head.status is not None and rec.status is None:
            result.add("problem", "http", f"{rtype} record's HTTP status is not a status",
                       offset, rid)
        if head.status is None and not too_big:
            result.add("problem", "http", f"{rtype} record holds no readable HTTP response",
                       offset, rid)
        if rtype == "revisit":
            rec.digest = header_digest[:100] if header_digest else None
            rec.mime = "warc/revisit"
        elif too_big:
            result.add("note", "size", f"the record is larger than {MAX_BLOCK_IN_MEMORY >> 20} "
                       "MiB: its payload digest is not checked, nor added to the dedup store",
                       offset, rid)
        else:
            pieces = list(iter_entity(block, head))
            rec.digest = digest_label(_sha256(pieces))
            _check_payload(result, header_digest, block, head, pieces, offset, rid)
            if header_digest:
                translated.setdefault(header_digest, rec.digest)
    if len(result.records) >= MAX_RECORDS:
        raise WarcUnreadable(f"more than {MAX_RECORDS} records to index: split the file")
    result.records.append(rec)


def _sha256(pieces: list[memoryview]) -> Any:
    h = hashlib.sha256()
    for p in pieces:
        h.update(p)
    return h


def _check_payload(result: WarcCheck, header: str | None, block: bytes, head: Any,
                   entity: list[memoryview], offset: int, rid: str | None) -> None:
    if not header:
        return
    expected = _decode_digest(header)
    if expected is None:
        result.add("note", "digest", f"WARC-Payload-Digest {header[:60]!r} uses an unknown "
                   "algorithm or encoding: not checked", offset, rid)
        return
    spec = _digest_matches(expected, list(entity))
    raw = spec if not head.chunked else _digest_matches(expected, [block[head.body_start:]])
    if spec and raw:
        return
    if spec:
        result.add("note", "warcio-chunked-digest",
                   "the payload digest matches the de-chunked entity body, as WARC 1.1 (5.9) "
                   "requires; `warcio check` reports it as failed because warcio digests the "
                   "chunked bytes (warcio issue 74): a known disagreement, not damage",
                   offset, rid)
    elif raw:
        result.add("note", "chunked-digest",
                   "the payload digest was computed over the chunked bytes (as warcio does), "
                   "not over the de-chunked entity body WARC 1.1 (5.9) asks for; `warcio "
                   "check` passes it", offset, rid)
    else:
        result.add("problem", "payload-digest",
                   f"WARC-Payload-Digest does not match the payload ({header})", offset, rid)


def _warcinfo(block: bytes) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in block.decode("utf-8", "replace").splitlines():
        name, sep, value = line.partition(":")
        if sep and name.strip() in WARCINFO_FIELDS and name.strip() not in fields:
            fields[name.strip()] = value.strip()[:500]
    return fields
