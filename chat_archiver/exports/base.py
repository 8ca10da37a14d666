"""What every export-file reader shares: errors naming the file, the normalised message, and
the reader interface.

A reader turns the files of one export (a WhatsApp ``.txt`` or ``.zip``, a Telegram
``result.json``, saved Microsoft Graph pages, a sigtop JSON file) into chats of ``Message``s in
chronological order. ``Message.event()`` gives the normalised event the export writer stores in
``events.jsonl``: the shape of a Matrix event (``event_id``, ``type``, ``sender``,
``origin_server_ts``, ``content`` with ``msgtype``/``body``/``url``, ``m.relates_to`` for
replies, ``unsigned.redacted_because`` for deleted messages) plus a ``bewaar`` object with what
only exports have (source format, native id, line number, local time as written, edited,
deleted, media omitted, reactions, mentions, system event details). So the writer, transcript
and sealing stay one code path for Matrix and every export format.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from chat_archiver.connector import ChatError

SYSTEM_TYPE = "bewaar.system"
MESSAGE_TYPE = "m.room.message"
LOCALES = ("auto", "nl", "en")


class ExportFileError(ChatError):
    """An export file cannot be read; the message names the file and what is wrong.

    ``problem`` is a template with its parameters as keywords (archive.errors.BewaarError): the
    message's template is ``template_prefix`` followed by it, and the web app translates the part
    after the prefix (bewaar/web/i18n.py). ``self.problem`` is the problem filled in."""

    template_prefix = "%(file)s: "  # before the text the web translates (i18n.error_message)

    def __init__(self, file: str, problem: str, **params: Any) -> None:
        super().__init__(self.template_prefix + problem, file=file, **params)
        self.file = file
        self.problem = problem % params


class UnsafeArchiveError(ExportFileError):
    """A zip that climbs out of its folder, holds links, or unpacks to too much."""


class NotAnExportError(ExportFileError):
    """Random bytes, a damaged file, or an export of another format."""


class ExportEncodingError(ExportFileError):
    """Text in an encoding the app does not write."""


class UnknownLocaleError(ExportFileError):
    """An export written by a phone in a language the reader does not know."""


@dataclass
class ReadOptions:
    timezone: str = "Europe/Amsterdam"  # phone time → UTC (WhatsApp only: the others say UTC)
    timezone_origin: str = "declared for the source"
    locale: str = "auto"  # auto | nl | en
    owner: str | None = None  # the account the export was made on


@dataclass
class Message:
    """One message (or system line) of an export, normalised."""

    key: str  # identity across exports: see each reader's module docstring
    ts_ms: int  # UTC milliseconds
    sender: str
    text: str = ""
    system: bool = False
    msgtype: str = "m.text"
    html: str | None = None  # an HTML body as sent (Teams), kept beside the plain text
    attachment: str | None = None  # the file name the export refers to
    attachment_ref: str | None = None  # export:<original>/<member> when the file is there
    media_omitted: bool = False
    edited: bool = False
    edited_ms: int | None = None
    deleted: bool = False
    deleted_ms: int | None = None
    reply_to: str | None = None  # the key of the message answered
    native_id: str | None = None
    file: str | None = None  # the export file (or zip member) it was read from
    line: int | None = None
    local_time: str | None = None  # the time as written, when the file has no time zone
    extra: dict[str, Any] = field(default_factory=dict)  # reactions, mentions, event details …

    def event(self, source_format: str) -> dict[str, Any]:
        content: dict[str, Any] = {"msgtype": "m.notice" if self.system else self.msgtype,
                                   "body": self.text}
        if self.attachment:
            content["filename"] = self.attachment
            if not self.media_omitted:
                content["url"] = self.attachment_ref or "export:" + self.attachment
        if self.html is not None:
            content["format"] = "org.matrix.custom.html"
            content["formatted_body"] = self.html
        if self.reply_to:
            content["m.relates_to"] = {"m.in_reply_to": {"event_id": self.reply_to}}
        info: dict[str, Any] = {"source_format": source_format}
        for name in ("native_id", "file", "line", "local_time"):
            if getattr(self, name) is not None:
                info[name] = getattr(self, name)
        if self.system:
            info["system"] = True
        if self.media_omitted:
            info["media_omitted"] = True
        if self.edited:
            info["edited"] = True
            if self.edited_ms is not None:
                info["edited_at"] = iso(self.edited_ms)
        if self.deleted:
            info["deleted"] = True
            if self.deleted_ms is not None:
                info["deleted_at"] = iso(self.deleted_ms)
        info.update(self.extra)
        ev: dict[str, Any] = {"event_id": self.key, "type": SYSTEM_TYPE if self.system
                              else MESSAGE_TYPE, "sender": self.sender,
                              "origin_server_ts": self.ts_ms, "content": content, "bewaar": info}
        if self.deleted:
            ev["unsigned"] = {"redacted_because": {
                "sender": self.sender, "origin_server_ts": self.deleted_ms,
                "content": {"reason": "deleted (marked so in the export)"}}}
        return ev


@dataclass
class Chat:
    room_id: str
    name: str | None
    messages: list[Message] = field(default_factory=list)


@dataclass
class ParsedExport:
    """What a reader found in the files of one import."""

    chats: list[Chat]
    evidence: dict[str, Any]  # format, parser, locale, time zone, counts … (see the readers)
    unparsed: list[dict[str, Any]] = field(default_factory=list)  # {file, line, text, problem}
    warnings: list[str] = field(default_factory=list)
    files: dict[str, Path] = field(default_factory=dict)  # attachment_ref -> staged file


class ExportReader(abc.ABC):
    """Reads the export files of one app. A new format is one module with one of these."""

    kind: str = "abstract"
    version: str = "1"
    parser: str = "bewaarplaats"  # the parser's name in evidence.json

    @abc.abstractmethod
    def read(self, bundle: Any, options: ReadOptions) -> ParsedExport:
        """Parse the bundle (``chat_archiver.exports.files.Bundle``) or raise an
        ``ExportFileError`` naming the file."""

    def utc_export(self, format_name: str, time_field: str) -> ParsedExport:
        """An empty result for a format whose times are UTC in the file (``time_field``)."""
        return ParsedExport([], {"format": format_name, "parser": self.parser,
                                 "parser_version": self.version, "documents": [],
                                 "timezone": {"name": "UTC", "origin": "read from the file "
                                              f"({time_field})"}})


def iso(ms: int | None) -> str | None:
    if ms is None:
        return None
    return datetime.fromtimestamp(ms / 1000, UTC).isoformat().replace("+00:00", "Z")


def parse_iso_ms(value: Any) -> int | None:
    """Milliseconds of an ISO 8601 time with a zone (Graph: ``2024-03-31T00:30:00.123Z``)."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # Graph writes up to 7 fraction digits; Python reads 6
        digits = rest[:len(rest) - len(rest.lstrip("0123456789"))]
        zone = rest[len(digits):]
        text = f"{head}.{digits[:6].ljust(6, '0')}{zone}"
    try:
        dt = datetime.fromisoformat(text)
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    return int(dt.timestamp() * 1000)


def attach(parsed: ParsedExport, msg: Message, member: Any) -> None:
    """Point ``msg`` at a staged file of the bundle (a ``files.Member``)."""
    msg.attachment_ref = f"export:{member.origin}/{member.name}"
    parsed.files[msg.attachment_ref] = member.path


def file_label(path: Path | str) -> str:
    return Path(path).name
