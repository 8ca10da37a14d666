"""Reading WARC files independently of the writer, for crawl tests.

``raw_records`` splits a .warc.gz into gzip members and returns each record's WARC headers and its
exact block bytes (no HTTP parsing), so a test can compare the block with what a server sent.
``dechunk`` removes chunked framing by the HTTP/1.1 rules (RFC 9112 section 7.1), written here
without the project's code, and ``spec_payload_digest`` digests the result as WARC 1.1 says.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from dataclasses import dataclass
from pathlib import Path


@dataclass
class RawRecord:
    headers: dict[str, str]
    block: bytes
    offset: int

    @property
    def type(self) -> str:
        return self.headers.get("WARC-Type", "")

    @property
    def uri(self) -> str:
        return self.headers.get("WARC-Target-URI", "")


def raw_records(path: Path) -> list[RawRecord]:
    data = Path(path).read_bytes()
    out: list[RawRecord] = []
    pos = 0
    while pos < len(data):
        d = zlib.decompressobj(wbits=31)
        record = d.decompress(data[pos:])
        used = len(data) - pos - len(d.unused_data)
        head, _, rest = record.partition(b"\r\n\r\n")
        lines = head.decode("utf-8").split("\r\n")
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip()] = v.strip()
        length = int(headers["Content-Length"])
        out.append(RawRecord(headers, rest[:length], pos))
        pos += used
    return out


def dechunk(body: bytes) -> bytes:
    out = bytearray()
    pos = 0
    while True:
        eol = body.index(b"\r\n", pos)
        size = int(body[pos:eol].split(b";")[0], 16)
        pos = eol + 2
        if size == 0:
            return bytes(out)
        out += body[pos : pos + size]
        pos += size + 2


def spec_payload_digest(http_block: bytes) -> str:
    head, _, body = http_block.partition(b"\r\n\r\n")
    if b"transfer-encoding: chunked" in head.lower():
        body = dechunk(body)
    return "sha256:" + base64.b32encode(hashlib.sha256(body).digest()).decode()
