"""What a resumed run stored already, served back from its WARC files instead of the network.

The command reads it from the database (``crawler.ledger.stored_captures``) and sends it to
the worker with the job (``to_json``, ``from_json``): the worker has no database layer.
"""

from __future__ import annotations

import zlib
from dataclasses import astuple, dataclass, field
from pathlib import Path
from typing import Any

from archive.warc.http import iter_entity, parse_head
from crawler.scope import canonical


@dataclass
class StoredRef:
    """Where a stored record is: its WARC file, offset and length."""

    filename: str
    offset: int
    length: int
    record_type: str
    digest: str | None


@dataclass
class StoredCaptures:
    by_url: dict[str, StoredRef] = field(default_factory=dict)
    by_digest: dict[str, StoredRef] = field(default_factory=dict)
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
        return cls({u: StoredRef(*r) for u, r in data["by_url"].items()},
                   {d: StoredRef(*r) for d, r in data["by_digest"].items()},
                   {n: Path(p) for n, p in data["paths"].items()})

    def _read(self, ref: StoredRef) -> bytes | None:
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
