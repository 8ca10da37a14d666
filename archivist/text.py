"""A package's text, as segments that say where they come from: the pages of its WARCs (HTML
and plain text responses), the messages of a chat package (``messages.csv``).

Files from outside are hostile: every read is capped (a record's payload, a segment, the whole
package) and the caps that were hit are reported, never silently.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

MAX_RECORD_BYTES = 5_000_000  # of one page's payload (a 50 MB page is read this far)
MAX_SEGMENT_CHARS = 200_000  # of one page's or message's text
MAX_PACKAGE_CHARS = 5_000_000  # of a whole package's text
TEXT_TYPES = ("text/html", "application/xhtml+xml", "text/plain")
_SPACE = re.compile(r"[ \t\r\f\v]+")
_LINES = re.compile(r"\n\s*\n+")


@dataclass(frozen=True)
class Segment:
    """One piece of text and where it is: ``{"file": …, "url": …}`` of a page or
    ``{"file": "messages.csv", "event_id": …, "room_id": …}`` of a message. Spans found in it
    are offsets into ``text``: for a message its ``body`` column as written."""

    where: dict[str, Any]
    text: str


@dataclass
class PackageText:
    segments: list[Segment] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # the caps that were hit, what was skipped
    chars: int = 0
    _seen: set[int] = field(default_factory=set, repr=False)

    def add(self, where: dict[str, Any], text: str) -> bool:
        """Add a segment; False once the package cap is reached."""
        if not text.strip():
            return True
        if len(text) > MAX_SEGMENT_CHARS:
            self.notes.append(f"{_name(where)}: text cut at {MAX_SEGMENT_CHARS} characters "
                              f"(of {len(text)})")
            text = text[:MAX_SEGMENT_CHARS]
        if self.chars + len(text) > MAX_PACKAGE_CHARS:
            self.notes.append(f"the package's text was cut at {MAX_PACKAGE_CHARS} characters; "
                              "the rest was not analysed")
            return False
        self.segments.append(Segment(where, text))
        self.chars += len(text)
        return True

    def unseen(self, text: str) -> str:
        """A page's text without the paragraphs earlier pages had (menus and footers that the
        HTML does not mark as such)."""
        keep = []
        for para in text.split("\n\n"):
            key = hash(para.strip())
            if para.strip() and key not in self._seen:
                self._seen.add(key)
                keep.append(para)
        return "\n\n".join(keep)

    def joined(self, limit: int = 100_000) -> str:
        """The first ``limit`` characters of all segments, one paragraph each."""
        out: list[str] = []
        size = 0
        for s in self.segments:
            if size >= limit:
                break
            out.append(s.text[: limit - size])
            size += len(out[-1]) + 2
        return "\n\n".join(out)


def _name(where: dict[str, Any]) -> str:
    return str(where.get("url") or where.get("event_id") or where.get("file") or "?")


def html_text(data: bytes, encoding: str | None = None) -> str:
    """The visible text of an HTML page (no scripts, styles or markup); paragraphs kept."""
    from lxml import etree, html

    if not data.strip():
        return ""
    try:
        parser = html.HTMLParser(encoding=encoding, remove_comments=True, no_network=True)
        doc = html.document_fromstring(data, parser=parser)
    except (etree.ParserError, ValueError, LookupError):
        return ""
    # scripts and the site's own chrome (menus, headers, footers) are no content
    for bad in doc.xpath("//script|//style|//noscript|//template|//svg|//nav|//header|"
                         "//footer|//aside|//form|//*[@role='navigation']"):
        bad.drop_tree()
    for block in doc.xpath("//p|//div|//li|//h1|//h2|//h3|//h4|//h5|//h6|//tr|//br|//title"):
        block.tail = "\n\n" + (block.tail or "")
    text = doc.text_content()
    text = "\n\n".join(_SPACE.sub(" ", p).strip() for p in _LINES.split(text))
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def _charset(content_type: str | None) -> str | None:
    m = re.search(r"charset=[\"']?([A-Za-z0-9._-]+)", content_type or "")
    return m.group(1) if m else None


def warc_pages(path: Path, out: PackageText) -> bool:
    """Add the text of the HTML and plain text responses of one WARC; False at the cap."""
    from warcio.archiveiterator import ArchiveIterator
    from warcio.exceptions import ArchiveLoadFailed

    rel = path.name
    try:
        with path.open("rb") as fh:
            for record in ArchiveIterator(fh):
                if record.rec_type != "response" or record.http_headers is None:
                    continue
                status = record.http_headers.get_statuscode()
                ctype = record.http_headers.get_header("Content-Type") or ""
                mime = ctype.split(";")[0].strip().lower()
                if status != "200" or mime not in TEXT_TYPES:
                    continue
                url = record.rec_headers.get_header("WARC-Target-URI") or ""
                if url.endswith("/robots.txt"):
                    continue
                stream = record.content_stream()
                data = stream.read(MAX_RECORD_BYTES + 1)
                if len(data) > MAX_RECORD_BYTES:
                    out.notes.append(f"{url}: only the first {MAX_RECORD_BYTES} bytes were read")
                    data = data[:MAX_RECORD_BYTES]
                charset = _charset(ctype)
                if mime == "text/plain":
                    text = data.decode(_known(charset) or "utf-8", "replace")
                else:
                    text = html_text(data, _known(charset))
                if not out.add({"file": rel, "url": url}, out.unseen(text)):
                    return False
    except (ArchiveLoadFailed, OSError, EOFError, ValueError) as exc:
        out.notes.append(f"{rel}: stopped reading ({type(exc).__name__}: {exc})")
    return True


def _known(charset: str | None) -> str | None:
    import codecs

    if not charset:
        return None
    try:
        return codecs.lookup(charset).name
    except LookupError:
        return None


def chat_messages(path: Path, out: PackageText) -> bool:
    """Add the bodies of a chat package's messages (``messages.csv``); attachments and system
    lines are not text and are skipped."""
    csv.field_size_limit(MAX_SEGMENT_CHARS * 4)
    try:
        with path.open(newline="", encoding="utf-8", errors="replace") as fh:
            for row in csv.DictReader(fh):
                kind = row.get("type") or ""
                if kind.endswith("system") or kind.startswith("m.room.") and kind not in (
                        "m.room.message", "m.room.encrypted") or row.get("attachment"):
                    continue  # a system line, a state event, or an attachment (its body is
                    # the file name)
                body = row.get("body") or ""
                where = {"file": "messages.csv", "event_id": row.get("event_id") or "",
                         "room_id": row.get("room_id") or "", "sender": row.get("sender") or ""}
                if not out.add(where, body):
                    return False
    except (OSError, csv.Error) as exc:
        out.notes.append(f"messages.csv: stopped reading ({type(exc).__name__}: {exc})")
    return True


def _files(data: Path, pattern: str) -> Iterator[Path]:
    for p in sorted(data.rglob(pattern)):
        if p.is_file() and not p.is_symlink() and not p.name.endswith(".mdto.xml"):
            yield p


def package_text(package_dir: Path) -> PackageText:
    """The text of one package (a crawl's WARC pages or a chat's messages)."""
    out = PackageText()
    data = package_dir / "bag" / "data"
    if not data.is_dir():
        out.notes.append(f"{package_dir} has no bag/data folder")
        return out
    found = False
    for csv_path in _files(data, "messages.csv"):
        found = True
        if not chat_messages(csv_path, out):
            return out
    for warc in _files(data, "*.warc*"):
        if not (warc.name.endswith(".warc") or warc.name.endswith(".warc.gz")):
            continue
        found = True
        if not warc_pages(warc, out):
            return out
    if not found:
        out.notes.append("no WARC files and no messages.csv: nothing to read")
    return out


def text_of(text: str | bytes) -> str:
    """Text given directly (a test, the bench): bytes that are not UTF-8 text give nothing."""
    if isinstance(text, bytes):
        if b"\0" in text[:8192]:
            return ""
        return io.TextIOWrapper(io.BytesIO(text), encoding="utf-8", errors="replace").read()
    return text
