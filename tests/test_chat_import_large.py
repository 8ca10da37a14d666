"""A long WhatsApp chat with many media files, imported from the command line: every message
is in messages.csv and in the transcript (one page, written in parts), every attachment is the
zip member bit-for-bit, and a second import of the same export adds nothing.

Checked with bagit-python, the csv module, zipfile + hashlib and html.parser, not with the
importer's code.
"""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

MESSAGES = 2_600  # more than the transcript renders in one part (transcript.RENDER_ITEMS)
MEDIA = 150
SELECTIELIJST = 'name = "t"\n[[categorie]]\ncode = "1.1"\nnaam = "chat"\nwaardering = "B"\n' \
                'trigger = "einde"\n'
BAGIT = str(Path(sys.executable).with_name("bagit.py"))


def make_export(path: Path) -> dict[str, bytes]:
    """A Dutch Android export with MEDIA files; returns the media by name."""
    t = datetime(2024, 3, 30, 20, 0)
    lines = ["30-03-2024 20:00 - Berichten en gesprekken worden end-to-end versleuteld. "
             "Niemand buiten deze chat, zelfs WhatsApp niet, kan ze lezen of beluisteren."]
    media: dict[str, bytes] = {}
    for n in range(1, MESSAGES):
        t += timedelta(minutes=1)  # runs through the night of the change to summer time
        stamp = t.strftime("%d-%m-%Y %H:%M")
        if t.strftime("%Y-%m-%d %H") == "2024-03-31 02":
            t += timedelta(hours=1)  # the hour the clocks skip: no phone shows it
            stamp = t.strftime("%d-%m-%Y %H:%M")
        who = ("Jan de Vries", "\u202a+31 6 12345678\u202c", "Eva <b>Smit</b>")[n % 3]
        if n % (MESSAGES // MEDIA) == 0 and len(media) < MEDIA:
            name = f"IMG-{t:%Y%m%d}-WA{len(media):04d}.jpg"
            media[name] = b"\xff\xd8\xff\xe0" + hashlib.sha256(name.encode()).digest() * 40
            ref = f"\u200e{name} (bestand bijgevoegd)" if len(media) % 2 else \
                f"<bijgevoegd: {name}>"
            lines.append(f"{stamp} - {who}: {ref}")
        elif n % 17 == 0:
            lines.append(f"{stamp} - {who}: regel één van {n}\nregel twee: <i>{n}</i> - klaar")
        else:
            lines.append(f"{stamp} - {who}: bericht {n} & <script>x</script>")
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("WhatsApp-chat met Overleg.txt", "\n".join(lines) + "\n")
        for name, data in media.items():
            zf.writestr(name, data)
    return media


class Transcript(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.tags: dict[str, int] = {}
        self.bodies: list[str] = []
        self._in_body = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags[tag] = self.tags.get(tag, 0) + 1
        a = dict(attrs)
        if tag == "div" and (a.get("class") or "").startswith("ev") and a.get("id"):
            self.ids.append(str(a["id"]))
        self._in_body = tag == "span" and a.get("class") == "body"

    def handle_endtag(self, tag: str) -> None:
        self._in_body = False

    def handle_data(self, data: str) -> None:
        if self._in_body:
            self.bodies.append(data)


def test_long_chat_with_media_every_message_and_file_once(bewaar: Any, tmp_path: Path) -> None:
    (tmp_path / "sl.toml").write_text(SELECTIELIJST)
    bewaar("selectielijst", "load", str(tmp_path / "sl.toml"))
    bewaar("keys", "init")
    bewaar("chat", "add", "whatsapp", "overleg", "--category", "1.1")
    export = tmp_path / "WhatsApp-chat met Overleg.zip"
    media = make_export(export)

    out = bewaar("chat", "import", "overleg", str(export), "--json").json()
    assert out["messages"] == MESSAGES and out["attachments"] == MEDIA
    assert out["attachments_missing"] == 0 and out["unparsed"] == 0
    package = Path(out["package"])
    check = subprocess.run([sys.executable, BAGIT, "--validate", str(package / "bag")],
                           capture_output=True, text=True)
    assert check.returncode == 0, check.stderr
    data = package / "bag" / "data"
    with (data / "messages.csv").open(newline="", encoding="utf-8") as fh:
        table = list(csv.DictReader(fh))
    assert len(table) == MESSAGES == len({r["event_id"] for r in table})
    # every attachment is the member of the zip, bit for bit
    with zipfile.ZipFile(export) as zf:
        wanted = {hashlib.sha256(zf.read(n)).hexdigest() for n in media}
    files = [r for r in table if r["attachment"]]
    assert len(files) == MEDIA
    for r in files:
        got = hashlib.sha256((data / r["attachment"]).read_bytes()).hexdigest()
        assert got == r["attachment_sha256"]
    assert {r["attachment_sha256"] for r in files} == wanted
    # the night the clocks went forward: 01:59 CET (00:59 UTC) is followed by 03:00 CEST,
    # the next minute in UTC
    times = [r["time_utc"] for r in table]
    assert times == sorted(times)
    change = times.index("2024-03-31 00:59:00 UTC")
    assert times[change + 1] == "2024-03-31 01:00:00 UTC"

    pages = list((data / "rooms").glob("*/transcript.html"))
    assert len(pages) == 1
    html = pages[0].read_text(encoding="utf-8")
    assert html.count("<!doctype html>") == 1 and html.rstrip().endswith("</body></html>")
    assert "<script>" not in html and "<b>Smit</b>" not in html  # chat text is escaped
    page = Transcript()
    page.feed(html)
    assert page.tags["html"] == 1 and page.tags["body"] == 1
    assert page.ids == [r["event_id"] for r in table]  # every message once, in order
    assert "bericht 100 & <script>x</script>" in page.bodies

    again = bewaar("chat", "import", "overleg", str(export), "--json").json()
    assert again["package"] is None and again["messages"] == 0
    assert again["duplicates"] == MESSAGES
