"""The verklaring van vernietiging: what an executed destruction list destroyed, as a document
(PDF/A, through ``archive.pdfa``), as a machine-readable list (JSON) and as MDTO events (one
``Vernietigen`` per destroyed package). The records service gathers the facts and seals the
result as a package of waardering B (``bewaar.services.disposal``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from datetime import date, datetime

from archive.package.mdto import Event, xml_datetime
from archive.package.selectielijst import Category
from archive.pdfa import TextDocument
from archive.timefmt import ZONE

LEGAL_GROUND = (
    "Archiefwet 1995, artikel 3 (de zorgdrager brengt de archiefbescheiden in goede, geordende "
    "en toegankelijke staat en vernietigt wat volgens een vastgestelde selectielijst voor "
    "vernietiging in aanmerking komt) en Archiefbesluit 1995, artikelen 6 tot en met 8 "
    "(vernietiging volgens de selectielijst, de verklaring van vernietiging met een "
    "specificatie van wat is vernietigd, en het bewaren daarvan)."
)
METHOD = (
    "Digitale vernietiging door Bewaarplaats. Per pakket zijn verwijderd: de WARC-bestanden uit "
    "de opslag (lokale schijf en objectopslag), hun CDXJ-indexen, hun regels in de "
    "samengevoegde indexen van de replay-collecties en hun koppelingen daarin, de map van de "
    "crawl (logboek, rapporten), het verzegelde archiefpakket (bag, zegel en tijdstempel) en "
    "de gegevens in de database die inhoud dragen (vastgelegde adressen, "
    "deduplicatiegegevens). Wat blijft is een grafsteen per pakket: wat het was, de "
    "SHA-512-waarde van zijn tagmanifest, wanneer en op wiens besluit het is vernietigd. Een "
    "pakket dat op het moment van uitvoeren onder een bewaarplicht (hold) viel, is niet "
    "vernietigd."
)
# The verklaring's own valuation: kept for good (Archiefbesluit 1995, art. 8). It is not a
# selectielijst category of the ministry's own, so it is named here.
VALUATION = Category(
    code="VvV", name="Verklaringen van vernietiging", waardering="B", bewaartermijn=None,
    trigger="Vernietiging", list_name="Archiefbesluit 1995, artikel 8")
SOURCE_NAME = "vernietiging"  # the verklaringen form one chain of packages


@dataclass(frozen=True)
class DestroyedItem:
    package_id: str
    source_kind: str
    source_name: str
    title: str
    category: str | None
    category_name: str | None
    selectielijst: str | None
    end_date: date | None
    period_start: datetime | None
    period_end: datetime | None
    files: int
    bytes: int
    tagmanifest_sha512: str
    destroyed_at: datetime


@dataclass(frozen=True)
class Decision:
    list_id: int
    as_of: date
    proposed_by: str
    proposed_at: datetime
    reviewed_by: str | None
    reviewed_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    executed_by: str
    executed_at: datetime
    organisation: str
    selectielijsten: list[tuple[str, str]] = field(default_factory=list)  # name, loaded on
    skipped: list[tuple[str, str]] = field(default_factory=list)  # package id, why


def title(list_id: int) -> str:
    return f"Verklaring van vernietiging, vernietigingslijst {list_id}"


def _day(value: datetime | date | None) -> str:
    if value is None:
        return "onbekend"
    if isinstance(value, datetime):
        return value.astimezone(ZONE).strftime("%Y-%m-%d %H:%M")
    return value.isoformat()


def _period(item: DestroyedItem) -> str:
    if item.period_start is None or item.period_end is None:
        return "onbekend"
    a = item.period_start.astimezone(ZONE).date().isoformat()
    b = item.period_end.astimezone(ZONE).date().isoformat()
    return a if a == b else f"{a} t/m {b}"


def covered(items: list[DestroyedItem]) -> str:
    """The period all destroyed records cover together."""
    starts = [i.period_start for i in items if i.period_start]
    ends = [i.period_end for i in items if i.period_end]
    if not starts or not ends:
        return "onbekend"
    a = min(starts).astimezone(ZONE).date().isoformat()
    b = max(ends).astimezone(ZONE).date().isoformat()
    return f"{a} t/m {b}"


_KIND = {"crawl": "website", "chat": "chat"}


def document(decision: Decision, items: list[DestroyedItem]) -> TextDocument:
    """The verklaring as a text document (Dutch)."""
    doc = TextDocument(title=title(decision.list_id), author=decision.organisation,
                       subject="Verklaring van vernietiging van archiefbescheiden",
                       created=decision.executed_at)
    doc.paragraph(
        f"{decision.organisation} verklaart dat de hieronder genoemde archiefbescheiden "
        f"({len(items)} archiefpakket{'ten' if len(items) != 1 else ''}) zijn vernietigd "
        f"volgens vernietigingslijst {decision.list_id}, die is opgesteld voor wat op "
        f"{decision.as_of.isoformat()} voor vernietiging in aanmerking kwam.")
    doc.heading("Besluit en uitvoering")
    doc.facts([
        ("Voorgesteld door", f"{decision.proposed_by}, {_day(decision.proposed_at)}"),
        ("Beoordeeld door", f"{decision.reviewed_by or '-'}, {_day(decision.reviewed_at)}"),
        ("Goedgekeurd door", f"{decision.approved_by or '-'}, {_day(decision.approved_at)}"),
        ("Uitgevoerd door", f"{decision.executed_by}, {_day(decision.executed_at)}"),
        ("Periode van de bescheiden", covered(items)),
    ])
    doc.heading("Selectielijst")
    lists = decision.selectielijsten or [("onbekend", "")]
    for name, loaded in lists:
        doc.paragraph(f"{name}" + (f" (versie zoals geladen op {loaded})" if loaded else ""))
    doc.heading("Wettelijke grondslag")
    doc.paragraph(LEGAL_GROUND)
    doc.heading("Wijze van vernietiging")
    doc.paragraph(METHOD)
    doc.heading("Vernietigd, per categorie")
    by_cat: dict[str, list[DestroyedItem]] = {}
    for it in items:
        by_cat.setdefault(it.category or "zonder categorie", []).append(it)
    for code in sorted(by_cat):
        group = by_cat[code]
        cat_name = group[0].category_name
        doc.paragraph(f"Categorie {code}" + (f": {cat_name}" if cat_name else "")
                      + f" ({len(group)} pakket{'ten' if len(group) != 1 else ''}, "
                      f"{sum(i.bytes for i in group)} bytes)")
        doc.table(["Pakket", "Bron", "Periode", "Einde termijn", "Vernietigd"],
                  [[i.package_id, f"{_KIND.get(i.source_kind, i.source_kind)} {i.source_name}",
                    _period(i), _day(i.end_date), _day(i.destroyed_at)] for i in group],
                  widths=[62, 34, 30, 22, 26])
    doc.heading("Controlegetallen")
    doc.paragraph("SHA-512 van de tagmanifest van elk vernietigd pakket (het zegel van het "
                  "pakket gold deze waarde):")
    for it in items:
        doc.paragraph(f"{it.package_id}: {it.tagmanifest_sha512}")
    if decision.skipped:
        doc.heading("Niet vernietigd")
        for pid, why in decision.skipped:
            doc.paragraph(f"{pid}: {why}")
    return doc


def events(decision: Decision, items: list[DestroyedItem]) -> list[Event]:
    """One MDTO event ``Vernietigen`` per destroyed package."""
    return [Event("Vernietigen", it.destroyed_at, (
        f"Pakket {it.package_id} ({_KIND.get(it.source_kind, it.source_kind)} "
        f"{it.source_name}, categorie {it.category or '-'}, periode {_period(it)}, "
        f"tagmanifest SHA-512 {it.tagmanifest_sha512}) vernietigd volgens "
        f"vernietigingslijst {decision.list_id}; voorgesteld door {decision.proposed_by}, "
        f"beoordeeld door {decision.reviewed_by or '-'}, goedgekeurd door "
        f"{decision.approved_by or '-'}, uitgevoerd door {decision.executed_by}."))
        for it in items]


def listing_json(decision: Decision, items: list[DestroyedItem]) -> bytes:
    """The same facts, machine-readable."""
    def plain(value: object) -> object:
        if isinstance(value, datetime):
            return xml_datetime(value)
        if isinstance(value, date):
            return value.isoformat()
        return value

    body = {
        "list": decision.list_id, "as_of": decision.as_of.isoformat(),
        "proposed_by": decision.proposed_by, "reviewed_by": decision.reviewed_by,
        "approved_by": decision.approved_by, "executed_by": decision.executed_by,
        "executed_at": xml_datetime(decision.executed_at),
        "selectielijsten": [{"name": n, "loaded": d} for n, d in decision.selectielijsten],
        "legal_ground": LEGAL_GROUND,
        "destroyed": [{k: plain(v) for k, v in asdict(it).items()} for it in items],
        "skipped": [{"package": p, "reason": r} for p, r in decision.skipped],
    }
    return (json.dumps(body, ensure_ascii=False, indent=2) + "\n").encode()
