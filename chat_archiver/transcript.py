"""The readable HTML transcript of one room, beside the raw events: every text of a chat is
escaped (``_esc``, as Jinja2's autoescape does), never markup. The page is written out in
``_item_html`` rather than a template: a template engine's work per value cost more than all
else of writing a large chat's transcript (``templates/`` keeps the package's index.html).

Edits are shown with their originals, redactions with who and when, reactions under their
message, replies and thread messages linked to what they answer, membership and other state
changes as lines of their own, attachments linked to the archived file.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from itertools import islice
from pathlib import Path
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
.body{white-space:pre-wrap}
.flag{font-style:italic}
"""


def when(ts: int | None) -> str:
    if ts is None:
        return "?"
    seconds = int(ts // 1000)  # as fromtimestamp(ts / 1000) rounds: down, also before 1970
    day, rest = divmod(seconds, 86400)  # UTC days have 86,400 seconds (no leap seconds)
    hours, rest = divmod(rest, 3600)
    return f"{_day(day)} {hours:02d}:{rest // 60:02d}:{rest % 60:02d} UTC"


@lru_cache(maxsize=1024)
def _day(days: int) -> str:
    """``YYYY-MM-DD`` of a day since 1970. Cached: a chat's messages fall on few days, and
    strftime for each time costs more than the rest of a message's table row."""
    return datetime.fromtimestamp(days * 86400, UTC).strftime("%Y-%m-%d")


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
    return body if isinstance(body, str) else ""


def _state_line(ev: dict[str, Any], names: dict[str, str]) -> str:
    c = ev.get("content") or {}
    who = names.get(ev["sender"], ev["sender"])
    t = ev["type"]
    if t == "bewaar.system":
        body = _body(c)
        return f"{who}: {body}" if who else body
    if t == "m.room.member":
        target = str(ev.get("state_key", ""))
        m = c.get("membership")
        prev = ((ev.get("unsigned") or {}).get("prev_content") or {}).get("membership")
        if m == "join" and prev == "join":
            return f"{target} changed their profile (display name {c.get('displayname')})"
        verbs = {"join": "joined", "leave": "left" if ev.get("state_key") == ev["sender"]
                 else f"was removed by {who}", "invite": f"was invited by {who}",
                 "ban": f"was banned by {who}", "knock": "asked to join"}
        return f"{target} {verbs.get(str(m), str(m))}"
    if t == "m.room.name":
        return f"{who} set the room name to “{c.get('name', '')}”"
    if t == "m.room.topic":
        return f"{who} set the topic to “{c.get('topic', '')}”"
    if t == "m.room.create":
        return f"{who} created the room"
    if t == "m.room.redaction":
        reason = c.get("reason")
        return f"{who} redacted {redacts_of(ev)}" + (f" (reason: {reason})" if reason else "")
    return f"{who} changed {t}"


@lru_cache(maxsize=1)
def _template() -> Any:
    import jinja2

    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(Path(__file__).with_name("templates")),
        autoescape=True, trim_blocks=True, lstrip_blocks=True, keep_trailing_newline=True)
    return env


def render(name: str, **values: Any) -> str:
    """A template of chat_archiver/templates, every value escaped (chat content is hostile)."""
    out: str = _template().get_template(name).render(**values)
    return out


def _export_flags(ev: dict[str, Any], content: dict[str, Any], has_file: bool) -> list[str]:
    info = ev.get("bewaar")
    if not isinstance(info, dict):
        return []
    flags = []
    if info.get("edited"):
        flags.append("✎ edited" + (f" at {info['edited_at']}" if info.get("edited_at") else ""))
    if info.get("deleted"):
        flags.append("⌫ deleted" + (f" at {info['deleted_at']}" if info.get("deleted_at")
                                    else " (marked so in the export)"))
    name = content.get("filename")
    if info.get("media_omitted"):
        flags.append(f"media not in the export: {name or 'omitted'}")
    elif name and not has_file:
        flags.append(f"attachment missing from the export: {name}")
    if info.get("local_time"):
        flags.append(f"phone time {info['local_time']}")
    return flags


class _Item:
    """One entry of the transcript (``_item_html`` writes it). ``rare`` is set when any of the
    seldom used parts is, so only then are those tested."""

    kind = "msg"
    line: int | None = None
    problem: str | None = None
    classes = "ev"
    id = ""
    when = ""
    text = ""
    who = ""
    reply_to: str | None = None
    thread: str | None = None
    decrypted = False
    note: str | None = None
    link: str | None = None
    body: str | None = None
    flags: list[str] = []  # noqa: RUF012 (never changed: each item sets its own)
    html_source: str | None = None
    edits: list[dict[str, Any]] = []  # noqa: RUF012
    thread_count = 0
    reactions: list[dict[str, Any]] = []  # noqa: RUF012
    redaction: dict[str, Any] | None = None
    rare = False

    def __init__(self, **values: Any) -> None:
        self.__dict__.update(values)


def render_room(room_id: str, room_name: str | None, events: list[RawEvent],
                attachments: dict[str, str], names: dict[str, str],
                decrypted: dict[str, dict[str, Any]] | None = None) -> Iterator[str]:
    """HTML for one room, in pieces to be written one after the other (a large room's page is
    never whole in memory); ``attachments`` maps event ids to the relative path of their file,
    ``decrypted`` encrypted events' ids to their decrypted payload."""
    title = _esc(room_name or room_id)
    yield (f"<!doctype html><html lang='nl'><head><meta charset='utf-8'>\n<title>{title}"
           f"</title><style>{_esc(STYLE)}</style></head><body>\n<h1>{title}</h1><p "
           f"class='meta'>{_esc(room_id)} · {len(events)} events in this export</p>\n")
    items = _items(events, attachments, names, decrypted or {})
    while True:
        part = [_item_html(it) for it in islice(items, RENDER_ITEMS)]
        if not part:
            break
        yield "".join(part)
    yield "</body></html>\n"


RENDER_ITEMS = 1000


def _esc(value: Any) -> str:
    """Text as HTML, escaped as Jinja2's autoescape (markupsafe) does."""
    text = value if isinstance(value, str) else str(value)
    return (text.replace("&", "&amp;").replace(">", "&gt;").replace("<", "&lt;")
            .replace("'", "&#39;").replace('"', "&#34;"))


def _item_html(it: _Item) -> str:
    """One entry of the transcript, every text escaped. Written out here rather than in a
    template: a template engine's per-value work (attribute look-ups, wrapped strings) cost
    more than all else of writing a large chat's transcript."""
    if it.kind == "bad":
        return (f"<div class='ev bad'>malformed event stored raw at line {_esc(it.line)} of "
                f"events.jsonl: {_esc(it.problem)}</div>\n")
    eid = _esc(it.id)
    if it.kind == "state":
        return (f"<div class='{_esc(it.classes)}' id='{eid}'>{_esc(it.text)} <span "
                f"class='meta'>{_esc(it.when)} · <a href='#{eid}'>{eid}</a></span></div>\n")
    out = [f"<div class='{_esc(it.classes)}' id='{eid}'><b>{_esc(it.who)}</b> <span "
           f"class='meta'>{_esc(it.when)} · <a href='#{eid}'>{eid}</a></span><br>"]
    if it.rare:
        if it.reply_to:
            r = _esc(it.reply_to)
            out.append(f"<div class='meta'>↪ reply to <a href='#{r}'>{r}</a></div>")
        if it.thread:
            t = _esc(it.thread)
            out.append(f"<div class='meta'>🧵 in thread <a href='#{t}'>{t}</a></div>")
        if it.decrypted:
            out.append("🔓 <span class='meta'>decrypted with an imported key:</span> ")
        if it.note:
            out.append(f"<i>{_esc(it.note)}</i> ")
    if it.link:
        out.append(f"📎 <a href='{_esc(it.link)}'>{_esc(it.body or 'attachment')}</a>")
    elif it.body:
        out.append(f"<span class='body'>{_esc(it.body)}</span>")
    for flag in it.flags:
        out.append(f"<div class='meta flag'>{_esc(flag)}</div>")
    if it.rare:
        if it.html_source:
            out.append("<details><summary class='meta'>HTML as sent (shown as text)</summary>"
                       f"<pre>{_esc(it.html_source)}</pre></details>")
        for e in it.edits:
            out.append(f"<div class='edit'>✎ edited by {_esc(e['by'])} at {_esc(e['at'])} "
                       f"({_esc(e['id'])}): {_esc(e['new'])}<br><span class='orig'>original: "
                       f"{_esc(e['orig'])}</span></div>")
        if it.thread_count:
            out.append(f"<div class='meta'>🧵 thread with {_esc(it.thread_count)} replies</div>")
        if it.reactions:
            out.append("<div class='react'>" + "".join(
                f"{_esc(r['key'])} ×{_esc(r['n'])} ({_esc(r['who'])}){' ' if r['more'] else ''}"
                for r in it.reactions) + "</div>")
        if it.redaction:
            red = it.redaction
            reason = f", reason: {_esc(red['reason'])}" if red.get("reason") else ""
            out.append(f"<div class='meta'>⌫ redacted by {_esc(red['by'])} at "
                       f"{_esc(red['at'])}{reason}</div>")
    out.append("</div>\n")
    return "".join(out)


def _items(events: list[RawEvent], attachments: dict[str, str], names: dict[str, str],
           decrypted: dict[str, dict[str, Any]]) -> Iterator[_Item]:
    view = RoomView.of(events)
    ids = {e.event_id for e in events}
    for line, e in enumerate(events, start=1):
        if e.malformed:
            yield _Item(kind="bad", line=line, problem=e.malformed)
            continue
        ev = e.value
        eid = ev["event_id"]
        rel = relation(ev)
        rel_type = rel.get("rel_type")
        if rel_type in ("m.replace", "m.annotation") and rel.get("event_id") in ids:
            continue  # shown with the message it belongs to
        stamp = when(ev["origin_server_ts"])
        etype = ev["type"]
        if "state_key" in ev or etype in ("m.room.redaction", "bewaar.system"):
            yield _Item(kind="state", classes="ev state", id=eid, when=stamp,
                        text=_state_line(ev, names))
            continue
        it = _Item(id=eid, when=stamp, who=names.get(ev["sender"], ev["sender"]))
        rare = False
        classes = "ev"
        if rel_type == "m.thread":
            classes += " thread"
        unsigned = ev.get("unsigned")
        red = view.redactions.get(eid) or (unsigned.get("redacted_because")
                                           if isinstance(unsigned, dict) else None)
        if red:
            classes += " redacted"
        content = ev.get("content") or {}
        if etype == "m.room.encrypted" and eid in decrypted:
            plain = decrypted[eid].get("content") or {}
            it.decrypted = rare = True
            it.body = _body(plain if isinstance(plain, dict) else {})
            it.link = attachments.get(eid)
        elif etype == "m.room.encrypted":
            it.note = ("encrypted message that could not be decrypted (kept raw, listed in "
                       "evidence.json)")
            rare = True
        elif rel_type == "m.replace":
            it.note = f"edit of {rel.get('event_id')} (earlier export):"
            it.body = _body(content.get("m.new_content") or content)
            rare = True
        elif rel_type == "m.annotation":
            it.body = f"reacted {rel.get('key')} to {rel.get('event_id')} (earlier export)"
        else:
            if rel:
                reply = (rel.get("m.in_reply_to") or {}).get("event_id")
                if isinstance(reply, str):
                    it.reply_to = reply
                    rare = True
                if rel_type == "m.thread":
                    it.thread = str(rel.get("event_id"))
                    rare = True
            it.body = _body(content)
            it.link = attachments.get(eid)
            if red and not content:
                it.note = "(content removed by the server)"
                rare = True
            if isinstance(content.get("formatted_body"), str):
                it.html_source = content["formatted_body"]
                rare = True
            it.flags = _export_flags(ev, content, eid in attachments)
        if eid in view.edits:
            it.edits = [{"by": edit["sender"], "at": when(edit["origin_server_ts"]),
                         "id": edit["event_id"],
                         "new": _body(edit.get("content", {}).get("m.new_content")
                                      or edit.get("content", {})),
                         "orig": _body(content)} for edit in view.edits[eid]]
            rare = rare or bool(it.edits)
        if eid in view.threads:
            it.thread_count = view.threads[eid]
            rare = rare or bool(it.thread_count)
        info = ev.get("bewaar")
        exported = info.get("reactions") if isinstance(info, dict) else None
        if eid in view.reactions or exported:
            by_key: dict[str, list[str]] = defaultdict(list)
            for r in view.reactions.get(eid, ()):
                by_key[str(relation(r).get("key"))].append(r["sender"])
            for r in exported or ():
                by_key[str(r.get("key"))].append(str(r.get("sender") or "?"))
            it.reactions = [{"key": k, "n": len(v), "who": ", ".join(v),
                             "more": i < len(by_key) - 1}
                            for i, (k, v) in enumerate(by_key.items())]
            rare = rare or bool(it.reactions)
        if red and not (info or {}).get("deleted"):
            reason = (red.get("content") or {}).get("reason")
            it.redaction = {"by": str(red.get("sender")),
                            "at": when(red.get("origin_server_ts")), "reason": reason}
            rare = True
        it.classes = classes
        it.rare = rare
        yield it
