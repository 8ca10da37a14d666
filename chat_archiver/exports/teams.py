"""Microsoft Teams chats as saved from Microsoft Graph: chatMessage resources of
``/chats/{id}/messages`` (or ``getAllMessages``), one or more saved pages
``{"value": [...], "@odata.nextLink": ...}``, newest first. No call to Microsoft is made: the
pages are read as saved; ``@odata.nextLink`` is only recorded.

``messageType: systemEventMessage`` with ``eventDetail`` is a system message (members added,
chat renamed, call ended …); ``deletedDateTime`` marks a deleted message, ``lastEditedDateTime``
an edited one; ``replyToId`` a reply; reactions and mentions are kept. An HTML body is kept as
HTML (``formatted_body``) beside its plain text, and shown escaped in the transcript. Files are
references (``contentUrl``) to SharePoint or OneDrive: recorded, not downloaded.

Message identity: ``teams:<id>`` (Graph ids are unique within a chat), with
``@edited:<lastEditedDateTime>`` or ``@deleted:<deletedDateTime>`` for a changed version; the
same message on two overlapping pages is read once.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any

from chat_archiver.exports.base import (
    Chat,
    ExportReader,
    Message,
    NotAnExportError,
    ParsedExport,
    ReadOptions,
    parse_iso_ms,
)
from chat_archiver.exports.files import Bundle
from chat_archiver.exports.jsonfiles import json_documents, label_of, load_json


class _Text(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []

    def handle_data(self, data: str) -> None:
        self.parts.append(data)

    def handle_starttag(self, tag: str, attrs: Any) -> None:
        if tag in ("br", "p", "div", "li") and self.parts:
            self.parts.append("\n")


def html_text(html: str) -> str:
    p = _Text()
    p.feed(html)
    p.close()
    return re.sub(r"\n{2,}", "\n", "".join(p.parts)).strip()


def _event_text(detail: dict[str, Any]) -> str:
    kind = str(detail.get("@odata.type", "")).rsplit(".", 1)[-1].removesuffix("EventMessageDetail")
    who = ((detail.get("initiator") or {}).get("user") or {}).get("displayName")
    members = ", ".join(str(m.get("displayName") or m.get("id")) for m in
                        detail.get("members") or [] if isinstance(m, dict))
    words = re.sub(r"(?<!^)(?=[A-Z])", " ", kind).lower() or "system event"
    extra = detail.get("chatDisplayName") or detail.get("callDuration") or ""
    return " ".join(x for x in (who or "", words, members, str(extra)) if x)


class TeamsReader(ExportReader):
    kind = "teams"
    parser = "bewaarplaats-teams-graph"
    version = "1"

    def read(self, bundle: Bundle, options: ReadOptions) -> ParsedExport:
        parsed = self.utc_export("microsoft-graph-chatmessage", "createdDateTime")
        newest: dict[str, tuple[dict[str, Any], str]] = {}
        for doc in json_documents(bundle, "Teams"):
            data = load_json(doc, "Teams")
            label = label_of(doc)
            items = data.get("value") if isinstance(data, dict) else data
            if not isinstance(items, list) or (items and not any(
                    isinstance(v, dict) and "createdDateTime" in v for v in items)):
                raise NotAnExportError(label, "is not a saved Microsoft Graph page of "
                                       "chatMessages ({\"value\": [...]})")
            parsed.evidence["documents"].append({
                "file": label, "messages": len(items),
                "next_link": data.get("@odata.nextLink") if isinstance(data, dict) else None})
            for i, v in enumerate(items):
                if not isinstance(v, dict) or not isinstance(v.get("id"), str):
                    parsed.unparsed.append({"file": label, "line": None, "index": i,
                                            "text": str(v)[:500], "problem": "no message id"})
                    continue
                old = newest.get(v["id"])
                if old is None or str(v.get("lastModifiedDateTime") or "") > str(
                        old[0].get("lastModifiedDateTime") or ""):
                    newest[v["id"]] = (v, label)
        chats: dict[str, Chat] = {}
        keys: dict[str, str] = {}
        counts = {"messages": 0, "system_messages": 0, "duplicates_across_pages": 0,
                  "attachments_referenced": 0, "deleted": 0, "edited": 0}
        msgs = []
        for v, label in newest.values():
            msg = self._message(v, label, parsed)
            if msg is not None:
                keys[v["id"]] = msg.key
                msgs.append((v, msg))
        msgs.sort(key=lambda p: (p[1].ts_ms, p[0]["id"]))
        for v, msg in msgs:
            if v.get("replyToId"):
                msg.reply_to = keys.get(str(v["replyToId"]), f"teams:{v['replyToId']}")
            chat_id = v.get("chatId") or "/".join(str(x) for x in (
                (v.get("channelIdentity") or {}).get("teamId"),
                (v.get("channelIdentity") or {}).get("channelId")) if x) or "chat"
            room = chats.setdefault(f"teams:{chat_id}", Chat(f"teams:{chat_id}", None))
            room.messages.append(msg)
            counts["system_messages" if msg.system else "messages"] += 1
            counts["deleted"] += msg.deleted
            counts["edited"] += msg.edited
            counts["attachments_referenced"] += len(msg.extra.get("references", []))
        counts["duplicates_across_pages"] = sum(d["messages"] for d in
                                                parsed.evidence["documents"]) - len(newest)
        parsed.evidence["counts"] = counts
        parsed.evidence["attachments"] = {"referenced": counts["attachments_referenced"],
                                          "present": 0, "omitted": 0,
                                          "note": "Teams files are links to SharePoint or "
                                                  "OneDrive; they are recorded, not fetched"}
        parsed.chats = list(chats.values())
        return parsed

    def _message(self, v: dict[str, Any], label: str, parsed: ParsedExport) -> Message | None:
        ts = parse_iso_ms(v.get("createdDateTime"))
        if ts is None:
            parsed.unparsed.append({"file": label, "line": None, "id": v.get("id"),
                                    "text": str(v)[:500], "problem": "no createdDateTime"})
            return None
        frm = v.get("from") or {}
        who = (frm.get("user") or frm.get("application") or frm.get("device") or {}) \
            if isinstance(frm, dict) else {}
        sender = str(who.get("displayName") or who.get("id") or "")
        body = v.get("body") or {}
        content = str(body.get("content") or "") if isinstance(body, dict) else ""
        is_html = isinstance(body, dict) and body.get("contentType") == "html"
        system = v.get("messageType") == "systemEventMessage"
        edited = parse_iso_ms(v.get("lastEditedDateTime"))
        deleted = parse_iso_ms(v.get("deletedDateTime"))
        key = f"teams:{v['id']}"
        if deleted is not None:
            key += f"@deleted:{v['deletedDateTime']}"
        elif edited is not None:
            key += f"@edited:{v['lastEditedDateTime']}"
        text = html_text(content) if is_html else content
        if system:
            detail = v.get("eventDetail")
            text = _event_text(detail if isinstance(detail, dict) else {})
        refs = [{"name": a.get("name"), "contentType": a.get("contentType"),
                 "contentUrl": a.get("contentUrl")} for a in v.get("attachments") or []
                if isinstance(a, dict)]
        extra: dict[str, Any] = {"native": v}
        if refs:
            extra["references"] = refs
        if v.get("reactions"):
            extra["reactions"] = [
                {"key": r.get("reactionType") or r.get("displayName"),
                 "sender": (((r.get("user") or {}).get("user") or {}).get("displayName")
                            or ((r.get("user") or {}).get("user") or {}).get("id") or "")}
                for r in v["reactions"] if isinstance(r, dict)]
        msg = Message(key, ts, sender, text=text, system=system, native_id=v["id"], file=label,
                      html=content if is_html and not system else None,
                      edited=edited is not None, edited_ms=edited,
                      deleted=deleted is not None, deleted_ms=deleted, extra=extra)
        if refs and not system:
            msg.msgtype = "m.file"
            msg.attachment = str(refs[0]["name"] or "attachment")
            msg.media_omitted = True  # a link, not a file in the export
        return msg
