"""The readable HTML transcript of one room, beside the raw events.

Edits are shown with their originals, redactions with who and when, reactions under their
message, replies and thread messages linked to what they answer, membership and other state
changes as lines of their own, attachments linked to the archived file.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape
from typing import Any

from chat_archiver.connector import RawEvent

STYLE = """
body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;color:#222}
.ev{border-left:3px solid #ccc;margin:.4rem 0;padding:.2rem .6rem}
.state{color:#555;font-style:italic;border-color:#eee}
.thread{margin-left:2rem;border-color:#8ab}
.redacted{background:#fee;border-color:#c33}
.bad{background:#ffd;border-color:#cc0}
.meta{font-size:.8rem;color:#666}
.edit{margin:.2rem 0 .2rem 1rem;font-size:.9rem}
.orig{text-decoration:line-through;color:#777}
.react{font-size:.85rem}
"""


def when(ts: int | None) -> str:
    if ts is None:
        return "?"
    return datetime.fromtimestamp(ts / 1000, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def redacts_of(ev: dict[str, Any]) -> str | None:
    target = ev.get("redacts") or (ev.get("content") or {}).get("redacts")
    return target if isinstance(target, str) else None


def relation(ev: dict[str, Any]) -> dict[str, Any]:
    content = ev.get("content")
    rel = content.get("m.relates_to") if isinstance(content, dict) else None
    return rel if isinstance(rel, dict) else {}


@dataclass
class RoomView:
    """What the transcript needs to know about the events of one room in this export."""

    edits: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    reactions: dict[str, list[dict[str, Any]]] = field(default_factory=lambda: defaultdict(list))
    redactions: dict[str, dict[str, Any]] = field(default_factory=dict)
    threads: dict[str, int] = field(default_factory=lambda: defaultdict(int))

    @classmethod
    def of(cls, events: list[RawEvent]) -> RoomView:
        view = cls()
        for e in events:
            if e.malformed:
                continue
            ev = e.value
            rel = relation(ev)
            if ev["type"] == "m.room.redaction" and redacts_of(ev):
                view.redactions[redacts_of(ev) or ""] = ev
            elif rel.get("rel_type") == "m.replace" and isinstance(rel.get("event_id"), str):
                view.edits[rel["event_id"]].append(ev)
            elif rel.get("rel_type") == "m.annotation" and isinstance(rel.get("event_id"), str):
                view.reactions[rel["event_id"]].append(ev)
            elif rel.get("rel_type") == "m.thread" and isinstance(rel.get("event_id"), str):
                view.threads[rel["event_id"]] += 1
        return view


def _body(content: dict[str, Any]) -> str:
    body = content.get("body")
    return escape(body) if isinstance(body, str) else ""


def _state_line(ev: dict[str, Any], names: dict[str, str]) -> str:
    c = ev.get("content") or {}
    who = escape(names.get(ev["sender"], ev["sender"]))
    t = ev["type"]
    if t == "m.room.member":
        target = escape(str(ev.get("state_key", "")))
        m = c.get("membership")
        prev = ((ev.get("unsigned") or {}).get("prev_content") or {}).get("membership")
        if m == "join" and prev == "join":
            return f"{target} changed their profile (display name {escape(str(c.get('displayname')))})"
        verbs = {"join": "joined", "leave": "left" if ev.get("state_key") == ev["sender"]
                 else f"was removed by {who}", "invite": f"was invited by {who}",
                 "ban": f"was banned by {who}", "knock": "asked to join"}
        return f"{target} {verbs.get(str(m), escape(str(m)))}"
    if t == "m.room.name":
        return f"{who} set the room name to “{escape(str(c.get('name', '')))}”"
    if t == "m.room.topic":
        return f"{who} set the topic to “{escape(str(c.get('topic', '')))}”"
    if t == "m.room.create":
        return f"{who} created the room"
    if t == "m.room.redaction":
        reason = c.get("reason")
        return (f"{who} redacted {escape(str(redacts_of(ev)))}"
                + (f" (reason: {escape(str(reason))})" if reason else ""))
    return f"{who} changed {escape(t)}"


def render_room(room_id: str, room_name: str | None, events: list[RawEvent],
                attachments: dict[str, str], names: dict[str, str],
                decrypted: dict[str, dict[str, Any]] | None = None) -> str:
    """HTML for one room; ``attachments`` maps event ids to the relative path of their file,
    ``decrypted`` encrypted events' ids to their decrypted payload."""
    decrypted = decrypted or {}
    view = RoomView.of(events)
    ids = {e.event_id for e in events}
    out = [f"<!doctype html><html lang='nl'><head><meta charset='utf-8'>"
           f"<title>{escape(room_name or room_id)}</title><style>{STYLE}</style></head><body>",
           f"<h1>{escape(room_name or room_id)}</h1><p class='meta'>{escape(room_id)} · "
           f"{len(events)} events in this export</p>"]
    for line, e in enumerate(events, start=1):
        if e.malformed:
            out.append(f"<div class='ev bad'>malformed event stored raw at line {line} of "
                       f"events.jsonl: {escape(e.malformed)}</div>")
            continue
        ev = e.value
        eid = ev["event_id"]
        rel = relation(ev)
        rel_type = rel.get("rel_type")
        if rel_type in ("m.replace", "m.annotation") and rel.get("event_id") in ids:
            continue  # shown with the message it belongs to
        meta = (f"<span class='meta'>{when(ev['origin_server_ts'])} · "
                f"<a href='#{escape(eid)}'>{escape(eid)}</a></span>")
        who = escape(names.get(ev["sender"], ev["sender"]))
        classes = ["ev"]
        if "state_key" in ev or ev["type"] == "m.room.redaction":
            classes.append("state")
            out.append(f"<div class='{' '.join(classes)}' id='{escape(eid)}'>"
                       f"{_state_line(ev, names)} {meta}</div>")
            continue
        if rel_type == "m.thread":
            classes.append("thread")
        red = view.redactions.get(eid) or (ev.get("unsigned") or {}).get("redacted_because")
        if red:
            classes.append("redacted")
        content = ev.get("content") or {}
        parts = [f"<div class='{' '.join(classes)}' id='{escape(eid)}'><b>{who}</b> {meta}<br>"]
        if ev["type"] == "m.room.encrypted" and eid in decrypted:
            plain = decrypted[eid].get("content") or {}
            text = _body(plain if isinstance(plain, dict) else {})
            if eid in attachments:
                text = f"📎 <a href='{escape(attachments[eid])}'>{text or 'attachment'}</a>"
            parts.append(f"🔓 <span class='meta'>decrypted with an imported key:</span> {text}")
        elif ev["type"] == "m.room.encrypted":
            parts.append("<i>encrypted message that could not be decrypted (kept raw, listed in "
                         "evidence.json)</i>")
        elif rel_type == "m.replace":
            parts.append(f"<i>edit of {escape(str(rel.get('event_id')))} (earlier export):</i> ")
            parts.append(_body(content.get("m.new_content") or content))
        elif rel_type == "m.annotation":
            parts.append(f"reacted {escape(str(rel.get('key')))} to "
                         f"{escape(str(rel.get('event_id')))} (earlier export)")
        else:
            reply = (rel.get("m.in_reply_to") or {}).get("event_id")
            if isinstance(reply, str):
                parts.append(f"<div class='meta'>↪ reply to <a href='#{escape(reply)}'>"
                             f"{escape(reply)}</a></div>")
            if rel_type == "m.thread":
                parts.append(f"<div class='meta'>🧵 in thread <a href='#{escape(str(rel.get('event_id')))}'>"
                             f"{escape(str(rel.get('event_id')))}</a></div>")
            text = _body(content)
            if eid in attachments:
                parts.append(f"📎 <a href='{escape(attachments[eid])}'>{text or 'attachment'}</a>")
            elif red and not content:
                parts.append("<i>(content removed by the server)</i>")
            else:
                parts.append(text)
        for edit in view.edits.get(eid, []):
            new = edit.get("content", {}).get("m.new_content") or edit.get("content", {})
            parts.append(f"<div class='edit'>✎ edited by {escape(edit['sender'])} at "
                         f"{when(edit['origin_server_ts'])} ({escape(edit['event_id'])}): "
                         f"{_body(new)}<br><span class='orig'>original: {_body(content)}</span></div>")
        if view.threads.get(eid):
            parts.append(f"<div class='meta'>🧵 thread with {view.threads[eid]} replies</div>")
        reacts = view.reactions.get(eid, [])
        if reacts:
            by_key: dict[str, list[str]] = defaultdict(list)
            for r in reacts:
                by_key[str(relation(r).get("key"))].append(r["sender"])
            parts.append("<div class='react'>" + " ".join(
                f"{escape(k)} ×{len(v)} ({escape(', '.join(v))})" for k, v in by_key.items())
                + "</div>")
        if red:
            reason = (red.get("content") or {}).get("reason")
            parts.append(f"<div class='meta'>⌫ redacted by {escape(str(red.get('sender')))} at "
                         f"{when(red.get('origin_server_ts'))}"
                         + (f", reason: {escape(str(reason))}" if reason else "") + "</div>")
        parts.append("</div>")
        out.append("".join(parts))
    out.append("</body></html>\n")
    return "\n".join(out)
