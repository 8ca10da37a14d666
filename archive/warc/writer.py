"""A rotating WARC 1.1 writer that indexes as it writes. No Scrapy: chat code reuses it.

Files are written as ``NAME.warc.gz.open`` and renamed when complete; every record is one gzip
member written with a single ``write``; each file starts with a warcinfo record that every other
record points at. A CDXJ line per indexable record goes to ``index_dir/NAME.cdxj.open`` as the
record is written, and is sorted into ``NAME.cdxj`` when the file closes: no second pass over
the WARC. ``archive.warc.repair`` mends what a crash leaves behind.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import json
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO

from archive import SOFTWARE
from archive.errors import StorageError
from archive.files import write_atomic
from archive.warc.http import iter_entity, parse_head
from archive.warc.records import (
    CONFORMS_TO,
    FORMAT,
    REVISIT_PROFILE,
    Compressor,
    digest_label,
    digest_of,
    new_record_id,
    record_head,
    warc_date,
    warc_fields,
)
from archive.warc.sortkey import surt_key

OPEN_SUFFIX = ".open"


@dataclass(frozen=True)
class RevisitOf:
    """The earlier capture an identical payload refers to."""

    uri: str
    date: str
    record_id: str
    digest: str


@dataclass(frozen=True)
class WrittenRecord:
    record_id: str
    record_type: str
    payload_digest: str | None
    filename: str
    offset: int
    length: int
    warc_date: str
    status: int | None = None
    mime: str | None = None


@dataclass(frozen=True)
class ClosedWarc:
    path: Path
    size: int
    sha256: str
    records: int
    cdxj_path: Path | None
    cdxj_sha256: str | None
    # Computed as the file was written, so sealing it into a package needs no second read.
    sha512: str | None = None


def cdxj_line(url: str, timestamp: str, fields: dict[str, str]) -> bytes:
    return f"{surt_key(url)} {timestamp} {json.dumps(fields, separators=(', ', ': '))}\n".encode()


def cdx_timestamp(date: str) -> str:
    return re.sub(r"\D", "", date)[:14]


def sort_index(open_path: Path, final_path: Path) -> str:
    """Sort a CDXJ written in record order into its final name; return its sha256."""
    lines = open_path.read_bytes().splitlines(keepends=True)
    lines.sort()
    data = b"".join(lines)
    write_atomic(final_path, data)
    open_path.unlink(missing_ok=True)
    return hashlib.sha256(data).hexdigest()


def _hostname() -> str:
    return re.sub(r"[^A-Za-z0-9.-]", "-", socket.gethostname()) or "localhost"


class WarcWriter:
    def __init__(
        self,
        directory: Path,
        *,
        prefix: str,
        max_size: int,
        gzip_level: int = 6,
        warcinfo: dict[str, str],
        index_dir: Path | None = None,
        dedup: Callable[[str, str], RevisitOf | None] | None = None,
        on_close: Callable[[ClosedWarc], None] | None = None,
    ) -> None:
        self.directory = Path(directory)
        self.prefix = re.sub(r"[^A-Za-z0-9_.-]", "-", prefix)
        self.max_size = max_size
        self.compressor = Compressor(gzip_level)
        self.warcinfo = dict(warcinfo)
        self.index_dir = Path(index_dir) if index_dir else None
        self.dedup = dedup
        self.on_close = on_close
        self.host = _hostname()
        self.serial = 0
        self.closed_files: list[ClosedWarc] = []
        self._fh: BinaryIO | None = None
        self._index: BinaryIO | None = None
        self._name = ""
        self._size = 0
        self._records = 0
        self._sha = hashlib.sha256()
        self._sha512 = hashlib.sha512()
        self._warcinfo_id = ""
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            if self.index_dir:
                self.index_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create {self.directory}: {exc.strerror}") from None

    # -- files ---------------------------------------------------------------------------
    @property
    def current_path(self) -> Path | None:
        return self.directory / (self._name + OPEN_SUFFIX) if self._fh else None

    def _open(self) -> None:
        self.serial += 1
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
        self._name = f"{self.prefix}-{stamp}-{self.serial:05d}-{self.host}.warc.gz"
        try:
            self._fh = open(self.directory / (self._name + OPEN_SUFFIX), "xb", buffering=0)
            if self.index_dir:
                self._index = open(self.index_dir / (self._name[: -len(".warc.gz")] + ".cdxj.open"), "wb")
        except OSError as exc:
            raise StorageError(f"cannot write in {self.directory}: {exc.strerror}") from None
        self._size = 0
        self._records = 0
        self._sha = hashlib.sha256()
        self._sha512 = hashlib.sha512()
        self._warcinfo_id = new_record_id()
        fields = {
            "software": SOFTWARE,
            "format": FORMAT,
            "conformsTo": CONFORMS_TO,
            **self.warcinfo,
        }
        block = warc_fields(fields)
        head = record_head(
            [
                ("WARC-Type", "warcinfo"),
                ("WARC-Record-ID", self._warcinfo_id),
                ("WARC-Date", warc_date(datetime.now(UTC))),
                ("WARC-Filename", self._name),
                ("Content-Type", "application/warc-fields"),
                ("WARC-Block-Digest", digest_of([block])),
            ],
            len(block),
        )
        self._write_member([head, block, b"\r\n\r\n"])

    def _write_member(self, parts: list[bytes | memoryview]) -> tuple[int, int]:
        assert self._fh is not None
        member = self.compressor.member(parts)
        offset = self._size
        try:
            view = memoryview(member)
            while view:  # an unbuffered write may take only part of it (a disk filling up)
                written = self._fh.write(view)
                if not written:
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
                view = view[written:]
        except OSError as exc:
            # Cut the partial member off: the file ends at a whole record, as repair expects.
            with contextlib.suppress(OSError):
                self._fh.truncate(offset)
                self._fh.seek(offset)
            raise StorageError(f"cannot write {self._name}: {exc.strerror}") from None
        self._sha.update(member)
        self._sha512.update(member)
        self._size += len(member)
        self._records += 1
        return offset, len(member)

    def _ensure_open(self) -> None:
        if self._fh is None:
            self._open()

    def _maybe_rotate(self) -> None:
        if self._fh is not None and self._size >= self.max_size:
            self._close_file()

    def _close_file(self) -> None:
        """Finish the file: its index sorted first, then the WARC renamed to its finished name.
        A failure (a full disk) raises ``StorageError`` and leaves it ``.open`` for repair."""
        if self._fh is None:
            return
        fh, index, self._fh, self._index = self._fh, self._index, None, None
        open_path = self.directory / (self._name + OPEN_SUFFIX)
        final = self.directory / self._name
        cdxj_path = cdxj_sha = None
        try:
            try:
                fh.flush()
                os.fsync(fh.fileno())
            finally:
                fh.close()
            if index is not None:
                index.close()
                assert self.index_dir is not None
                stem = self._name[: -len(".warc.gz")]
                cdxj_path = self.index_dir / f"{stem}.cdxj"
                cdxj_sha = sort_index(self.index_dir / f"{stem}.cdxj.open", cdxj_path)
            os.replace(open_path, final)
        except OSError as exc:
            if index is not None:
                with contextlib.suppress(OSError):
                    index.close()
            raise StorageError(f"cannot finish {self._name}: {exc.strerror}") from None
        closed = ClosedWarc(final, self._size, self._sha.hexdigest(), self._records, cdxj_path,
                            cdxj_sha, self._sha512.hexdigest())
        self.closed_files.append(closed)
        if self.on_close:
            self.on_close(closed)

    def flush_index(self) -> None:
        """Hand the CDXJ lines written so far to the OS (the WARC itself is unbuffered): a
        capture recorded elsewhere after this keeps its index line should the process die."""
        if self._index is not None:
            try:
                self._index.flush()
            except OSError as exc:
                raise StorageError(f"cannot write the index of {self._name}: {exc.strerror}") from None

    def close(self) -> None:
        self._close_file()

    def __enter__(self) -> WarcWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _index_line(self, url: str, date: str, fields: dict[str, str]) -> None:
        if self._index is not None:
            try:
                self._index.write(cdxj_line(url, cdx_timestamp(date), fields))
            except OSError as exc:
                raise StorageError(f"cannot write the index of {self._name}: {exc.strerror}") from None

    # -- records -------------------------------------------------------------------------
    def write_exchange(
        self,
        *,
        url: str,
        request: bytes,
        response: bytes | memoryview,
        ip: str | None,
        date: datetime,
    ) -> WrittenRecord:
        """Write a request and its response (or a revisit), pointing at each other."""
        self._ensure_open()
        date_s = warc_date(date)
        req_id, resp_id = new_record_id(), new_record_id()
        head = parse_head(response)
        payload_h = hashlib.new("sha256")
        for piece in iter_entity(response, head):
            payload_h.update(piece)
        payload_digest = digest_label(payload_h)
        revisit = self.dedup(payload_digest, url) if self.dedup and head.status else None

        common = [("WARC-Date", date_s), ("WARC-Target-URI", url)]
        if ip:
            common.append(("WARC-IP-Address", ip))
        common.append(("WARC-Warcinfo-ID", self._warcinfo_id))

        req_head = record_head(
            [
                ("WARC-Type", "request"),
                ("WARC-Record-ID", req_id),
                *common,
                ("WARC-Concurrent-To", resp_id),
                ("Content-Type", "application/http; msgtype=request"),
                ("WARC-Block-Digest", digest_of([request])),
            ],
            len(request),
        )
        self._write_member([req_head, request, b"\r\n\r\n"])

        if revisit is None:
            rtype = "response"
            block: bytes | memoryview = response
            extra: list[tuple[str, str]] = [("WARC-Payload-Digest", payload_digest)]
        else:
            rtype = "revisit"
            block = bytes(memoryview(response)[: head.body_start])
            extra = [
                ("WARC-Profile", REVISIT_PROFILE),
                ("WARC-Refers-To", revisit.record_id),
                ("WARC-Refers-To-Target-URI", revisit.uri),
                ("WARC-Refers-To-Date", revisit.date),
                ("WARC-Payload-Digest", payload_digest),
            ]
        resp_head = record_head(
            [
                ("WARC-Type", rtype),
                ("WARC-Record-ID", resp_id),
                *common,
                ("WARC-Concurrent-To", req_id),
                ("Content-Type", "application/http; msgtype=response"),
                ("WARC-Block-Digest", digest_of([block])),
                *extra,
            ],
            len(block),
        )
        offset, length = self._write_member([resp_head, block, b"\r\n\r\n"])
        fields = {
            "url": url,
            "mime": "warc/revisit" if revisit else (head.mime or "unk"),
            "status": str(head.status or 0),
            "digest": payload_digest,
            "length": str(length),
            "offset": str(offset),
            "filename": self._name,
        }
        self._index_line(url, date_s, fields)
        rec = WrittenRecord(resp_id, rtype, payload_digest, self._name, offset, length, date_s,
                            head.status, head.mime)
        self._maybe_rotate()
        return rec

    def _write_simple(
        self, rtype: str, url: str, body: bytes, content_type: str, date: datetime,
        extra: list[tuple[str, str]], index: bool,
    ) -> WrittenRecord:
        self._ensure_open()
        rid = new_record_id()
        date_s = warc_date(date)
        digest = digest_of([body])
        head = record_head(
            [
                ("WARC-Type", rtype),
                ("WARC-Record-ID", rid),
                ("WARC-Date", date_s),
                ("WARC-Target-URI", url),
                ("WARC-Warcinfo-ID", self._warcinfo_id),
                *extra,
                ("Content-Type", content_type),
                ("WARC-Block-Digest", digest),
                ("WARC-Payload-Digest", digest),
            ],
            len(body),
        )
        offset, length = self._write_member([head, body, b"\r\n\r\n"])
        if index:
            mime = content_type.split(";", 1)[0].strip()
            self._index_line(url, date_s, {
                "url": url, "mime": mime, "status": "200", "digest": digest,
                "length": str(length), "offset": str(offset), "filename": self._name,
            })
        rec = WrittenRecord(rid, rtype, digest, self._name, offset, length, date_s, None, content_type)
        self._maybe_rotate()
        return rec

    def write_metadata(
        self, *, url: str, concurrent_to: str, body: bytes, content_type: str, date: datetime
    ) -> WrittenRecord:
        """A metadata record about another record (e.g. the TLS peer certificate)."""
        return self._write_simple("metadata", url, body, content_type, date,
                                  [("WARC-Concurrent-To", concurrent_to)], index=False)

    def write_resource(
        self, *, url: str, body: bytes, content_type: str, date: datetime
    ) -> WrittenRecord:
        """A resource record: content obtained without an HTTP exchange (logs, chat exports)."""
        return self._write_simple("resource", url, body, content_type, date, [], index=True)
