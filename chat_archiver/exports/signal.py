"""Signal Desktop messages as the open tool sigtop exports them (``sigtop export-messages -f
json``): per conversation one JSON array of Signal Desktop's own message JSON; attachments
from ``sigtop export-attachments`` may be given beside it or in the same zip.

Fields read: ``id``, ``conversationId``, ``type`` (``incoming``/``outgoing``; anything else,
such as ``group-v2-change`` or ``timer-notification``, is a system message), ``sent_at`` (UTC
milliseconds), ``body``, ``source``/``sourceServiceId``, ``attachments`` (``fileName``,
``path``, ``contentType``), ``quote`` (the quoted message's ``sent_at``), ``reactions``,
``editHistory``/``editMessageTimestamp`` and ``deletedForEveryone``. An attachment is found by
its ``path``, then its file name.

Message identity: ``signal:<id>`` (Signal Desktop's message uuid), with
``@edited:<editMessageTimestamp>`` or ``@deleted`` for a changed version.
"""

from __future__ import annotations

from pathlib import PurePosixPath
from typing import Any

from archive.errors import Word
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
from chat_archiver.exports.jsonfiles import label_of, load_json
from chat_archiver.exports.whatsapp_text import media_type


class SignalReader(ExportReader):
    kind = "signal"
    parser = "bewaarplaats-signal-sigtop"
    version = "1"

    def read(self, bundle: Bundle, options: ReadOptions) -> ParsedExport:
        parsed = self.utc_export("sigtop-json", "sent_at")
        chats: dict[str, Chat] = {}
        docs = [m for m in bundle.members if m.name.lower().endswith(".json")]
        if not docs:
            where = bundle.originals[0].name if bundle.originals else Word("(none)")
            raise NotAnExportError(where, "holds no sigtop JSON file: not a Signal export")
        for doc in docs:
            data = load_json(doc, "Signal")
            label = label_of(doc)
            if not isinstance(data, list) or (data and not any(
                    isinstance(v, dict) and "sent_at" in v for v in data)):
                raise NotAnExportError(label, "is not a sigtop JSON export (a list of Signal "
                                       "Desktop messages with sent_at)")
            counts = {"messages": 0, "system_messages": 0, "attachments_referenced": 0,
                      "attachments_present": 0, "edited": 0, "deleted": 0}
            missing: list[str] = []
            by_sent: dict[int, str] = {}
            for i, v in enumerate(data):
                msg = self._message(v, label, i, options, parsed)
                if msg is None:
                    continue
                by_sent[v["sent_at"]] = msg.key
                room_id = f"signal:{v.get('conversationId') or PurePosixPath(doc.name).stem}"
                chat = chats.setdefault(room_id, Chat(room_id, PurePosixPath(doc.name).stem))
                counts["system_messages" if msg.system else "messages"] += 1
                counts["edited"] += msg.edited
                counts["deleted"] += msg.deleted
                atts = [a for a in v.get("attachments") or [] if isinstance(a, dict)]
                parts = [msg]
                for n, a in enumerate(atts):
                    counts["attachments_referenced"] += 1
                    name = str(a.get("fileName") or PurePosixPath(str(a.get("path") or
                                                                      "attachment")).name)
                    target = msg if n == 0 else Message(
                        f"{msg.key}#attachment{n}", msg.ts_ms, msg.sender, text="",
                        native_id=msg.native_id, file=label)
                    target.attachment = name
                    target.msgtype = media_type(name)
                    member = None
                    for ref in (a.get("path"), a.get("fileName")):
                        if isinstance(ref, str) and ref:
                            member = bundle.find(ref)
                            if member is not None and member.path != doc.path:
                                break
                            member = None
                    if member is None:
                        missing.append(name)
                    else:
                        counts["attachments_present"] += 1
                        attach(parsed, target, member)
                    if n:
                        parts.append(target)
                chat.messages.extend(parts)
            for item in (m for c in chats.values() for m in c.messages):
                if item.extra.get("quote_sent_at") is not None:
                    q = item.extra.pop("quote_sent_at")
                    item.reply_to = by_sent.get(q, f"signal-sent:{q}")
            parsed.evidence["documents"].append({
                "file": label, "counts": counts,
                "attachments": {"referenced": counts["attachments_referenced"],
                                "present": counts["attachments_present"], "omitted": 0,
                                "missing": missing}})
        for chat in chats.values():
            chat.messages.sort(key=lambda x: x.ts_ms)
        parsed.chats = list(chats.values())
        return parsed

    def _message(self, v: Any, label: str, i: int, options: ReadOptions,
                 parsed: ParsedExport) -> Message | None:
        if not isinstance(v, dict) or not isinstance(v.get("sent_at"), int) or not v.get("id"):
            parsed.unparsed.append({"file": label, "line": None, "index": i,
                                    "text": str(v)[:500], "problem": "no id or sent_at"})
            return None
        kind = v.get("type")
        system = kind not in ("incoming", "outgoing")
        if kind == "outgoing":
            sender = options.owner or "(account owner)"
        else:
            sender = str(v.get("source") or v.get("sourceServiceId") or v.get("sourceUuid")
                         or "")
        edited = v.get("editMessageTimestamp") if isinstance(
            v.get("editMessageTimestamp"), int) else None
        deleted = bool(v.get("deletedForEveryone") or v.get("isErased"))
        key = f"signal:{v['id']}" + ("@deleted" if deleted else
                                     f"@edited:{edited}" if edited else "")
        text = str(v.get("body") or "")
        if system and not text:
            text = str(kind or "system").replace("-", " ")
        extra: dict[str, Any] = {"native": v}
        quote = v.get("quote")
        if isinstance(quote, dict) and isinstance(quote.get("id"), int):
            extra["quote_sent_at"] = quote["id"]
        if v.get("reactions"):
            extra["reactions"] = [{"key": r.get("emoji"), "sender": r.get("fromId")}
                                  for r in v["reactions"] if isinstance(r, dict)]
        if v.get("editHistory"):
            extra["edit_history"] = [{"body": h.get("body"), "timestamp": h.get("timestamp")}
                                     for h in v["editHistory"] if isinstance(h, dict)]
        return Message(key, v["sent_at"], sender, text=text, system=system, native_id=str(v["id"]),
                       file=label, edited=edited is not None, edited_ms=edited,
                       deleted=deleted, extra=extra)
