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
    resolved = data.resolve()
    no_room = ChatRoomInfo(None, "")
    with open(table, newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader, None) or []
        # Columns by position, each row a list: a dict per row (DictReader) and a dict of
        # arguments per document cost more than the index's own work on a large chat.
        col = {name: i for i, name in enumerate(header)}
        missing = len(header)
        (c_type, c_body, c_status, c_rel, c_room, c_relates, c_event, c_ts, c_sender, c_att,
         c_att_name) = (col.get(n, missing) for n in (
            "type", "body", "status", "relation", "room_id", "relates_to", "event_id",
            "origin_server_ts", "sender", "attachment", "attachment_name"))
        for values in reader:
            if len(values) != missing:
                values = (values + [""] * missing)[:missing]
            values.append("")  # what a column the table lacks reads as
            body = values[c_body]
            if values[c_type] not in CHAT_TYPES and not body:
                continue
            relation = values[c_rel]
            if values[c_status] == "system" or relation == "m.annotation":
                continue
            room_id = values[c_room]
            room = rooms.get(room_id) or no_room
            event = (values[c_relates] if relation == "m.replace" else "") or values[c_event]
            at = _message_time(values[c_ts])
            title = room.name or room_id
            sender = values[c_sender] or None
            locator = f"rooms/{room.slug}#{event}" if room.slug else None
            if body.strip():
                yield Doc(kind="chat", source=source, title=title, body=body[:MAX_TEXT], at=at,
                          package_id=package_id, sender=sender, room_id=room_id or None,
                          locator=locator, mime="text/plain")
            att = values[c_att]
            if att:
                text = _attachment_text(data, att, resolved)
                if text:
                    name = values[c_att_name] or Path(att).name
                    yield Doc(kind="chat", source=source, title=title, body=f"{name}\n{text}",
                              at=at, package_id=package_id, sender=sender,
                              room_id=room_id or None, locator=locator, mime="attachment")


def _message_time(ts: str) -> datetime:
    try:
        return datetime.fromtimestamp(int(ts or 0) / 1000, UTC)
    except (ValueError, OverflowError, OSError):
        return datetime.fromtimestamp(0, UTC)


def _attachment_text(data: Path, rel: str, resolved: Path | None = None) -> str:
    path = (data / rel).resolve()
    if not path.is_relative_to(resolved or data.resolve()) or not path.is_file():
        return ""
    try:
        if path.stat().st_size > MAX_BYTES:
            return ""
        suffix = path.suffix.lower()
        if suffix == ".pdf":
            body = path.read_bytes()
            # Not a PDF without its header in the first KB (where readers look for it): a
            # file merely named .pdf is not handed to pypdf, which would search all of it.
            return pdf_text(body)[1] if b"%PDF-" in body[:1024] else ""
        if suffix in (".html", ".htm"):
            return html_text(path.read_bytes())[1]
        if suffix in TEXT_SUFFIXES:
            return squeeze(path.read_bytes().decode("utf-8", "replace"))
    except OSError:
        return ""
    return ""
