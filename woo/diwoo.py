"""DiWoo metadata: one ``diwoo:Document`` per published document, and its check against the
DiWoo XSD 0.9.8 shipped in ``woo/schema`` (see its NOTE.md: where it comes from).

The XSD imports MDTO from the Nationaal Archief's site; that import is answered with the MDTO
XSD the packages already ship (``archive/package/schema/MDTO-XML1.0.1.xsd``), never fetched.

Values from the TOOI lists of that XSD (``diwoo-metadata-lijsten.xsd``):
- informatiecategorie ``c_3baef532`` "Woo-verzoeken en -besluiten" (what is published on a
  Woo request; note ``c_db4862c3`` is "vergaderstukken decentrale overheden");
- documenthandeling ``c_641ecd76`` "vaststelling", at the time the document's content was
  fixed: a web page's capture, a conversation's last message;
- format PDF and language Dutch from the EU authority lists the XSD names.
The publisher is the configured organisation; its identifier becomes the ``resource`` only
when it is a TOOI organisation URI (the XSD allows only those), else the name stands alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any

NS = "https://standaarden.overheid.nl/diwoo/metadata/"
SCHEMA = Path(__file__).parent / "schema" / "diwoo-metadata.xsd"
MDTO_XSD = Path(__file__).resolve().parents[1] / "archive" / "package" / "schema" / \
    "MDTO-XML1.0.1.xsd"
TOOI_ORG = "https://identifier.overheid.nl/tooi/id/"
# What XML 1.0 cannot hold (control characters, surrogates, U+FFFE/FFFF): left out of the text
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
CATEGORY = ("https://identifier.overheid.nl/tooi/def/thes/kern/c_3baef532",
            "Woo-verzoeken en -besluiten")
HANDLING = ("https://identifier.overheid.nl/tooi/def/thes/kern/c_641ecd76", "vaststelling")
PDF = ("http://publications.europa.eu/resource/authority/file-type/PDF", "PDF")
DUTCH = ("http://publications.europa.eu/resource/authority/language/NLD", "Nederlands")


@dataclass(frozen=True)
class DiWooDoc:
    identifier: str
    title: str  # the officiële titel (already redacted)
    description: str
    created: datetime  # creatiedatum (its date) and the documenthandeling's time
    request: str  # the aggregatiekenmerk: which request it was published on


def document_xml(doc: DiWooDoc, organisation: str, organisation_id: str | None) -> bytes:
    from lxml import etree

    def el(parent: Any, name: str, text: str | None = None,
           resource: str | None = None) -> Any:
        e = etree.SubElement(parent, f"{{{NS}}}{name}")
        if resource:
            e.set("resource", resource)
        if text is not None:
            e.text = _NOT_XML.sub("", text)
        return e

    org_res = organisation_id if (organisation_id or "").startswith(TOOI_ORG) else None
    root = etree.Element(f"{{{NS}}}Document", nsmap={"diwoo": NS})
    d = el(root, "DiWoo")
    el(el(d, "identifiers"), "identifier", doc.identifier)
    el(d, "publisher", organisation, org_res)
    el(el(d, "titelcollectie"), "officieleTitel", doc.title or doc.identifier)
    el(el(d, "omschrijvingen"), "omschrijving", doc.description)
    el(el(el(d, "classificatiecollectie"), "informatiecategorieen"), "informatiecategorie",
       CATEGORY[1], CATEGORY[0])
    el(d, "creatiedatum", doc.created.astimezone(UTC).date().isoformat())
    el(d, "language", DUTCH[1], DUTCH[0])
    el(d, "format", PDF[1], PDF[0])
    el(d, "aggregatiekenmerk", doc.request)
    h = el(el(d, "documenthandelingen"), "documenthandeling")
    el(h, "soortHandeling", HANDLING[1], HANDLING[0])
    el(h, "atTime", doc.created.astimezone(UTC).replace(microsecond=0).isoformat()
       .replace("+00:00", "Z"))
    el(h, "wasAssociatedWith", organisation, org_res)
    return bytes(etree.tostring(root, xml_declaration=True, encoding="UTF-8",
                                pretty_print=True))


@cache
def schema() -> Any:
    from lxml import etree

    class _Local(etree.Resolver):
        def resolve(self, url: str | None, pubid: str | None, context: Any) -> Any:
            if url and url.endswith("/MDTO-XML1.0.1.xsd"):
                return self.resolve_filename(str(MDTO_XSD), context)
            return None

    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    parser.resolvers.add(_Local())
    return etree.XMLSchema(etree.parse(str(SCHEMA), parser))


def problems(xml: bytes) -> list[str]:
    """What the XSD finds wrong with ``xml`` (empty: valid)."""
    from lxml import etree

    s = schema()
    parser = etree.XMLParser(no_network=True, resolve_entities=False)
    if s.validate(etree.fromstring(xml, parser)):
        return []
    return [f"line {e.line}: {e.message}" for e in s.error_log]
