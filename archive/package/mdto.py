"""MDTO-XML 1.0.1 sidecars: one for the information object, one per file; XSD validation."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

from lxml import etree

from archive.package.organisation import Organisation
from archive.package.retention import end_dates, trigger_date
from archive.package.selectielijst import WAARDERING_LABELS, Category

SCHEMA_PATH = Path(__file__).with_name("schema") / "MDTO-XML1.0.1.xsd"
NS = "https://www.nationaalarchief.nl/mdto"
ID_SOURCE = "Bewaarplaats"
SIDECAR = ".bestand.mdto.xml"  # <file>.bestand.mdto.xml describes <file>
HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>\n'
    f'<MDTO xmlns="{NS}" xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
    f'xsi:schemaLocation="{NS} https://www.nationaalarchief.nl/mdto/MDTO-XML1.0.1.xsd">\n'
)

# The begrippenlijsten every begrip written here comes from, named as the Nationaal Archief's
# own MDTO examples name them. The MDTO lists and their labels are those of
# markdown/begrippenlijsten.md in github.com/NationaalArchief/MDTO-Metagegevensschema.
LIST_AGGREGATIENIVEAUS = "Begrippenlijst Aggregatieniveaus MDTO"
LIST_EVENTTYPE = "Begrippenlijst EventTypeLijst MDTO"
LIST_WAARDERINGEN = "Begrippenlijst Waarderingen MDTO"
LIST_RELATIETYPEN_INFORMATIEOBJECT = "Begrippenlijst Relatietypen (informatieobject) MDTO"
LIST_BEPERKINGGEBRUIKTYPE = "Begrippenlijst BeperkingGebruikTypeLijst MDTO"
LIST_CHECKSUMALGORITME = "Begrippenlijst ChecksumAlgoritme MDTO"
LIST_PRONOM = "PRONOM-register"
LIST_IANA = "IANA Media types"
# dekkingInTijdType has no MDTO list (MDTO leaves it free); ours holds one begrip, defined here.
LIST_BEWAARPLAATS = "Begrippenlijst Bewaarplaats"
BEWAARPLAATS_BEGRIPPEN = {
    "Periode van vastleggen": "De periode waarin de inhoud is vastgelegd: van het begin tot "
                              "het einde van de crawl of van de geëxporteerde berichten.",
    "Genoemd in de inhoud": "Een persoon of organisatie die in de inhoud wordt genoemd; door "
                            "een medewerker aanvaard uit de suggesties van de digitale "
                            "archivaris.",
}

# (suffix, PRONOM PUID, PRONOM format name and version); the longest matching suffix wins.
# Text formats PRONOM has no entry of their own for (CDXJ, JSON Lines, logs) are plain text.
_PRONOM: list[tuple[str, str, str]] = [
    (".warc.gz", "fmt/1355", "WARC 1.1"),  # record-at-a-time gzip, WARC 1.1 annex D
    (".warc", "fmt/1355", "WARC 1.1"),
    (".json", "fmt/817", "JSON Data Interchange Format"),
    (".jsonl", "x-fmt/111", "Plain Text File"),
    (".html", "fmt/471", "Hypertext Markup Language 5"),
    (".htm", "fmt/471", "Hypertext Markup Language 5"),
    (".xml", "fmt/101", "Extensible Markup Language 1.0"),
    (".txt", "x-fmt/111", "Plain Text File"),
    (".log", "x-fmt/111", "Plain Text File"),
    (".cdxj", "x-fmt/111", "Plain Text File"),
    (".csv", "x-fmt/18", "Comma Separated Values"),
    (".pdf", "fmt/276", "Acrobat PDF 1.7 - Portable Document Format"),
    (".png", "fmt/11", "Portable Network Graphics 1.0"),
    (".jpg", "fmt/43", "JPEG File Interchange Format 1.01"),
    (".jpeg", "fmt/43", "JPEG File Interchange Format 1.01"),
    (".gif", "fmt/4", "Graphics Interchange Format 89a"),
    (".zip", "x-fmt/263", "ZIP Format"),
    (".wacz", "x-fmt/263", "ZIP Format"),  # a WACZ is a ZIP file
    (".gz", "x-fmt/266", "GZIP Format"),
]


@dataclass(frozen=True)
class FileFormat:
    label: str
    code: str | None
    vocabulary: str


def file_format(name: str, mime: str | None = None) -> FileFormat:
    lower = name.lower()
    best = None
    for suffix, code, label in _PRONOM:
        if lower.endswith(suffix) and (best is None or len(suffix) > len(best[0])):
            best = (suffix, code, label)
    if best is not None:
        return FileFormat(best[2], best[1], LIST_PRONOM)
    # As MDTO's own example: code the media type, label its subtype name ("msword").
    media = (mime or "application/octet-stream").split(";")[0].strip().lower()
    return FileFormat(media.partition("/")[2] or media, media, LIST_IANA)


def _t(tag: str, text: str) -> str:
    return f"<{tag}>{escape(text)}</{tag}>"


def _begrip(tag: str, label: str, code: str | None, vocabulary: str) -> str:
    inner = _t("begripLabel", label)
    if code:
        inner += _t("begripCode", code)
    inner += f"<begripBegrippenlijst>{_t('verwijzingNaam', vocabulary)}</begripBegrippenlijst>"
    return f"<{tag}>{inner}</{tag}>"


def _ident(tag: str, kenmerk: str, bron: str = ID_SOURCE) -> str:
    return f"<{tag}>{_t('identificatieKenmerk', kenmerk)}{_t('identificatieBron', bron)}</{tag}>"


def _verwijzing(tag: str, name: str, ident: str | None = None, bron: str = ID_SOURCE) -> str:
    inner = _t("verwijzingNaam", name)
    if ident:
        inner += _ident("verwijzingIdentificatie", ident, bron)
    return f"<{tag}>{inner}</{tag}>"


def xml_datetime(value: datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def bestand_xml(
    *, package_id: str, relpath: str, size: int, sha512: str, checked_at: datetime | str,
    object_name: str, mime: str | None = None,
) -> bytes:
    """The sidecar of one file (``checked_at`` may be given preformatted: this runs per file,
    so only the file's own parts are escaped and joined here)."""
    name = relpath.rsplit("/", 1)[-1]
    when = checked_at if isinstance(checked_at, str) else xml_datetime(checked_at)
    fmt = _format_xml(name[name.find("."):] if "." in name else "", mime)
    return (
        f"{HEAD}<bestand><identificatie><identificatieKenmerk>{escape(package_id)}/"
        f"{escape(relpath)}</identificatieKenmerk>{_SOURCE}</identificatie>"
        f"<naam>{escape(name)}</naam><omvang>{int(size)}</omvang>{fmt}{_CHECKSUM_HEAD}"
        f"<checksumWaarde>{escape(sha512)}</checksumWaarde>"
        f"<checksumDatum>{escape(when)}</checksumDatum></checksum>"
        f"{_representatie_van(object_name, package_id)}</bestand>\n</MDTO>\n"
    ).encode()


_SOURCE = _t("identificatieBron", ID_SOURCE)
_CHECKSUM_HEAD = "<checksum>" + _begrip(
    "checksumAlgoritme", "SHA-512", None, LIST_CHECKSUMALGORITME)


@lru_cache(maxsize=256)
def _format_xml(suffixes: str, mime: str | None) -> str:
    """``bestandsformaat`` for a file name ending in ``suffixes`` (all of its dotted parts)."""
    fmt = file_format(suffixes, mime)
    return _begrip("bestandsformaat", fmt.label, fmt.code, fmt.vocabulary)


@lru_cache(maxsize=16)
def _representatie_van(object_name: str, package_id: str) -> str:
    return _verwijzing("isRepresentatieVan", object_name, package_id)


# What each kind of source did, as MDTO events (EventTypeLijst labels), before the seal froze it.
_SOURCE_EVENT = {
    "crawl": ("Opname", "Website vastgelegd door een crawl van Bewaarplaats en met de "
                        "metagegevens opgenomen in een archiefpakket."),
    "chat": ("Export", "Berichten geëxporteerd uit de chatdienst (Matrix) en met de "
                       "metagegevens opgenomen in een archiefpakket."),
    "records": ("Creatie", "Opgemaakt door Bewaarplaats bij het uitvoeren van een "
                           "vernietigingslijst en opgenomen in een archiefpakket."),
}
_SEAL_EVENT = ("Bevriezing", "Verzegeld: een elektronisch zegel (CMS) over "
                             "bag/tagmanifest-sha512.txt; daarna is geen wijziging toegestaan.")
# beperkingGebruikType per source kind (BeperkingGebruikTypeLijst labels) and why.
_RESTRICTION = {
    "crawl": ("Geen beperking", "Vastlegging van een openbaar toegankelijke website."),
    "chat": ("Nader te bepalen", "Berichten uit een chatkanaal; openbaarheid nog te beoordelen."),
    "records": ("Nader te bepalen", "Verklaring met de namen van medewerkers; openbaarheid "
                                    "nog te beoordelen."),
}
BETROKKENE_GENOEMD = "Genoemd in de inhoud"


@dataclass(frozen=True)
class Described:
    """What a person accepted from the archivist's suggestions (archivist/): trefwoorden,
    talen (ISO 639-1) and betrokkenen (persons and organisations named in the content)."""

    keywords: tuple[str, ...] = ()
    languages: tuple[str, ...] = ()
    involved: tuple[str, ...] = ()


RELATIE_VORIG_PAKKET = "Refereert aan"  # Relatietypen (informatieobject), dcterms:references


@dataclass(frozen=True)
class Event:
    """One more event of an information object: an EventTypeLijst label, when, the result."""

    label: str
    when: datetime
    result: str


def _event(label: str, when: datetime, actor: Organisation, result: str) -> str:
    return (
        "<event>"
        + _begrip("eventType", label, None, LIST_EVENTTYPE)
        + _t("eventTijd", xml_datetime(when))
        + _verwijzing("eventVerantwoordelijkeActor", actor.name, actor.identifier,
                      actor.id_source)
        + _t("eventResultaat", result)
        + "</event>"
    )


def informatieobject_xml(
    *, package_id: str, title: str, description: str | None, organisation: Organisation,
    category: Category | None, created: datetime,
    period: tuple[datetime, datetime] | None, files: list[str], source_kind: str,
    previous_id: str | None, events: list[Event] | None = None,
    source_event: tuple[str, str] | None = None, described: Described | None = None,
) -> bytes:
    parts = [
        _ident("identificatie", package_id),
        _t("naam", title),
        _begrip("aggregatieniveau", "Archiefstuk", None, LIST_AGGREGATIENIVEAUS),
    ]
    parts.extend(_t("trefwoord", k) for k in (described.keywords if described else ()))
    if description:
        parts.append(_t("omschrijving", description))
    if period is not None:
        parts.append(
            "<dekkingInTijd>"
            + _begrip("dekkingInTijdType", "Periode van vastleggen", None, LIST_BEWAARPLAATS)
            + _t("dekkingInTijdBegindatum", period[0].date().isoformat())
            + _t("dekkingInTijdEinddatum", period[1].date().isoformat())
            + "</dekkingInTijd>"
        )
    # source_event: what made the content when it is not the source kind's usual (an import)
    parts.extend(_t("taal", lang) for lang in (described.languages if described else ()))
    event_type, event_result = source_event or _SOURCE_EVENT[source_kind]
    parts.append(_event(event_type, created, organisation, event_result))
    parts.append(_event(_SEAL_EVENT[0], created, organisation, _SEAL_EVENT[1]))
    parts.extend(_event(e.label, e.when, organisation, e.result) for e in events or ())
    if category is None:
        parts.append(_begrip("waardering", WAARDERING_LABELS["N"], "N", LIST_WAARDERINGEN))
    else:
        parts.append(_begrip("waardering", category.waardering_label, category.waardering,
                             LIST_WAARDERINGEN))
        start = trigger_date(category.trigger, period, created)
        end, _transfer = end_dates(category.waardering, category.bewaartermijn, start)
        if end is not None:  # V: the term after which it may be destroyed (B: kept for good)
            parts.append(
                "<bewaartermijn>"
                + _begrip("termijnTriggerStartLooptijd", category.trigger, None, category.list_name)
                + _t("termijnStartdatumLooptijd", start.isoformat())
                + _t("termijnLooptijd", str(category.bewaartermijn))
                + _t("termijnEinddatum", end.isoformat())
                + "</bewaartermijn>"
            )
        parts.append(_begrip("informatiecategorie", category.name, category.code,
                             category.list_name))
    parts.extend(_verwijzing("heeftRepresentatie", f, f"{package_id}/{f}") for f in files)
    if previous_id:
        parts.append(
            "<gerelateerdInformatieobject>"
            + _verwijzing("gerelateerdInformatieobjectVerwijzing", previous_id, previous_id)
            + _begrip("gerelateerdInformatieobjectTypeRelatie", RELATIE_VORIG_PAKKET, None,
                      LIST_RELATIETYPEN_INFORMATIEOBJECT)
            + "</gerelateerdInformatieobject>"
        )
    parts.append(_verwijzing("archiefvormer", organisation.name, organisation.identifier,
                             organisation.id_source))
    for name in described.involved if described else ():
        parts.append("<betrokkene>" + _begrip("betrokkeneTypeRelatie", BETROKKENE_GENOEMD, None,
                                              LIST_BEWAARPLAATS)
                     + _verwijzing("betrokkeneActor", name) + "</betrokkene>")
    restriction = _RESTRICTION[source_kind]
    parts.append(
        "<beperkingGebruik>"
        + _begrip("beperkingGebruikType", restriction[0], None, LIST_BEPERKINGGEBRUIKTYPE)
        + _t("beperkingGebruikNadereBeschrijving", restriction[1])
        + "</beperkingGebruik>"
    )
    return (HEAD + "<informatieobject>" + "".join(parts) + "</informatieobject>\n</MDTO>\n").encode()


_local = threading.local()
_schema_build = threading.Lock()


def schema() -> etree.XMLSchema:
    """The MDTO schema, one instance per thread (validators keep per-run state).

    libxml2 cannot parse schemas in several threads at once (it then reports a valid XSD as
    "not valid XML Schema"), so instances are built one at a time."""
    xsd: etree.XMLSchema | None = getattr(_local, "schema", None)
    if xsd is None:
        with _schema_build:
            xsd = _local.schema = etree.XMLSchema(etree.parse(str(SCHEMA_PATH)))
    return xsd


def _parser() -> etree.XMLParser:
    parser: etree.XMLParser | None = getattr(_local, "parser", None)
    if parser is None:
        parser = _local.parser = etree.XMLParser(resolve_entities=False, no_network=True)
    return parser


def inspect(data: bytes) -> tuple[list[str], dict[str, str]]:
    """Validate an MDTO document against the XSD; return (problems, fields of a bestand)."""
    try:
        doc = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as exc:
        return [f"not well-formed XML: {exc}"], {}
    s = schema()
    if not s.validate(doc):
        return [f"line {e.line}: {e.message}" for e in s.error_log][:5], {}
    fields: dict[str, str] = {}
    for name in ("omvang", "checksumWaarde"):
        el = doc.find(f".//{{{NS}}}{name}")
        if el is not None and el.text is not None:
            fields[name] = el.text
    return [], fields


def validate(data: bytes) -> list[str]:
    """Problems with an MDTO document (empty when it is valid against the XSD)."""
    return inspect(data)[0]
