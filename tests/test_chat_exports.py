"""A records manager imports the chat exports officials make (WhatsApp, Telegram, Teams,
Signal): every message exactly once, in UTC, with its attachments and the original files kept
bit-for-bit, in a sealed package.

The import is called in-process (the CLI is wired onto it separately); packages are checked
with bagit-python, the csv module, hashlib and `bewaar verify`, never with the readers' code.
Fixtures in tests/chat_exports/ are written in the exact shapes the apps write.
"""

from __future__ import annotations

import csv
import hashlib
import json
import zipfile
from pathlib import Path
from typing import Any

import bagit
import pytest

from tests.conftest import Bewaar

FIX = Path(__file__).with_name("chat_exports")
SELECTIELIJST = """name = "Selectielijst test"
[[categorie]]
code = "1.1"
naam = "Chatberichten van bewindspersonen"
waardering = "B"
trigger = "einde ambtsperiode"
"""
JPEG = b"\xff\xd8\xff\xe0" + b"foto van het besluit" * 20
PDF = b"%PDF-1.4 nota\n%%EOF\n"


@pytest.fixture
def settings(bewaar: Bewaar, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("BEWAAR_ORGANISATION", "Ministerie van Binnenlandse Zaken")
    monkeypatch.setenv("BEWAAR_ORGANISATION_ID", "OIN-00000001003214345000")
    sl = tmp_path / "selectielijst.toml"
    sl.write_text(SELECTIELIJST)
    bewaar("selectielijst", "load", str(sl), env={
        "BEWAAR_ORGANISATION": "Ministerie van Binnenlandse Zaken",
        "BEWAAR_ORGANISATION_ID": "OIN-00000001003214345000"})
    from archive.settings import load_settings

    return load_settings()


def add_source(settings: Any, kind: str, name: str, **kw: Any) -> None:
    from archive.db import session_scope
    from chat_archiver.imports import new_export_source

    with session_scope(settings) as db:
        db.add(new_export_source(kind, name, category="1.1", **kw))


def run_import(settings: Any, name: str, *files: Path) -> Any:
    from chat_archiver.imports import import_files

    return import_files(settings, name, list(files))


def rows(pkg: Path) -> list[dict[str, str]]:
    with open(pkg / "bag" / "data" / "messages.csv", newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def evidence(pkg: Path) -> dict[str, Any]:
    return json.loads((pkg / "bag" / "data" / "evidence.json").read_text(encoding="utf-8"))


def transcripts(pkg: Path) -> str:
    return "".join(p.read_text(encoding="utf-8")
                   for p in sorted((pkg / "bag/data/rooms").glob("*/transcript.html")))


def sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_package(bewaar: Bewaar, pkg: Path) -> None:
    bagit.Bag(str(pkg / "bag")).validate()  # raises on any difference
    assert bewaar("verify", str(pkg), check=False).returncode == 0


def by_body(table: list[dict[str, str]]) -> dict[str, dict[str, str]]:
    return {r["body"]: r for r in table}


def test_whatsapp_android_dutch_txt_then_overlapping_export(bewaar: Bewaar, settings: Any,
                                                             home: Path) -> None:
    add_source(settings, "whatsapp", "minister", timezone="Europe/Amsterdam", owner="Minister")
    src = FIX / "whatsapp_android_nl.txt"
    first = run_import(settings, "minister", src)
    assert first.package is not None and first.messages == 15 and first.duplicates == 0
    assert first.unparsed == 0 and first.attachments == 0
    pkg = Path(first.package)
    check_package(bewaar, pkg)
    table = rows(pkg)
    assert len(table) == 15
    t = by_body(table)
    # Phone time in Amsterdam → UTC, across the end of DST (27 Oct 2024, 03:00 CEST → 02:00 CET)
    assert t["Agenda: punt 1 - begroting; punt 2 - planning"]["time_utc"] == "2024-10-26 21:30:00 UTC"
    assert t["nog wakker?"]["time_utc"] == "2024-10-27 00:50:00 UTC"  # 02:50 CEST
    assert t["ja, de klok is net teruggezet"]["time_utc"] == "2024-10-27 01:10:00 UTC"  # 02:10 CET
    assert t["Eerste regel\ntweede regel\n\nvierde regel na een lege"]["time_utc"] == \
        "2024-10-27 08:15:00 UTC"
    # " - " and ": " in the text stay text; a sender known by phone number only
    assert t["Akkoord. Tijd: 10:00 - 11:00"]["sender"] == "+31 6 12345678"
    assert t["Agenda: punt 1 - begroting; punt 2 - planning"]["sender"] == "Jan de Vries"
    assert t["Dit bericht is verwijderd"]["status"] == "deleted"
    assert t["Vergadering om 11 uur"]["status"] == "edited"
    assert t["<Media weggelaten>"]["status"] == "media omitted"
    system = [r for r in table if r["status"] == "system"]
    assert len(system) == 4 and all(r["sender"] == "" for r in system)
    assert any("toegevoegd" in r["body"] for r in system)
    assert [r["body"] for r in table].count("ok") == 2  # two identical messages, both kept
    # The original, bit-for-bit, and what the evidence says about reading it
    orig = pkg / "bag/data/original/whatsapp_android_nl.txt"
    assert sha(orig.read_bytes()) == sha(src.read_bytes())
    ev = evidence(pkg)["import"]
    assert ev["original_files"][0]["sha256"] == sha(src.read_bytes())
    assert ev["parser"] and ev["parser_version"]
    assert ev["timezone"]["name"] == "Europe/Amsterdam"
    assert ev["timezone"]["origin"] == "declared for the source"
    doc = ev["documents"][0]
    assert doc["platform"] == "android" and doc["locale"]["value"] == "nl"
    assert doc["date_order"] == {"value": "day-month", "origin": "read from the file",
                                 "detail": "line 1 has day 26"}
    assert doc["counts"]["lines_read"] == 18 and doc["counts"]["system_messages"] == 4
    assert doc["dst"]["read_as_the_later_hour"] == 1
    # Chat text is hostile: escaped in the transcript, never markup
    html = transcripts(pkg)
    assert "&lt;script&gt;alert(" in html and "<script>alert" not in html
    assert "<b>vet</b>" not in html

    # The same file again: nothing new, no package
    again = run_import(settings, "minister", src)
    assert again.package is None and again.messages == 0 and again.duplicates == 15

    # A later export of the same chat overlaps the first: only the three new messages
    later = run_import(settings, "minister", FIX / "whatsapp_android_nl_later.txt")
    assert later.messages == 3 and later.duplicates == 15
    pkg2 = Path(later.package)
    check_package(bewaar, pkg2)
    new = rows(pkg2)
    assert [r["body"] for r in new] == ["ok", "Goedemorgen - nieuwe week: start", "Goedemorgen"]
    assert new[1]["time_utc"] == "2024-10-28 07:00:00 UTC"
    ids = [r["event_id"] for r in table + new]
    assert len(ids) == len(set(ids)) == 18
    info = (pkg2 / "bag" / "bag-info.txt").read_text()
    assert pkg.name in info  # chained to the first package of the source


def _zip(path: Path, members: dict[str, bytes]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


def test_whatsapp_ios_english_zip_with_media(bewaar: Bewaar, settings: Any,
                                            tmp_path: Path) -> None:
    add_source(settings, "whatsapp", "kabinet")
    audio_missing = "00000007-AUDIO-2024-03-31-09-01-00.opus"
    export = _zip(tmp_path / "WhatsApp Chat - Kabinet Overleg.zip", {
        "_chat.txt": (FIX / "whatsapp_ios_en_chat.txt").read_bytes(),
        "00000005-PHOTO-2024-03-31-09-00-01.jpg": JPEG,
        "00000006-Nota.pdf": PDF,
    })
    result = run_import(settings, "kabinet", export)
    assert result.messages == 11 and result.attachments == 2
    assert result.attachments_missing == 1
    pkg = Path(result.package)
    check_package(bewaar, pkg)
    t = by_body(rows(pkg))
    # Start of DST (31 Mar 2024, 02:00 CET → 03:00 CEST)
    assert t["Before the clocks change"]["time_utc"] == "2024-03-31 00:30:00 UTC"
    assert t["After the clocks changed"]["time_utc"] == "2024-03-31 01:30:00 UTC"
    photo = t["<attached: 00000005-PHOTO-2024-03-31-09-00-01.jpg>"]
    assert photo["attachment_sha256"] == sha(JPEG)
    assert sha((pkg / "bag/data" / photo["attachment"]).read_bytes()) == sha(JPEG)
    nota = t["<attached: 00000006-Nota.pdf>"]
    assert sha((pkg / "bag/data" / nota["attachment"]).read_bytes()) == sha(PDF)
    audio = t[f"<attached: {audio_missing}>"]
    assert audio["attachment"] == "" and audio["status"] == "attachment missing"
    assert t["image omitted"]["status"] == "media omitted"
    assert t["Line one\nline two: with a colon - and a dash"]["sender"] == "Anna Smit"
    system = [r for r in rows(pkg) if r["status"] == "system"]
    assert [r["sender"] for r in system] == ["Kabinet Overleg", "Kabinet Overleg"]
    assert "Anna Smit added you" in [r["body"] for r in system]
    assert sha((pkg / "bag/data/original" / export.name).read_bytes()) == sha(export.read_bytes())
    doc = evidence(pkg)["import"]["documents"][0]
    assert doc["platform"] == "ios" and doc["chat"] == "Kabinet Overleg"
    assert doc["attachments"]["missing"] == [audio_missing]
    assert doc["attachments"]["referenced"] == 3 and doc["attachments"]["omitted"] == 1


def test_whatsapp_us_style_zip_month_first_12_hour(bewaar: Bewaar, settings: Any,
                                                  tmp_path: Path) -> None:
    add_source(settings, "whatsapp", "ambassade", timezone="America/New_York", locale="en")
    export = _zip(tmp_path / "WhatsApp Chat with Mike.zip", {
        "WhatsApp Chat with Mike.txt": (FIX / "whatsapp_android_us.txt").read_bytes(),
        "IMG-20240309-WA0001.jpg": JPEG,
    })
    result = run_import(settings, "ambassade", export)
    assert result.messages == 5 and result.attachments == 1 and result.attachments_missing == 0
    pkg = Path(result.package)
    check_package(bewaar, pkg)
    table = rows(pkg)
    t = by_body(table)
    # New York: EST (UTC-5) before 10 March 2024, EDT (UTC-4) after
    photo = t["IMG-20240309-WA0001.jpg (file attached)\ncaption of the photo"]
    assert photo["time_utc"] == "2024-03-10 02:06:00 UTC" and photo["attachment_sha256"] == sha(JPEG)
    assert t["Past midnight"]["time_utc"] == "2024-03-13 04:01:00 UTC"  # 12:01 AM EDT
    assert t["Lunch"]["time_utc"] == "2024-03-13 16:30:00 UTC"  # 12:30 PM EDT
    doc = evidence(pkg)["import"]["documents"][0]
    assert doc["date_order"]["value"] == "month-day" and doc["clock"] == "12-hour"
    assert doc["date_order"]["origin"] == "read from the file"


@pytest.mark.parametrize("locale,origin", [("auto", "guessed"), ("nl", "from the declared locale")])
def test_whatsapp_day_month_order_guessed_or_declared(settings: Any, locale: str,
                                                      origin: str) -> None:
    add_source(settings, "whatsapp", "bz", locale=locale)
    result = run_import(settings, "bz", FIX / "whatsapp_ios_nl_chat.txt")
    pkg = Path(result.package)
    doc = evidence(pkg)["import"]["documents"][0]
    assert doc["date_order"]["value"] == "day-month" and doc["date_order"]["origin"] == origin
    assert any("guessed" in w for w in result.warnings) == (origin == "guessed")
    t = by_body(rows(pkg))
    assert t["Je hebt dit bericht verwijderd"]["time_utc"] == "2024-02-03 11:00:00 UTC"
    assert t["Je hebt dit bericht verwijderd"]["status"] == "deleted"
    assert t["afbeelding weggelaten"]["status"] == "media omitted"


def test_telegram_result_json_zip(bewaar: Bewaar, settings: Any, tmp_path: Path) -> None:
    add_source(settings, "telegram", "woo")
    export = _zip(tmp_path / "ChatExport_2024-10-28.zip", {
        "ChatExport_2024-10-28/result.json": (FIX / "telegram_result.json").read_bytes(),
        "ChatExport_2024-10-28/photos/photo_1@27-10-2024_09-00-00.jpg": JPEG,
    })
    result = run_import(settings, "woo", export)
    assert result.messages == 6 and result.attachments == 1 and result.attachments_missing == 1
    pkg = Path(result.package)
    check_package(bewaar, pkg)
    table = rows(pkg)
    assert [r["time_utc"] for r in table[:3]] == [
        "2024-10-26 20:00:00 UTC", "2024-10-27 00:30:00 UTC", "2024-10-27 01:31:00 UTC"]
    assert table[0]["status"] == "system" and table[0]["sender"] == "Eva Jansen"
    assert table[1]["body"] == "Zie <b>dit</b> en https://example.org"
    assert table[2]["in_reply_to"] == table[1]["event_id"] and table[2]["status"] == "edited"
    assert table[3]["attachment_sha256"] == sha(JPEG)
    assert table[4]["status"] == "media omitted"
    assert table[5]["status"] == "attachment missing"
    assert "&lt;b&gt;dit&lt;/b&gt;" in transcripts(pkg)
    again = run_import(settings, "woo", export)
    assert again.package is None and again.duplicates == 6


def test_teams_chat_in_two_saved_pages(bewaar: Bewaar, settings: Any) -> None:
    add_source(settings, "teams", "teams-bz")
    result = run_import(settings, "teams-bz", FIX / "teams_page1.json", FIX / "teams_page2.json")
    assert result.messages == 6  # 7 on the pages, one on both
    pkg = Path(result.package)
    check_package(bewaar, pkg)
    table = rows(pkg)
    assert [r["time_utc"] for r in table] == sorted(r["time_utc"] for r in table)
    assert table[0]["status"] == "system" and "Daan Mulder" in table[0]["body"]
    assert table[1]["body"] == "Hallo <b>team</b>"  # an escaped entity in HTML is text
    t = by_body(table)
    edited = t["Herziene cijfers & alert(1)"]
    assert edited["status"] == "edited" and edited["edited"] == "2024-10-27T08:40:00Z"
    assert edited["body_html"] == "<p>Herziene <b>cijfers</b> &amp; <script>alert(1)</script></p>"
    deleted = [r for r in table if r["status"] == "deleted"]
    assert len(deleted) == 1 and deleted[0]["deleted"] == "2024-10-27T09:10:00.123000Z"
    html = transcripts(pkg)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)" in html
    assert "like ×1 (Fleur Visser)" in html
    again = run_import(settings, "teams-bz", FIX / "teams_page2.json")
    assert again.package is None and again.duplicates == 4


def test_signal_sigtop_json_with_attachment(bewaar: Bewaar, settings: Any,
                                           tmp_path: Path) -> None:
    add_source(settings, "signal", "signal-sg", owner="Secretaris-generaal")
    sig = FIX / "signal_Karin (+31612345678).json"
    export = _zip(tmp_path / "signal-export.zip", {
        "messages/" + sig.name: sig.read_bytes(), "attachments/3f/3f9a0b1c2d": PDF})
    result = run_import(settings, "signal-sg", export)
    assert result.messages == 5 and result.attachments == 1 and result.attachments_missing == 0
    pkg = Path(result.package)
    check_package(bewaar, pkg)
    table = rows(pkg)
    assert table[0]["time_utc"] == "2024-03-31 00:30:00 UTC" and table[0]["sender"] == "+31612345678"
    assert table[1]["sender"] == "Secretaris-generaal"
    assert table[1]["in_reply_to"] == table[0]["event_id"]
    assert table[1]["attachment_sha256"] == sha(PDF)
    assert table[2]["status"] == "edited" and table[3]["status"] == "deleted"
    assert table[4]["status"] == "system"
    assert "&lt;i&gt;begint&lt;/i&gt;" in transcripts(pkg)


# -- Hostile files ---------------------------------------------------------------------------

def _raw_zip(path: Path, name: str, data: bytes, mode: int | None = None) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("_chat.txt", (FIX / "whatsapp_ios_nl_chat.txt").read_bytes())
        info = zipfile.ZipInfo(name)
        if mode is not None:
            info.external_attr = mode << 16
        zf.writestr(info, data, zipfile.ZIP_DEFLATED)
    return path


def hostile(kind: str, tmp: Path) -> Path:
    if kind == "climbs out":
        return _raw_zip(tmp / "slip.zip", "../../evil.txt", b"owned")
    if kind == "absolute path":
        return _raw_zip(tmp / "abs.zip", "/tmp/evil.txt", b"owned")
    if kind == "symlink":
        return _raw_zip(tmp / "link.zip", "evil.txt", b"/etc/passwd", 0o120777)
    if kind == "zip bomb":
        return _raw_zip(tmp / "bomb.zip", "evil.txt", b"\0" * (20 << 20))
    if kind == "truncated zip":
        whole = _zip(tmp / "whole.zip", {"_chat.txt": (FIX / "whatsapp_ios_nl_chat.txt")
                                         .read_bytes(), "a.jpg": JPEG})
        cut = tmp / "cut.zip"
        cut.write_bytes(whole.read_bytes()[:-40])
        whole.unlink()
        return cut
    if kind == "random bytes":
        f = tmp / "chat.txt"
        f.write_bytes(hashlib.sha512(b"x").digest() * 200)
        return f
    if kind == "another format":
        f = tmp / "WhatsApp Chat with Eva.txt"
        f.write_bytes((FIX / "telegram_result.json").read_bytes())
        return f
    if kind == "wrong encoding":
        f = tmp / "WhatsApp Chat with Eva.txt"
        f.write_bytes("12-03-2024 14:05 - Eva: Café over de begroting\n".encode("cp1252"))
        return f
    if kind == "unknown locale":
        return FIX / "whatsapp_android_de.txt"
    raise AssertionError(kind)


HOSTILE = ["climbs out", "absolute path", "symlink", "zip bomb", "truncated zip",
           "random bytes", "another format", "wrong encoding", "unknown locale"]
EXPECTED = {"climbs out": "climbs out", "absolute path": "absolute path",
            "symlink": "symbolic link", "zip bomb": "zip bomb", "truncated zip": "truncated",
            "random bytes": "binary data", "another format": "not a WhatsApp chat export",
            "wrong encoding": "not UTF-8", "unknown locale": "language"}


@pytest.mark.parametrize("kind", HOSTILE)
def test_hostile_files_are_refused_and_nothing_is_kept(settings: Any, home: Path,
                                                      tmp_path: Path, kind: str) -> None:
    from sqlalchemy import func, select

    from archive.db import session_scope
    from archive.errors import BewaarError
    from archive.models import ChatSeenEvent, Package
    from chat_archiver.exports.base import ExportFileError

    add_source(settings, "whatsapp", "hostile")
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    bad = hostile(kind, inputs)
    before = sorted(p for p in tmp_path.rglob("*") if home not in p.parents and p != home)
    with pytest.raises(ExportFileError) as err:
        run_import(settings, "hostile", bad)
    assert isinstance(err.value, BewaarError)
    assert bad.name in str(err.value) and EXPECTED[kind] in str(err.value)
    after = sorted(p for p in tmp_path.rglob("*") if home not in p.parents and p != home)
    assert after == before  # nothing written outside BEWAAR_HOME
    assert not list(tmp_path.rglob("evil.txt")) and not Path("/tmp/evil.txt").exists()
    assert not list((settings.chat_dir / "hostile").glob("staging-*"))
    assert not settings.packages_dir.exists() or not [
        p for p in settings.packages_dir.iterdir() if not p.name.startswith(".")]
    with session_scope(settings) as db:
        assert db.scalar(select(func.count()).select_from(ChatSeenEvent)) == 0
        assert db.scalar(select(func.count()).select_from(Package)) == 0


def test_bad_source_settings_are_refused() -> None:
    from chat_archiver.connector import ChatError
    from chat_archiver.imports import new_export_source

    with pytest.raises(ChatError, match="time zone"):
        new_export_source("whatsapp", "x", category="1.1", timezone="Mars/Olympus")
    with pytest.raises(ChatError, match="auto, nl or en"):
        new_export_source("whatsapp", "x", category="1.1", locale="de")
    with pytest.raises(ChatError, match="kind"):
        new_export_source("icq", "x", category="1.1")


def _read_whatsapp(tmp_path: Path, text: str, **options: Any) -> Any:
    from chat_archiver.exports import reader_for
    from chat_archiver.exports.base import ReadOptions
    from chat_archiver.exports.files import stage_files

    f = tmp_path / "WhatsApp Chat with Eva.txt"
    f.write_text(text, encoding="utf-8", newline="")
    bundle = stage_files([f], tmp_path / "staging")
    return reader_for("whatsapp").read(bundle, ReadOptions(**options))


def test_whatsapp_lines_it_cannot_read_are_listed_with_their_number(tmp_path: Path) -> None:
    parsed = _read_whatsapp(tmp_path, "kopregel van een doorgestuurd bestand\n"
                                      "12-03-2024 14:05 - Eva: goed\n"
                                      "31-02-2024 14:06 - Eva: een datum die niet bestaat\n"
                                      "13-03-2024 09:00 - Eva: weer goed\n")
    assert [(u["line"], u["file"]) for u in parsed.unparsed] == [
        (1, "WhatsApp Chat with Eva.txt"), (3, "WhatsApp Chat with Eva.txt")]
    assert [m.text for m in parsed.chats[0].messages] == ["goed", "weer goed"]
    assert parsed.chats[0].name == "Eva"


def test_whatsapp_warns_near_the_export_limit(tmp_path: Path) -> None:
    lines = [f"{1 + i // 1440 % 28:02d}-01-2024 {i // 60 % 24:02d}:{i % 60:02d} - Eva: bericht {i}"
             for i in range(38_500)]
    parsed = _read_whatsapp(tmp_path, "\n".join(lines) + "\n")
    assert len(parsed.chats[0].messages) == 38_500
    assert any("40,000" in w and "cut" in w for w in parsed.warnings)
