"""What a sealed chat package gives the search index: one document per message (not system
lines, not reactions; an edit opens the message it edits), one per attachment whose text can
be read (a real PDF, a text file), none for a file merely named ``.pdf``, and rows shorter
than the header (a hand-edited table) read as empty columns. The package folder is written
here with the csv module, the PDF by hand (tests/sites/dutch.py).
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

from search.documents import chat_documents
from tests.sites.dutch import pdf

HEADER = ["room_id", "event_id", "time_utc", "origin_server_ts", "sender", "type", "msgtype",
          "body", "relation", "relates_to", "in_reply_to", "redacted_by", "redacted_at",
          "attachment", "attachment_sha256", "status", "attachment_name", "edited", "deleted",
          "body_html"]
ROOM = "whatsapp:Crisisoverleg"


def _row(**values: str) -> list[str]:
    return [values.get(name, "") for name in HEADER]


def _package(tmp_path: Path) -> Path:
    package = tmp_path / "chat-20240101T000000Z-abcdef"
    data = package / "bag" / "data"
    (data / "attachments").mkdir(parents=True)
    (data / "attachments" / "nota.pdf").write_bytes(pdf("Dijkversterking Lekdijk"))
    (data / "attachments" / "foto.pdf").write_bytes(os.urandom(20000))  # not a PDF
    (data / "attachments" / "agenda.txt").write_text("punt 1: begroting\n", encoding="utf-8")
    (data / "evidence.json").write_text(json.dumps(
        {"rooms": [{"room_id": ROOM, "name": "Crisisoverleg", "path": "rooms/crisis"}]}))
    with open(data / "messages.csv", "w", newline="", encoding="utf-8") as fh:
        table = csv.writer(fh)
        table.writerow(HEADER)
        ts = "1704700800000"
        table.writerows([
            _row(room_id=ROOM, event_id="e1", origin_server_ts=ts, sender="Jan",
                 type="m.room.message", body="Overleg morgen om tien uur"),
            _row(room_id=ROOM, event_id="e2", origin_server_ts=ts, sender="",
                 type="bewaar.system", body="Jan heeft Piet toegevoegd", status="system"),
            _row(room_id=ROOM, event_id="e3", origin_server_ts=ts, sender="Piet",
                 type="m.room.message", body="nota.pdf", attachment="attachments/nota.pdf",
                 attachment_name="nota.pdf"),
            _row(room_id=ROOM, event_id="e4", origin_server_ts=ts, sender="Piet",
                 type="m.room.message", body="foto", attachment="attachments/foto.pdf"),
            _row(room_id=ROOM, event_id="e5", origin_server_ts=ts, sender="Eva",
                 type="m.room.message", body="* gewijzigd", relation="m.replace",
                 relates_to="e1"),
            _row(room_id=ROOM, event_id="e6", origin_server_ts=ts, sender="Eva",
                 type="m.reaction", body="👍", relation="m.annotation", relates_to="e1"),
            _row(room_id=ROOM, event_id="e7", origin_server_ts=ts, sender="Eva",
                 type="m.room.message", body="", attachment="attachments/agenda.txt"),
        ])
        table.writerow([ROOM, "e8", "", ts, "Jan", "m.room.message", "m.text", "kort"])
    return package


def test_documents_of_a_chat_package(tmp_path: Path) -> None:
    package = _package(tmp_path)
    docs = list(chat_documents("minister", package.name, package))
    got = [(d.locator, d.mime, d.sender, d.body.splitlines()[0]) for d in docs]
    assert got == [
        ("rooms/crisis#e1", "text/plain", "Jan", "Overleg morgen om tien uur"),
        ("rooms/crisis#e3", "text/plain", "Piet", "nota.pdf"),
        ("rooms/crisis#e3", "attachment", "Piet", "nota.pdf"),
        ("rooms/crisis#e4", "text/plain", "Piet", "foto"),  # its file is no PDF: no text
        ("rooms/crisis#e1", "text/plain", "Eva", "* gewijzigd"),  # the edit opens e1
        ("rooms/crisis#e7", "attachment", "Eva", "agenda.txt"),
        ("rooms/crisis#e8", "text/plain", "Jan", "kort"),
    ]
    assert "Dijkversterking Lekdijk" in docs[2].body
    assert docs[5].body == "agenda.txt\npunt 1: begroting"
    assert {d.title for d in docs} == {"Crisisoverleg"}
    assert {d.room_id for d in docs} == {ROOM}
    assert {d.at.isoformat() for d in docs} == {"2024-01-08T08:00:00+00:00"}
    assert {d.package_id for d in docs} == {package.name}
