"""The export folder: raw events, message table, state history, transcripts, evidence.

Everything is written below one staging folder; the package builder seals it afterwards.
"""

from __future__ import annotations

import csv
import hashlib
import json
import mimetypes
import os
import re
import shutil
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from chat_archiver.connector import RawEvent, RoomFetch
from chat_archiver.megolm import DecryptError, KeyRing
from chat_archiver.rawjson import one_line
from chat_archiver.transcript import redacts_of, relation, render, render_room, when

MESSAGE_COLUMNS = [
    "room_id", "event_id", "time_utc", "origin_server_ts", "sender", "type", "msgtype", "body",
    "relation", "relates_to", "in_reply_to", "redacted_by", "redacted_at", "attachment",
    "attachment_sha256", "status", "attachment_name", "edited", "deleted", "body_html",
]
MEDIA_MSGTYPES = {"m.image", "m.file", "m.video", "m.audio"}


def room_slug(room_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", room_id.lstrip("!#"))[:150] or "room"


def media_ref(ev: dict[str, Any]) -> tuple[str, dict[str, Any] | None] | None:
    """(mxc URI, the ``file`` object of an encrypted attachment or None) of an attachment event
    (or of an encrypted event's decrypted payload), or None."""
    content = ev.get("content")
    if not isinstance(content, dict) or content.get("msgtype") not in MEDIA_MSGTYPES:
        return None
    if isinstance(content.get("url"), str):
        return content["url"], None
    file = content.get("file")
    if isinstance(file, dict) and isinstance(file.get("url"), str):
        return file["url"], file
    return None


@dataclass
class RoomExport:
    fetch: RoomFetch
    state: bytes
    skipped_duplicates: int = 0
    attachments: dict[str, dict[str, Any]] = field(default_factory=dict)  # event id -> info

    @property
    def name(self) -> str | None:
        try:
            for ev in json.loads(self.state):
                if ev.get("type") == "m.room.name":
                    name = (ev.get("content") or {}).get("name")
                    return name if isinstance(name, str) else None
        except (ValueError, AttributeError):
            return None
        return None


def _attachment_name(digest: str, body: str, ctype: str | None) -> str:
    ext = Path(body).suffix if re.fullmatch(r"\.[A-Za-z0-9]{1,8}", Path(body).suffix) else ""
    if not ext and ctype:
        ext = mimetypes.guess_extension(ctype.split(";")[0].strip()) or ""
    return f"attachments/{digest}{ext}"


def save_attachment(data_dir: Path, data: bytes, body: str, ctype: str | None) -> tuple[str, str]:
    """Store an attachment by content hash; return (relative path under data/, sha256)."""
    digest = hashlib.sha256(data).hexdigest()
    rel = _attachment_name(digest, body, ctype)
    target = data_dir / rel
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        tmp.write_bytes(data)
        tmp.replace(target)
    return rel, digest


def link_attachment(data_dir: Path, source: Path, sha256: str | None, body: str,
                    ctype: str | None) -> tuple[str, str, int]:
    """Store a finished file (not changed again) as an attachment by content hash: hard-linked
    (copied across file systems), hashed first when ``sha256`` is not given; return (relative
    path under data/, sha256, size). Raises OSError when the file cannot be read."""
    size = source.stat().st_size
    if sha256 is None:
        h = hashlib.sha256()
        with open(source, "rb") as fh:
            while block := fh.read(1 << 20):
                h.update(block)
        sha256 = h.hexdigest()
    rel = _attachment_name(sha256, body, ctype)
    target = data_dir / rel
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_name(target.name + ".part")
        try:
            os.link(source, tmp)
        except OSError:
            shutil.copyfile(source, tmp)
        tmp.replace(target)
    return rel, sha256, size


def write_export(data_dir: Path, rooms: list[RoomExport], header: dict[str, Any],
                 keys: KeyRing | None = None) -> dict[str, Any]:
    """Write everything for the rooms under ``data_dir``; return the evidence document."""
    keys = keys or KeyRing()
    evidence_rooms = []
    with open(data_dir / "messages.csv", "w", newline="", encoding="utf-8") as fh:
        table = csv.writer(fh)
        table.writerow(MESSAGE_COLUMNS)
        for room in rooms:
            evidence_rooms.append(_write_room(data_dir, room, table, keys))
    totals: Counter[str] = Counter()
    for r in evidence_rooms:
        totals.update(r["events_by_type"])
    evidence = {
        **header,
        "rooms": evidence_rooms,
        "totals": {"events": sum(totals.values()), "events_by_type": dict(sorted(totals.items())),
                   "rooms": len(evidence_rooms),
                   "undecryptable": sum(len(r["undecryptable"]) for r in evidence_rooms),
                   "decrypted": sum(r["decrypted"] for r in evidence_rooms),
                   "malformed": sum(len(r["malformed"]) for r in evidence_rooms)},
    }
    (data_dir / "evidence.json").write_text(
        json.dumps(evidence, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    (data_dir / "index.html").write_text(
        render("index.html.j2", source=header.get("source"), rooms=evidence_rooms,
               originals=(data_dir / "original").is_dir()), encoding="utf-8")
    return evidence


def _write_room(data_dir: Path, room: RoomExport, table: Any, keys: KeyRing) -> dict[str, Any]:
    f = room.fetch
    slug = room_slug(f.room_id)
    rdir = data_dir / "rooms" / slug
    rdir.mkdir(parents=True, exist_ok=True)
    by_type: Counter[str] = Counter()
    malformed, undecryptable = [], []
    redactions = {redacts_of(e.value): e.value for e in f.events
                  if not e.malformed and e.type == "m.room.redaction"}
    names: dict[str, str] = {}
    decrypted: dict[str, dict[str, Any]] = {}
    with open(rdir / "events.jsonl", "wb") as out, \
            open(rdir / "state-history.csv", "w", newline="", encoding="utf-8") as sh:
        history = csv.writer(sh)
        history.writerow(["time_utc", "event_id", "sender", "type", "state_key", "content"])
        for line, e in enumerate(f.events, start=1):
            out.write(one_line(e.raw) + b"\n")
            by_type[e.type] += 1
            if e.malformed:
                malformed.append({"line": line, "event_id": e.event_id, "key": e.key,
                                  "problem": e.malformed})
                continue
            ev = e.value
            if ev["type"] == "m.room.encrypted":
                try:
                    decrypted[ev["event_id"]] = keys.decrypt_event(ev)
                except DecryptError as exc:
                    undecryptable.append({"event_id": ev["event_id"], "line": line,
                                          "session_id": (ev.get("content") or {}).get("session_id"),
                                          "reason": str(exc)})
            if "state_key" in ev:
                history.writerow([when(ev["origin_server_ts"]), ev["event_id"], ev["sender"],
                                  ev["type"], ev["state_key"],
                                  json.dumps(ev.get("content"), ensure_ascii=False)])
                if ev["type"] == "m.room.member":
                    dn = (ev.get("content") or {}).get("displayname")
                    if isinstance(dn, str):
                        names[str(ev["state_key"])] = dn
            _table_row(table, f.room_id, ev, redactions, room.attachments,
                       decrypted.get(ev["event_id"]))
    (rdir / "state.json").write_bytes(room.state)
    if decrypted:
        with open(rdir / "decrypted.jsonl", "w", encoding="utf-8") as dec:
            for eid, payload in decrypted.items():
                dec.write(json.dumps({"event_id": eid, **payload}, ensure_ascii=False) + "\n")
    links = {eid: "../../" + a["path"] for eid, a in room.attachments.items() if a.get("path")}
    with open(rdir / "transcript.html", "w", encoding="utf-8") as page:
        page.writelines(render_room(f.room_id, room.name, f.events, links, {}, decrypted))
    good = [e for e in f.events if not e.malformed]
    return {
        "room_id": f.room_id, "name": room.name, "path": f"rooms/{slug}", "mode": f.mode,
        "events": len(f.events), "events_by_type": dict(sorted(by_type.items())),
        "first_event": _edge(good[0]) if good else None,
        "last_event": _edge(good[-1]) if good else None,
        "from_token": f.from_token, "next_token": f.next_token, "pages": f.pages,
        "pagination_tokens": f.tokens, "reached_room_creation": f.reached_start,
        "gaps": f.gaps, "duplicates_skipped": room.skipped_duplicates,
        "decrypted": len(decrypted), "undecryptable": undecryptable, "malformed": malformed,
        "attachments": [{"event_id": k, **v} for k, v in room.attachments.items()],
    }


def _edge(e: RawEvent) -> dict[str, Any]:
    return {"event_id": e.event_id, "origin_server_ts": e.ts, "time_utc": when(e.ts)}


def _table_row(table: Any, room_id: str, ev: dict[str, Any],
               redactions: dict[str | None, dict[str, Any]],
               attachments: dict[str, dict[str, Any]], plain: dict[str, Any] | None) -> None:
    content: dict[str, Any] = ev["content"] if isinstance(ev.get("content"), dict) else {}
    if plain is not None and isinstance(plain.get("content"), dict):
        content = plain["content"]
    rel = relation(ev)
    red = redactions.get(ev["event_id"]) or (ev.get("unsigned") or {}).get("redacted_because")
    att = attachments.get(ev["event_id"], {})
    info: dict[str, Any] = ev["bewaar"] if isinstance(ev.get("bewaar"), dict) else {}
    body = (content.get("body") if ev["type"] in ("m.room.message", "bewaar.system") or plain
            else None)
    if rel.get("rel_type") == "m.replace" and isinstance(content.get("m.new_content"), dict):
        body = content["m.new_content"].get("body", body)
    reply = (rel.get("m.in_reply_to") or {}).get("event_id")
    status = (
        "decrypted" if plain is not None else
        "undecryptable" if ev["type"] == "m.room.encrypted" else
        "system" if info.get("system") else
        "deleted" if info.get("deleted") else
        "redacted" if red else "edit" if rel.get("rel_type") == "m.replace" else
        "edited" if info.get("edited") else
        "media omitted" if info.get("media_omitted") else
        "attachment missing" if content.get("filename") and not att.get("path") else "")
    red_at = red.get("origin_server_ts") if isinstance(red, dict) else None
    html = content.get("formatted_body")
    table.writerow([
        room_id, ev["event_id"], when(ev["origin_server_ts"]), ev["origin_server_ts"],
        ev["sender"], ev["type"], content.get("msgtype", ""),
        body if isinstance(body, str) else (rel.get("key", "") if rel else ""),
        rel.get("rel_type", ""), rel.get("event_id", ""), reply or "",
        (red or {}).get("sender", "") if isinstance(red, dict) else "",
        when(red_at) if red_at is not None else "",
        att.get("path", ""), att.get("sha256", ""), status,
        content.get("filename", "") if info else "",
        info.get("edited_at") or ("yes" if info.get("edited") else ""),
        info.get("deleted_at") or ("yes" if info.get("deleted") else ""),
        html if isinstance(html, str) else "",
    ])
