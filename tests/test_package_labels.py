"""Every begrip the MDTO sidecars write is a label of the begrippenlijst they name."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from lxml import etree

from archive.package import mdto
from archive.package.organisation import Organisation
from archive.package.selectielijst import Category

NS = "{https://www.nationaalarchief.nl/mdto}"

# Copies of the MDTO begrippenlijsten (labels, and codes where the list has them), from
# markdown/begrippenlijsten.md of github.com/NationaalArchief/MDTO-Metagegevensschema,
# MDTO 1.0 as published there at commit 8749d98be07343e1b2fba34fa63240a9e144bfbb (2026-06-23).
MDTO_LISTS: dict[str, set[str]] = {
    "Begrippenlijst Aggregatieniveaus MDTO": {"Archief", "Serie", "Dossier", "Archiefstuk"},
    "Begrippenlijst EventTypeLijst MDTO": {
        "Creatie", "Ontvangst", "Verzending", "Opname", "Digitalisering", "Vervanging",
        "Bevriezing", "Conversie", "Export", "Import", "Kopie", "Migratie", "Vernietigen",
        "Overbrenging", "Uitplaatsing", "Wijziging", "Publicatie", "Accordering",
        "Validatie Handtekening",
    },
    "Begrippenlijst Waarderingen MDTO": {"Blijvend te bewaren", "Tijdelijk te bewaren",
                                         "Nader te bepalen"},
    "Begrippenlijst Relatietypen (informatieobject) MDTO": {
        "Heeft Versie", "Wordt aangehaald door", "Is vervangen door", "Is vereist door",
        "Is een versie van", "Refereert aan", "Vervangt", "Heeft nodig",
    },
    "Begrippenlijst BeperkingGebruikTypeLijst MDTO": {"Geen beperking", "Nader te bepalen",
                                                      "Overig"},
    "Begrippenlijst ChecksumAlgoritme MDTO": {"SHA-224", "SHA-256", "SHA-384", "SHA-512"},
}
WAARDERING_CODES = {"B": "Blijvend te bewaren", "V": "Tijdelijk te bewaren",
                    "N": "Nader te bepalen"}
# The attribute each MDTO list is for (begrippenlijsten.md: "gebruikt binnen het attribuut").
LIST_OF = {
    "aggregatieniveau": "Begrippenlijst Aggregatieniveaus MDTO",
    "eventType": "Begrippenlijst EventTypeLijst MDTO",
    "waardering": "Begrippenlijst Waarderingen MDTO",
    "gerelateerdInformatieobjectTypeRelatie": "Begrippenlijst Relatietypen (informatieobject) MDTO",
    "beperkingGebruikType": "Begrippenlijst BeperkingGebruikTypeLijst MDTO",
    "checksumAlgoritme": "Begrippenlijst ChecksumAlgoritme MDTO",
}
# PRONOM (The National Archives) format names and versions of the PUIDs written, from the
# PRONOM register (nationalarchives.gov.uk/PRONOM/<puid>).
PRONOM = {
    "fmt/1355": "WARC 1.1", "fmt/817": "JSON Data Interchange Format",
    "fmt/471": "Hypertext Markup Language 5", "fmt/101": "Extensible Markup Language 1.0",
    "x-fmt/111": "Plain Text File", "x-fmt/18": "Comma Separated Values",
    "fmt/276": "Acrobat PDF 1.7 - Portable Document Format",
    "fmt/11": "Portable Network Graphics 1.0", "fmt/43": "JPEG File Interchange Format 1.01",
    "fmt/4": "Graphics Interchange Format 89a", "x-fmt/263": "ZIP Format",
    "x-fmt/266": "GZIP Format",
}
SELECTIELIJST = "Selectielijst Ministerie van Proefzaken 2024"
CATEGORY = Category("1.1", "Websites over beleid", "V", "P10Y", "Vastlegging website",
                    SELECTIELIJST)
ORG = Organisation("Ministerie van Proefzaken (fictief)", "00000009999999999000")
NAMES = ["a.warc.gz", "b.warc", "c.json", "events.jsonl", "d.html", "e.htm", "f.xml", "g.txt",
         "crawl.log", "h.cdxj", "i.csv", "j.pdf", "k.png", "l.jpg", "m.jpeg", "n.gif", "o.zip",
         "p.wacz", "q.gz", "attachment.bin", "no-suffix"]


def begrippen(doc: bytes) -> list[tuple[str, str, str | None, str]]:
    """(attribute, label, code, begrippenlijst) of every begrip in an MDTO document."""
    root = etree.fromstring(doc)
    assert not mdto.validate(doc), mdto.validate(doc)
    out = []
    for label in root.iter(f"{NS}begripLabel"):
        el = label.getparent()
        code = el.findtext(f"{NS}begripCode")
        lst = el.findtext(f"{NS}begripBegrippenlijst/{NS}verwijzingNaam")
        assert lst, f"{el.tag} names no begrippenlijst"
        out.append((etree.QName(el).localname, label.text or "", code, lst))
    return out


def every_document() -> list[bytes]:
    period = (datetime(2025, 3, 1, tzinfo=UTC), datetime(2025, 3, 2, tzinfo=UTC))
    created = datetime(2025, 3, 3, tzinfo=UTC)
    docs = [
        mdto.informatieobject_xml(
            package_id="p-1", title="Webarchief", description="d", organisation=ORG,
            category=cat, created=created, period=period, files=["a"], source_kind=kind,
            previous_id=prev)
        for kind in ("crawl", "chat") for cat in (CATEGORY, None) for prev in (None, "p-0")
    ]
    docs += [mdto.informatieobject_xml(
        package_id="p-2", title="Chat", description=None, organisation=ORG,
        category=Category("2.1", "Chatberichten", "B", None, "", SELECTIELIJST),
        created=created, period=None, files=["a"], source_kind="chat", previous_id=None)]
    docs += [mdto.bestand_xml(package_id="p-1", relpath=f"x/{name}", size=1, sha512="0" * 128,
                              checked_at=created, object_name="o", mime=mime)
             for name in NAMES for mime in (None, "application/pdf; charset=binary")]
    return docs


def test_every_begrip_is_a_label_of_the_list_it_names() -> None:
    seen: set[tuple[str, str, str | None, str]] = set()
    for doc in every_document():
        seen.update(begrippen(doc))
    attributes = {b[0] for b in seen}
    assert attributes == {
        "aggregatieniveau", "eventType", "waardering", "gerelateerdInformatieobjectTypeRelatie",
        "beperkingGebruikType", "checksumAlgoritme", "bestandsformaat", "dekkingInTijdType",
        "termijnTriggerStartLooptijd", "informatiecategorie",
    }, "a begrip was added: list its begrippenlijst here"
    for attribute, label, code, lst in sorted(seen, key=str):
        where = f"{attribute} {label!r} ({lst})"
        if attribute in LIST_OF:
            assert lst == LIST_OF[attribute], where
            assert label in MDTO_LISTS[lst], f"{where} is not a label of that list"
            if attribute == "waardering":
                assert WAARDERING_CODES[code or ""] == label, where
            else:
                assert code is None, f"{where}: the MDTO list has no codes"
        elif attribute == "bestandsformaat":
            if lst == "PRONOM-register":
                assert PRONOM.get(code or "") == label, where
            else:  # as MDTO's own example: code the media type, label its subtype
                assert lst == "IANA Media types", where
                assert code in ("application/octet-stream", "application/pdf"), where
                assert label == (code or "").split("/")[1], where
        elif attribute == "dekkingInTijdType":  # MDTO has no list: ours, with its definition
            assert lst == "Begrippenlijst Bewaarplaats", where
            assert label in mdto.BEWAARPLAATS_BEGRIPPEN, where
        else:  # the selectielijst's own begrippen, under the selectielijst's name
            assert lst == SELECTIELIJST, where
            assert (label, code) in {("Vastlegging website", None), ("Websites over beleid", "1.1"),
                                     ("Chatberichten", "2.1")}, where


@pytest.mark.parametrize("kind, events", [("crawl", ["Opname", "Bevriezing"]),
                                          ("chat", ["Export", "Bevriezing"])])
def test_events_name_the_organisation(kind: str, events: list[str]) -> None:
    doc = etree.fromstring(mdto.informatieobject_xml(
        package_id="p", title="t", description=None, organisation=ORG, category=None,
        created=datetime(2025, 3, 3, tzinfo=UTC), period=None, files=["a"], source_kind=kind,
        previous_id=None))
    assert [e.findtext(f"{NS}eventType/{NS}begripLabel") for e in doc.iter(f"{NS}event")] == events
    for actor in [*doc.iter(f"{NS}eventVerantwoordelijkeActor"), *doc.iter(f"{NS}archiefvormer")]:
        assert actor.findtext(f"{NS}verwijzingNaam") == ORG.name
        ident = actor.find(f"{NS}verwijzingIdentificatie")
        assert ident is not None
        assert ident.findtext(f"{NS}identificatieKenmerk") == ORG.identifier
        assert ident.findtext(f"{NS}identificatieBron") == "OIN"
