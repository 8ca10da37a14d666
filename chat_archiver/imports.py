"""Importing the export files officials make (WhatsApp, Signal, Teams, Telegram) into sealed
packages, through the same export path as Matrix (``export.run_export``).

``import_files(settings, source, files)``: the files are copied bit-for-bit and unzipped (safely)
into a staging folder under ``chat_dir/<source>/``, read by the source's reader, served to the
export writer by an ``ExportConnector``; messages already archived for the source are skipped;
what is new is written in the chat layout (messages.csv, rooms/*/events.jsonl with the
normalised events, rooms/*/transcript.html, attachments/, original/, evidence.json) and sealed,
chained to the source's previous package. A file that cannot be read raises an
``ExportFileError`` naming it: then nothing is sealed and nothing is recorded as archived.
"""

from __future__ import annotations

import gc
import os
import re
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from archive.models import ChatSource
from archive.settings import Settings
from chat_archiver.connector import ChatError
from chat_archiver.export import ExportJob, ExportProgress, RoomExport, run_export
from chat_archiver.exports import EXPORT_KINDS, reader_for
from chat_archiver.exports.base import LOCALES, ParsedExport, ReadOptions
from chat_archiver.exports.connector import ExportConnector
from chat_archiver.exports.files import Bundle, Limits, stage_files

NAME_RE = r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}"
DEFAULT_TIMEZONE = "Europe/Amsterdam"
APP_NAMES = {"whatsapp": "WhatsApp", "signal": "Signal", "teams": "Microsoft Teams",
             "telegram": "Telegram"}


@dataclass
class ImportResult:
    package: Path | None  # None when nothing was new
    messages: int  # new messages archived
    duplicates: int  # already archived for the source, skipped
    unparsed: int
    attachments: int  # files archived
    attachments_missing: int  # referenced but not in the export (omitted media not counted)
    warnings: list[str] = field(default_factory=list)
    rooms: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {"package": str(self.package) if self.package else None,
                "messages": self.messages, "duplicates": self.duplicates,
                "unparsed": self.unparsed, "attachments": self.attachments,
                "attachments_missing": self.attachments_missing, "warnings": self.warnings,
                "rooms": self.rooms}


def new_export_source(kind: str, name: str, *, category: str, timezone: str | None = None,
                      locale: str | None = None, owner: str | None = None) -> ChatSource:
    """A checked, unsaved ``ChatSource`` for the exports of one app; the caller checks the
    category against the selectielijst and that the name is free, and adds it."""
    if kind not in EXPORT_KINDS:
        raise ChatError("chat source kind %(kind)r: use one of %(kinds)s", kind=kind,
                        kinds=", ".join(EXPORT_KINDS))
    if not re.fullmatch(NAME_RE, name):
        raise ChatError("source name %(name)r: use letters, digits, '.', '_' or '-'", name=name)
    tz = timezone or DEFAULT_TIMEZONE
    try:
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ChatError("--timezone %(tz)r is not a known time zone (like Europe/Amsterdam)",
                        tz=tz) from None
    loc = locale or "auto"
    if loc not in LOCALES:
        raise ChatError("--locale %(locale)r: use auto, nl or en (exports of phones in other "
                        "languages are not read)", locale=loc)
    if owner is not None and (len(owner) > 300 or any(ord(ch) < 32 for ch in owner)):
        raise ChatError("--owner: at most 300 characters, no control characters")
    return ChatSource(name=name, kind=kind, homeserver="", user_id="", secret_ref="",
                      rooms=[], all_joined=True, category=category, timezone=tz, locale=loc,
                      owner=owner)


def import_files(settings: Settings, source_name: str, files: list[Path],
                 progress: Callable[[ExportProgress], None] | None = None, *,
                 limits: Limits | None = None) -> ImportResult:
    """Archive what is new in ``files`` (exports of the source's app) and seal it."""
    if not files:
        raise ChatError("give at least one export file")
    state: dict[str, Any] = {}

    def job(source: ChatSource, staging: Path, export_uuid: str) -> ExportJob:
        if source.kind not in EXPORT_KINDS:
            raise ChatError("chat source %(name)r is a %(kind)s source: it is exported with "
                            "`bewaar chat export`, not imported from files", name=source.name,
                            kind=source.kind)
        report = progress or (lambda p: None)
        report(ExportProgress("read"))
        bundle = stage_files([Path(f) for f in files], staging / "input", limits)
        options = ReadOptions(timezone=source.timezone or DEFAULT_TIMEZONE,
                              timezone_origin="declared for the source" if source.timezone
                              else "the default (none declared for the source)",
                              locale=source.locale or "auto", owner=source.owner)
        parsed = reader_for(source.kind).read(bundle, options)
        state.update(parsed=parsed, bundle=bundle)
        app = APP_NAMES[source.kind]
        header = {"format": "bewaarplaats-chat-export/1", "source": source.name,
                  "kind": source.kind, "owner": source.owner, "export_id": export_uuid}
        return ExportJob(
            ExportConnector(parsed, source.kind,
                            {m.path: m.sha256 for m in bundle.members if m.sha256}), header,
            f"{app} chat export{' of ' + source.owner if source.owner else ''}, imported from "
            f"{len(bundle.originals)} export file(s)",
            {"Chat-App": app, "Chat-Export-Files": str(len(bundle.originals))},
            title=f"{app} chat export",
            before_write=lambda data, rooms: _before_write(data, rooms, header, parsed, bundle,
                                                           source))

    with collector_paused():
        result = run_export(settings, source_name, job, progress)
    parsed: ParsedExport = state["parsed"]
    attachments = missing = 0
    for room in result.rooms_exported:
        for info in room.attachments.values():
            if info.get("path"):
                attachments += 1
            else:
                missing += 1
    return ImportResult(result.package, result.events, result.duplicates, len(parsed.unparsed),
                        attachments, missing, list(parsed.warnings), result.rooms)


@contextmanager
def collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while an import runs (and its messages are indexed for
    search). An import makes hundreds of thousands of objects that live until it ends (the
    messages, their events, the rows, the documents); the collector would walk all of them
    again and again as they pile up (about a tenth of an import's time), while they hold next
    to no cycles. Reference counting still frees everything else; the collector runs again as
    before when the import is done. Nested uses leave it to the outermost."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _before_write(data: Path, rooms: list[RoomExport], header: dict[str, Any],
                  parsed: ParsedExport, bundle: Bundle, source: ChatSource) -> None:
    """Keep the originals bit-for-bit under original/ and complete evidence.json's head."""
    for o in bundle.originals:
        target = data / o.stored_as
        target.parent.mkdir(parents=True, exist_ok=True)
        try:
            os.link(o.path, target)
        except OSError:
            shutil.copyfile(o.path, target)
    messages = sum(len(r.fetch.events) for r in rooms)
    system = sum(1 for r in rooms for e in r.fetch.events if e.type == "bewaar.system")
    header["import"] = {
        **parsed.evidence,
        "source_settings": {"timezone": source.timezone, "locale": source.locale,
                            "owner": source.owner},
        "original_files": [{"name": o.name, "path": o.stored_as, "sha256": o.sha256,
                            "size": o.size} for o in bundle.originals],
        "counts": {**(parsed.evidence.get("counts") or {}),
                   "messages_read": sum(len(c.messages) for c in parsed.chats),
                   "archived_now": messages, "system_messages_archived": system,
                   "duplicates_skipped": sum(r.skipped_duplicates for r in rooms),
                   "unparsed": len(parsed.unparsed)},
        "unparsed": parsed.unparsed,
        "warnings": parsed.warnings,
    }
