"""Files uploaded with a form (``multipart/form-data``), read as they arrive into a folder.

The body is parsed while it streams in (python-multipart's push parser), so an upload never
sits in memory or in the system's temporary folder: each file goes straight to
``folder/<its own name>``, the name reduced to its last part (no folders, no ``..``, no control
characters). Reading stops as soon as the files together pass ``limit`` bytes (413); a body
that announces more than that is refused before a byte is read.

A browser form cannot send the CSRF token as a header, and the token sits in the body with the
files, so the session's check (``bewaar.web.auth.check_csrf``) cannot see it: here the ``csrf``
field must come before the first file (the forms put it first), or nothing is written.
"""

from __future__ import annotations

import hmac
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from fastapi import HTTPException, Request

from archive.errors import BewaarError

MAX_FILES = 100
MAX_FIELD_BYTES = 64 * 1024
OVERHEAD = 1024 * 1024  # the form's other fields and the part headers around the files
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class UploadError(BewaarError):
    """An upload that is refused; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400, **params: Any) -> None:
        super().__init__(message, **params)
        self.status = status


@dataclass
class Upload:
    folder: Path
    files: list[Path] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    size: int = 0  # bytes of the files together


def safe_name(raw: str) -> str:
    """The file name a browser or script sent, without any folder part; refused when nothing
    usable is left."""
    name = _CONTROL.sub("", raw.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    if name in ("", ".", "..") or len(name.encode()) > 255:
        raise UploadError("file name %(name)r cannot be used: give the file a plain name",
                          name=raw[:200])
    return name


def _limit_text(limit: int) -> str:
    return f"{limit:,} bytes".replace(",", ".")


class _Reader:
    """The push parser's callbacks: fields into ``fields``, files into the folder."""

    def __init__(self, upload: Upload, limit: int, csrf: str | None) -> None:
        self.upload, self.limit, self.csrf = upload, limit, csrf
        self.header_name = self.header_value = b""
        self.disposition = b""
        self.name = ""
        self.file: IO[bytes] | None = None
        self.current: Path | None = None
        self.data = bytearray()

    def on_part_begin(self) -> None:
        self.disposition, self.name, self.file, self.current = b"", "", None, None
        self.data = bytearray()

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self.header_name += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self.header_value += data[start:end]

    def on_header_end(self) -> None:
        if self.header_name.strip().lower() == b"content-disposition":
            self.disposition = self.header_value
        self.header_name = self.header_value = b""

    def on_headers_finished(self) -> None:
        from python_multipart.multipart import parse_options_header

        _, options = parse_options_header(self.disposition)
        self.name = options.get(b"name", b"").decode("utf-8", "replace")
        if b"filename" not in options:
            return
        raw = options[b"filename"].decode("utf-8", "replace")
        if raw == "":
            return  # a file input left empty
        if self.csrf is not None:
            sent = self.upload.fields.get("csrf", "")
            if not hmac.compare_digest(sent.encode(), self.csrf.encode()):
                raise HTTPException(403, "this form is out of date or was sent from another "
                                         "site (CSRF check): reload the page and try again")
        name = safe_name(raw)
        if len(self.upload.files) >= MAX_FILES:
            raise UploadError("more than %(max)s files in one upload", max=MAX_FILES)
        target = self.upload.folder / name
        if target.exists():
            raise UploadError("%(name)s: two files with this name in one upload; rename one",
                              name=name)
        self.current = target
        self.file = target.open("xb")
        self.upload.files.append(target)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if self.file is not None:
            self.upload.size += end - start
            if self.upload.size > self.limit:
                if self.current is None:
                    raise UploadError("the upload is larger than %(limit)s (setting "
                                      "upload_max_bytes); refused", 413,
                                      limit=_limit_text(self.limit))
                raise UploadError("%(name)s: the upload is larger than %(limit)s (setting "
                                  "upload_max_bytes); refused", 413, name=self.current.name,
                                  limit=_limit_text(self.limit))
            self.file.write(data[start:end])
        elif self.current is None:
            self.data += data[start:end]
            if len(self.data) > MAX_FIELD_BYTES:
                raise UploadError("form field %(name)r is too long", name=self.name)

    def on_part_end(self) -> None:
        if self.file is not None:
            self.file.close()
            self.file = None
        elif self.current is None and self.name:
            self.upload.fields[self.name] = self.data.decode("utf-8", "replace")

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


async def receive(request: Request, folder: Path, limit: int, csrf: str | None) -> Upload:
    """Read the request's form into ``folder`` (which must exist and be empty). ``csrf``: the
    token the form must carry (``None`` for a request with an API token)."""
    from python_multipart.exceptions import FormParserError
    from python_multipart.multipart import MultipartParser, parse_options_header

    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    if ctype != b"multipart/form-data" or not params.get(b"boundary"):
        raise UploadError("send the files as multipart/form-data (a form with "
                          "enctype=multipart/form-data, or curl -F files=@FILE)")
    announced = request.headers.get("content-length", "")
    if announced.isdigit() and int(announced) > limit + OVERHEAD:
        raise UploadError("the upload is larger than %(limit)s (setting upload_max_bytes); "
                          "refused", 413, limit=_limit_text(limit))
    upload = Upload(folder)
    reader = _Reader(upload, limit, csrf)
    callbacks: Any = {name: getattr(reader, name) for name in (
        "on_part_begin", "on_header_field", "on_header_value", "on_header_end",
        "on_headers_finished", "on_part_data", "on_part_end")}
    parser = MultipartParser(params[b"boundary"], callbacks)
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except FormParserError as exc:
        raise UploadError("the upload is not valid multipart/form-data: %(reason)s",
                          reason=str(exc)) from None
    finally:
        reader.close()
    if not upload.files:
        raise UploadError("choose one or more export files to upload")
    return upload
