"""Telegram Desktop "Export chat history" in JSON: ``result.json`` (bare, or zipped with the
``photos/``, ``files/``, ``video_files/`` … folders beside it).

One chat (``{"name", "type", "id", "messages"}``) or a whole account (``{"chats": {"list":
[…]}}``). Times are ``date_unixtime`` (UTC seconds); ``date`` (the exporting computer's local
time) is used only when that is missing, with the source's declared zone. Text is a string or an
entity array; service messages (``type: "service"``, ``actor``, ``action``) are system
messages; ``edited_unixtime`` marks an edit, ``reply_to_message_id`` a reply; ``photo`` and
``file`` name the file beside ``result.json`` or say it was not included.

Message identity: ``telegram:<chat id>:<message id>`` (message ids are unique within a chat),
with ``@edited:<edited_unixtime>`` when edited, so a later edit is archived once more, as an
edited version, and an unchanged message never twice.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from chat_archiver.exports.base import (
    Chat,
    ExportReader,
    Message,
    NotAnExportError,
    ParsedExport,
    ReadOptions,
    attach,
)
from chat_archiver.exports.files import Bundle
from chat_archiver.exports.jsonfiles import json_documents, label_of, load_json, text_of
from chat_archiver.exports.whatsapp_text import media_type

NOT_INCLUDED = "(File not included"


class TelegramReader(ExportReader):
    kind = "telegram"
    parser = "bewaarplaats-telegram"
    version = "1"

    def read(self, bundle: Bundle, options: ReadOptions) -> ParsedExport:
        parsed = self.utc_export("telegram-desktop-json", "date_unixtime")
        chats: dict[str, Chat] = {}
        for doc in json_documents(bundle, "Telegram", "result.json"):
            data = load_json(doc, "Telegram")
            label = label_of(doc)
            if isinstance(data, dict) and isinstance(data.get("chats"), dict):
                found = [c for c in data["chats"].get("list") or [] if isinstance(c, dict)]
            elif isinstance(data, dict) and isinstance(data.get("messages"), list):
                found = [data]
            else:
                raise NotAnExportError(label, "has no 'messages' list: not a Telegram Desktop "
                                       "export (result.json)")
            counts = {"messages": 0, "system_messages": 0, "attachments_referenced": 0,
                      "attachments_present": 0, "attachments_omitted": 0}
            missing: list[str] = []
            for c in found:
                room_id = f"telegram:{c.get('id', c.get('name', 'chat'))}"
                chat = chats.setdefault(room_id, Chat(room_id, c.get("name")))
                keys: dict[Any, str] = {}
                for i, m in enumerate(c.get("messages") or []):
                    msg = self._message(m, c, label, i, options, parsed)
                    if msg is None:
                        continue
                    keys[m.get("id")] = msg.key
                    reply = m.get("reply_to_message_id")
                    if reply is not None:
                        msg.reply_to = keys.get(reply, f"telegram:{c.get('id')}:{reply}")
                    counts["system_messages" if msg.system else "messages"] += 1
                    ref = m.get("photo") or m.get("file")
                    if isinstance(ref, str):
                        counts["attachments_referenced"] += 1
                        if ref.startswith(NOT_INCLUDED):
                            counts["attachments_omitted"] += 1
                            msg.media_omitted = True
                            msg.attachment = m.get("file_name") or "(not included)"
                        else:
                            msg.attachment = ref
                            member = bundle.find(ref, near=doc)
                            if member is None:
                                missing.append(ref)
                            else:
                                counts["attachments_present"] += 1
                                attach(parsed, msg, member)
                        msg.msgtype = "m.image" if m.get("photo") else media_type(ref)
                    chat.messages.append(msg)
            parsed.evidence["documents"].append({
                "file": label, "chats": len(found), "counts": counts,
                "attachments": {"referenced": counts["attachments_referenced"],
                                "present": counts["attachments_present"],
                                "omitted": counts["attachments_omitted"], "missing": missing}})
        for chat in chats.values():
            chat.messages.sort(key=lambda x: x.ts_ms)
        parsed.chats = list(chats.values())
        return parsed

    def _message(self, m: Any, chat: dict[str, Any], label: str, i: int,
                 options: ReadOptions, parsed: ParsedExport) -> Message | None:
        if not isinstance(m, dict) or "id" not in m:
            parsed.unparsed.append({"file": label, "line": None, "index": i,
                                    "text": str(m)[:500], "problem": "not a message object"})
            return None
        ts = _seconds(m.get("date_unixtime"))
        if ts is None and isinstance(m.get("date"), str):
            try:
                local = datetime.fromisoformat(m["date"]).replace(tzinfo=ZoneInfo(options.timezone))
                ts = int(local.timestamp())
                parsed.warnings.append(f"{label}: message {m['id']} has no date_unixtime; its "
                                       f"local date was read in {options.timezone}")
            except ValueError:
                ts = None
        if ts is None:
            parsed.unparsed.append({"file": label, "line": None, "index": i,
                                    "text": str(m)[:500], "problem": "no time"})
            return None
        system = m.get("type") == "service"
        edited = _seconds(m.get("edited_unixtime"))
        key = f"telegram:{chat.get('id')}:{m['id']}" + (f"@edited:{edited}" if edited else "")
        text = text_of(m.get("text"))
        if system:
            action = str(m.get("action", "service"))
            detail = ", ".join(str(x) for x in m.get("members") or [])
            text = text or " ".join(x for x in (action.replace("_", " "),
                                                m.get("title") or "", detail) if x)
        sender = str(m.get("from") or m.get("actor") or m.get("from_id") or m.get("actor_id")
                     or "")
        extra: dict[str, Any] = {"native": m}
        return Message(key, ts * 1000, sender, text=text, system=system, native_id=str(m["id"]),
                       file=label, edited=edited is not None,
                       edited_ms=edited * 1000 if edited else None, extra=extra)


def _seconds(value: Any) -> int | None:
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None
