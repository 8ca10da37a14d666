"""Just enough HTTP/1.x parsing for WARC writing: status, Content-Type and the entity body.

The WARC-Payload-Digest is computed over the entity body: the message body with the
Transfer-Encoding (chunked framing) removed and any Content-Encoding (gzip, br) kept (WARC 1.1,
section 5.9). warcio's own check digests the chunked bytes instead (warcio issue 74); we follow
the specification, as Heritrix does since its PR 770.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class HttpHead:
    status: int | None
    mime: str | None
    chunked: bool
    body_start: int  # offset of the first body byte in the raw message


def parse_head(raw: bytes | memoryview) -> HttpHead:
    """Parse the status line and the headers we need; tolerate sloppy servers."""
    data = bytes(raw[:65536]) if len(raw) > 65536 else bytes(raw)
    end = data.find(b"\r\n\r\n")
    sep = 4
    if end < 0:
        end = data.find(b"\n\n")
        sep = 2
    if end < 0:
        return HttpHead(None, None, False, len(raw))
    lines = data[:end].split(b"\n")
    status: int | None = None
    first = lines[0].split(None, 2)
    if len(first) >= 2 and first[0].startswith(b"HTTP/") and first[1].isdigit():
        status = int(first[1])
    mime: str | None = None
    chunked = False
    for line in lines[1:]:
        name, _, value = line.partition(b":")
        key = name.strip().lower()
        if key == b"content-type" and mime is None:
            mime = value.split(b";", 1)[0].strip().decode("latin-1").lower() or None
        elif key == b"transfer-encoding" and b"chunked" in value.lower():
            chunked = True
    return HttpHead(status, mime, chunked, end + sep)


def iter_entity(raw: bytes | memoryview, head: HttpHead) -> Iterator[memoryview]:
    """Yield the entity body in pieces (chunked framing removed), without copying."""
    view = memoryview(raw)
    if not head.chunked:
        yield view[head.body_start :]
        return
    pos = head.body_start
    size_total = len(view)
    while pos < size_total:
        eol = bytes(view[pos : min(pos + 1024, size_total)]).find(b"\n")
        if eol < 0:
            return  # a chunk-size line cut off: nothing more to take
        line = bytes(view[pos : pos + eol]).split(b";", 1)[0].strip()
        try:
            size = int(line, 16)
        except ValueError:
            # Not chunked after all (or broken): the rest is the best account of the body.
            yield view[pos:]
            return
        pos += eol + 1
        if size == 0:
            return
        yield view[pos : pos + size]
        pos += size
        # skip the CRLF after the chunk data
        if bytes(view[pos : pos + 2]) == b"\r\n":
            pos += 2
        elif bytes(view[pos : pos + 1]) == b"\n":
            pos += 1


def entity_body(raw: bytes | memoryview) -> bytes:
    """The de-chunked entity body of a raw HTTP response (for tests and tools)."""
    head = parse_head(raw)
    return b"".join(bytes(p) for p in iter_entity(raw, head))
