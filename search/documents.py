"""What is indexed, read from the archives themselves: the HTML pages and PDFs of a crawl
run's WARC files, and the messages and text attachments of a sealed chat package.

Each WARC record is read at its capture's offset (one gzip member) and parsed here, as
replay/fetch.py parses HTTP; bodies are decoded (chunked, gzip, br). Files from outside are
hostile: records and attachments past ``MAX_BYTES`` are left out, a page or PDF that cannot
be parsed gives no text, never an error.
"""

from __future__ import annotations

import csv
import json
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from search.backend import Doc
from search.text import MAX_TEXT, html_text, pdf_text, squeeze

MAX_BYTES = 64 << 20
HTML_TYPES = {"text/html", "application/xhtml+xml"}
PDF_TYPES = {"application/pdf", "application/x-pdf"}
TEXT_SUFFIXES = {".txt", ".md", ".csv", ".json", ".xml", ".ics", ".vcf"}
CHAT_TYPES = {"m.room.message", "m.room.encrypted", "bewaar.message"}


def read_record(path: Path, offset: int, length: int) -> tuple[dict[str, str], bytes] | None:
    """(WARC headers, block) of the record at ``offset``; None when it cannot be read."""
    if length <= 0 or length > MAX_BYTES:
        return None
    try:
        with open(path, "rb") as fh:
            fh.seek(offset)
            raw = fh.read(length)
    except OSError:
        return None
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = zlib.decompressobj(wbits=31).decompress(raw, MAX_BYTES + 65536)
        except zlib.error:
            return None
    end = raw.find(b"\r\n\r\n")
    if end < 0:
        return None
    headers: dict[str, str] = {}
    for line in raw[:end].split(b"\r\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().decode("latin-1")] = value.strip().decode("utf-8", "replace")
    size = int(headers.get("Content-Length", "0") or 0)
    return headers, raw[end + 4 : end + 4 + size]


def page_text(block: bytes, mime: str) -> tuple[str, str] | None:
    """(title, text) of an HTTP response block holding HTML or a PDF."""
    from replay.fetch import parse_response

    response = parse_response(block)
    if response is None or response.status != 200:
        return None
    if mime in PDF_TYPES or response.body[:5] == b"%PDF-":
        return pdf_text(response.body)
    return html_text(response.body)


@dataclass
class ChatRoomInfo:
    name: str | None
    slug: str


def chat_documents(source: str, package_id: str, package_path: Path) -> Iterator[Doc]:
    """One document per message (an edit: one for its new text, opening its message) and
    per text attachment (plain text or PDF) of a sealed chat package."""
    data = package_path / "bag" / "data"
    table = data / "messages.csv"
    if not table.is_file():
        return
    rooms: dict[str, ChatRoomInfo] = {}
    try:
        evidence = json.loads((data / "evidence.json").read_text(encoding="utf-8"))
        for r in evidence.get("rooms") or []:
            rooms[str(r.get("room_id"))] = ChatRoomInfo(
                r.get("name"), str(r.get("path") or "").removeprefix("rooms/"))
    except (OSError, ValueError, AttributeError):
        pass
    csv.field_size_limit(MAX_TEXT * 4)
    with open(table, newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            if row.get("type") not in CHAT_TYPES and not row.get("body"):
                continue
            if row.get("status") == "system" or row.get("relation") == "m.annotation":
                continue
            room = rooms.get(row.get("room_id") or "") or ChatRoomInfo(None, "")
            event = (row.get("relates_to") if row.get("relation") == "m.replace" else None) \
                or row.get("event_id") or ""
            at = _message_time(row)
            base = dict(kind="chat", source=source, title=room.name or row.get("room_id") or "",
                        at=at, package_id=package_id, sender=row.get("sender") or None,
                        room_id=row.get("room_id") or None,
                        locator=f"rooms/{room.slug}#{event}" if room.slug else None)
            body = row.get("body") or ""
            if body.strip():
                yield Doc(body=body[:MAX_TEXT], mime="text/plain", **base)  # type: ignore[arg-type]
            att = row.get("attachment") or ""
            if att:
                text = _attachment_text(data, att)
                if text:
                    name = row.get("attachment_name") or Path(att).name
                    yield Doc(body=f"{name}\n{text}", mime="attachment",
                              **base)  # type: ignore[arg-type]


def _message_time(row: dict[str, str]) -> datetime:
    try:
        return datetime.fromtimestamp(int(row.get("origin_server_ts") or 0) / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        return datetime.fromtimestamp(0, UTC)


def _attachment_text(data: Path, rel: str) -> str:
    path = (data / rel).resolve()
    if not path.is_relative_to(data.resolve()) or not path.is_file():
        return ""
    try:
        if path.stat().st_size > MAX_BYTES:
            return ""
        suffix = path.suffix.lower()
        if suffix == ".pdf":
            return pdf_text(path.read_bytes())[1]
        if suffix in (".html", ".htm"):
            return html_text(path.read_bytes())[1]
        if suffix in TEXT_SUFFIXES:
            return squeeze(path.read_bytes().decode("utf-8", "replace"))
    except OSError:
        return ""
    return ""
