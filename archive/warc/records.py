"""WARC 1.1 record serialisation: headers, digests, one gzip member per record."""

from __future__ import annotations

import base64
import hashlib
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from isal import isal_zlib
from zlib_ng import zlib_ng

WARC_VERSION = b"WARC/1.1"
FORMAT = "WARC File Format 1.1"
CONFORMS_TO = "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
REVISIT_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
DIGEST_ALGORITHM = "sha256"


def new_record_id() -> str:
    return f"<urn:uuid:{uuid.uuid4()}>"


def warc_date(dt: datetime) -> str:
    """WARC 1.1 date with microseconds, always UTC."""
    dt = dt.astimezone(UTC) if dt.tzinfo else dt.replace(tzinfo=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def digest_label(h: hashlib._Hash) -> str:
    return f"{DIGEST_ALGORITHM}:{base64.b32encode(h.digest()).decode('ascii')}"


def digest_of(pieces: Iterable[bytes | memoryview]) -> str:
    h = hashlib.new(DIGEST_ALGORITHM)
    for p in pieces:
        h.update(p)
    return digest_label(h)


def _clean(value: str) -> str:
    # Header values must not carry line breaks; URLs with spaces are percent-encoded upstream.
    return value.replace("\r", " ").replace("\n", " ")


def record_head(headers: list[tuple[str, str]], length: int) -> bytes:
    out = [WARC_VERSION]
    for name, value in headers:
        out.append(f"{name}: {_clean(value)}".encode())
    out.append(f"Content-Length: {length}".encode())
    out.append(b"")
    out.append(b"")
    return b"\r\n".join(out)


class Compressor:
    """One gzip member per record. isal for levels 0-3 (fast), zlib-ng for 4-9."""

    def __init__(self, level: int) -> None:
        self.level = level

    def member(self, parts: Iterable[bytes | memoryview]) -> bytes:
        c: Any
        if self.level <= 3:
            c = isal_zlib.compressobj(self.level, isal_zlib.DEFLATED, 31)
        else:
            c = zlib_ng.compressobj(self.level, zlib_ng.DEFLATED, 31)
        out = [c.compress(p) for p in parts]
        out.append(c.flush())
        return b"".join(out)


def warc_fields(fields: dict[str, str]) -> bytes:
    return "".join(f"{k}: {_clean(v)}\r\n" for k, v in fields.items() if v is not None).encode()
