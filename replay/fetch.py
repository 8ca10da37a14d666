"""A lean HTTP/1.0 GET for replay QA against our own loopback wayback processes.

One connection per request, read to EOF: gevent's server answers HTTP/1.0 without keep-alive,
so there is no framing to track, and little client overhead competing with pywb for the
same cores. Content-Encoding is undone so HTML and CSS can be parsed.
"""

from __future__ import annotations

import asyncio
import zlib
from dataclasses import dataclass
from urllib.parse import quote

from archive.warc.http import iter_entity, parse_head


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]  # lower-case names; the last value wins
    body: bytes


def _decode(body: bytes, encoding: str) -> bytes:
    encoding = encoding.strip().lower()
    try:
        if encoding in ("gzip", "x-gzip"):
            return zlib.decompress(body, 16 + zlib.MAX_WBITS)
        if encoding == "deflate":
            try:
                return zlib.decompress(body)
            except zlib.error:
                return zlib.decompress(body, -zlib.MAX_WBITS)
        if encoding == "br":
            import brotli  # type: ignore[import-untyped,unused-ignore]

            return bytes(brotli.decompress(body))
    except (zlib.error, ImportError, Exception):  # undecodable: parse what is there
        return body
    return body


def parse_response(raw: bytes) -> Response | None:
    head = parse_head(raw)
    if head.status is None:
        return None
    headers: dict[str, str] = {}
    for line in raw[: head.body_start].split(b"\n")[1:]:
        name, sep, value = line.partition(b":")
        if sep:
            headers[name.strip().lower().decode("latin-1")] = value.strip().decode("latin-1")
    body = b"".join(bytes(p) for p in iter_entity(raw, head))
    if headers.get("content-encoding"):
        body = _decode(body, headers["content-encoding"])
    return Response(head.status, headers, body)


async def get(host: str, port: int, path: str, timeout: float = 60.0) -> Response | None:
    """GET ``path`` (already a replay path); None when the server gave no HTTP answer."""
    safe = quote(path, safe="/:?&=%#@!$'()*+,;~-._")

    async def exchange() -> bytes:
        reader, writer = await asyncio.open_connection(host, port)
        try:
            writer.write(f"GET {safe} HTTP/1.0\r\nHost: {host}:{port}\r\n"
                         "Accept-Encoding: identity\r\n\r\n".encode("latin-1"))
            await writer.drain()
            return await reader.read()
        finally:
            writer.close()

    try:
        raw = await asyncio.wait_for(exchange(), timeout)
    except (TimeoutError, OSError):
        return None
    return parse_response(raw)
