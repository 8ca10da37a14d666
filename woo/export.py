"""The publishable files of a decided Woo request, as bytes (the service seals and writes
them):

- ``documenten/<id>.pdf``: a PDF/A-2b per document decided ``openbaar`` or ``deels`` (a web
  page as its text, with its URL and capture time; a chat conversation as its transcript).
  Redacted text is never handed to the PDF writer: the stretch is replaced by its marker
  (``[5.1.2e]``), so it is in no content stream, no font subset and no metadata;
- ``diwoo/<id>.xml``: its ``diwoo:Document``, checked against the DiWoo XSD before anything
  is returned;
- ``inventaris.csv``: every document, ``niet`` ones included (not published, listed with
  their grounds): document, titel, datum, bron, besluit, gronden, bestand.
Phrases are redacted everywhere they occur: text, title and URL.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field
from datetime import datetime

from archive.errors import BewaarError
from archive.timefmt import ZONE
from woo.grounds import GROUNDS
from woo.redact import Cut, apply, find_phrase

DECISIONS = {"openbaar": "openbaar", "deels": "deels openbaar", "niet": "niet openbaar"}
INVENTORY_FIELDS = ["document", "titel", "datum", "bron", "besluit", "gronden", "bestand"]


class ExportError(BewaarError):
    """The export cannot be made (metadata that does not validate, a PDF that cannot be
    written)."""


@dataclass
class ExportDoc:
    ident: str  # "WOO-3-001"
    kind: str  # web | chat
    source: str
    title: str
    text: str
    at: datetime  # web: capture; chat: first message
    decision: str  # openbaar | deels | niet
    grounds: list[str]
    url: str | None = None
    last_at: datetime | None = None  # chat: last message; web: newest capture
    cuts: list[Cut] = field(default_factory=list)  # spans of this document


@dataclass
class ExportRequest:
    id: int
    title: str
    organisation: str
    organisation_id: str | None
    phrases: list[tuple[str, str]] = field(default_factory=list)  # (phrase, ground)


@dataclass
class Redacted:
    title: str
    url: str | None
    text: str
    grounds: list[str]  # applied by redactions


def redacted(req: ExportRequest, d: ExportDoc) -> Redacted:
    """The document as it is published: every phrase and span of it replaced."""
    def phrases(value: str) -> list[Cut]:
        return [c for p, g in req.phrases for c in find_phrase(value, p, g)]

    title, g1 = apply(d.title, phrases(d.title))
    url, g2 = apply(d.url, phrases(d.url)) if d.url else (None, [])
    text, g3 = apply(d.text, phrases(d.text) + d.cuts)
    return Redacted(title, url, text, sorted({*g1, *g2, *g3}))


def _day(dt: datetime) -> str:
    return dt.astimezone(ZONE).strftime("%Y-%m-%d")


def _when(dt: datetime) -> str:
    return dt.astimezone(ZONE).strftime("%Y-%m-%d %H:%M:%S %Z")


def _grounds_text(codes: list[str]) -> str:
    return "; ".join(f"{c} ({GROUNDS[c].description})" for c in codes if c in GROUNDS)


def _request_title(req: ExportRequest) -> str:
    cuts = [c for p, g in req.phrases for c in find_phrase(req.title, p, g)]
    return apply(req.title, cuts)[0]


def pdf_bytes(req: ExportRequest, d: ExportDoc, r: Redacted) -> bytes:
    from archive.pdfa import PdfError, TextDocument, render

    grounds = sorted({*d.grounds, *r.grounds})
    doc = TextDocument(title=r.title or d.ident, author=req.organisation,
                       subject=f"Woo-verzoek {req.id}: {_request_title(req)}",
                       created=d.last_at or d.at)
    facts = [("Document", d.ident), ("Woo-verzoek", f"{req.id}: {_request_title(req)}")]
    if d.kind == "web":
        facts += [("Website", d.source), ("Adres (URL)", r.url or ""),
                  ("Vastgelegd op", _when(d.at))]
        if d.last_at and d.last_at != d.at:
            facts.append(("Laatst zo vastgelegd", _when(d.last_at)))
    else:
        facts += [("Chatbron", d.source), ("Gesprek", r.title),
                  ("Periode", f"{_when(d.at)} tot {_when(d.last_at or d.at)}")]
    facts.append(("Besluit", DECISIONS[d.decision]))
    if grounds:
        facts.append(("Gronden", _grounds_text(grounds)))
    doc.facts(facts)
    if r.grounds:
        doc.paragraph("Weggelakte passages zijn vervangen door de grond waarop zij niet "
                      "openbaar zijn, zoals [5.1.2e].")
    doc.heading("Tekst van de webpagina" if d.kind == "web" else "Verslag van het gesprek")
    for line in r.text.splitlines():
        if line.strip():
            doc.paragraph(line)
    try:
        return render(doc)
    except PdfError as exc:
        raise ExportError("%(doc)s: %(reason)s", doc=d.ident, reason=str(exc)) from None


def build(req: ExportRequest, docs: list[ExportDoc]) -> dict[str, bytes]:
    """Every file of the export, by its path (see the module docstring)."""
    from woo.diwoo import DiWooDoc, document_xml, problems

    files: dict[str, bytes] = {}
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(INVENTORY_FIELDS)
    for d in docs:
        r = redacted(req, d)
        grounds = sorted({*d.grounds, *r.grounds})
        name = ""
        if d.decision != "niet":
            name = f"documenten/{d.ident}.pdf"
            files[name] = pdf_bytes(req, d, r)
            desc = (f"{'Webpagina' if d.kind == 'web' else 'Chatgesprek'} uit {d.source}, "
                    f"openbaar gemaakt op Woo-verzoek {req.id}; besluit: "
                    f"{DECISIONS[d.decision]}" + (f" ({', '.join(grounds)})" if grounds
                                                  else "") + ".")
            xml = document_xml(DiWooDoc(d.ident, r.title, desc, d.last_at or d.at,
                                        f"Woo-verzoek {req.id}"),
                               req.organisation, req.organisation_id)
            found = problems(xml)
            if found:
                raise ExportError("the DiWoo metadata of %(doc)s does not validate against "
                                  "the DiWoo XSD: %(problems)s", doc=d.ident,
                                  problems="; ".join(found[:3]))
            files[f"diwoo/{d.ident}.xml"] = xml
        w.writerow([d.ident, r.title, _day(d.at), d.source, DECISIONS[d.decision],
                    " ".join(grounds), name])
    files["inventaris.csv"] = out.getvalue().encode("utf-8")
    return files
