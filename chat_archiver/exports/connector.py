"""The export-file connector: a parsed export served through the same ``ChatConnector``
interface as a Matrix homeserver, so the export writer and sealing do not know the format.

Each chat is a room; its messages are the room's events (the normalised events of
``base.Message.event``), oldest first; attachments are the staged files of the export.
"""

from __future__ import annotations

import json
import mimetypes
from pathlib import Path

from chat_archiver.connector import (
    Attachment,
    ChatConnector,
    PageCallback,
    RawEvent,
    RoomFetch,
    RoomInfo,
    UnknownRoomError,
)
from chat_archiver.exports.base import ParsedExport

# one encoder for every event (json.dumps with options makes a new one for each call)
_ENCODER = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))


class ExportConnector(ChatConnector):
    def __init__(self, parsed: ParsedExport, kind: str,
                 digests: dict[Path, str] | None = None) -> None:
        self.parsed = parsed
        self.kind = kind
        self.digests = digests or {}  # staged file -> sha256, hashed while it was unpacked
        self.chats = {c.room_id: c for c in parsed.chats}

    async def open(self) -> None:
        return None

    async def close(self) -> None:
        return None

    async def rooms(self, wanted: list[str] | None) -> list[RoomInfo]:
        ids = wanted if wanted else list(self.chats)
        missing = [r for r in ids if r not in self.chats]
        if missing:
            raise UnknownRoomError("not in this export: %(rooms)s", rooms=", ".join(missing))
        return [RoomInfo(r, self.chats[r].name) for r in ids]

    async def fetch(self, room_id: str, token: str | None,
                    on_page: PageCallback | None = None) -> RoomFetch:
        chat = self.chats[room_id]
        events = []
        for m in chat.messages:
            ev = m.event(self.kind)
            raw = _ENCODER.encode(ev).encode("utf-8")
            events.append(RawEvent.from_element(raw, ev))
        if on_page is not None:
            on_page(room_id, len(events))
        return RoomFetch(room_id, events, mode="export file", from_token=None, next_token=None,
                         reached_start=False, pages=1)

    async def room_state(self, room_id: str) -> bytes:
        name = self.chats[room_id].name
        state = [{"type": "m.room.name", "state_key": "", "content": {"name": name or room_id},
                  "bewaar": {"note": "not a state event of the app: the chat's name as the "
                                     "export gives it"}}]
        return json.dumps(state, ensure_ascii=False).encode("utf-8")

    async def attachment(self, ref: str) -> Attachment:
        path = self.parsed.files.get(ref)
        if path is None:
            return Attachment(None, None, "the file is not in the export")
        # the staged file itself, linked into the package (not read into memory and written)
        return Attachment(None, mimetypes.guess_type(ref)[0], path=path,
                          sha256=self.digests.get(path))
