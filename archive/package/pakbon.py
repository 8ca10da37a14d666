"""The pakbon (packing slip) of a SIP, as the MDTO SIP specification lists its contents: id,
title, the location in the receiving system, the SIP's hash, when it was made, the organisation,
a contact, the counts of informatieobjecten and bestanden, the content's size and what is
special about the material (here: the formats found, by PRONOM identifier, and the files
identified by extension only or not at all). XML, as the specification prefers.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import TYPE_CHECKING

from lxml import etree

from archive.package import mdto
from archive.package.formats import engine
from archive.package.organisation import Organisation
from archive.package.sip_mdto import MDTO_VERSION

if TYPE_CHECKING:
    from archive.package.sip import SipResult

PAKBON = "pakbon.xml"
PAKBON_NS = "urn:bewaarplaats:pakbon:1"
HASH_METHOD = ("SHA-256 over de regels '<sha256 van het bestand>  <pad>\\n' van elk bestand "
               "van de SIP behalve pakbon.xml, gesorteerd op pad (UTF-8); paden ten opzichte "
               "van de hoofdmap van de SIP")


def pakbon_xml(r: SipResult, *, title: str, organisation: Organisation, created: datetime,
               parent: str | None, contact: str | None) -> bytes:
    """The pakbon of the SIP ``r`` describes (its counts, size and hash already made)."""
    root = etree.Element(f"{{{PAKBON_NS}}}pakbon", nsmap={None: PAKBON_NS})

    def sub(parent_el: etree._Element, tag: str, text: str | None = None,
            **attrs: str) -> etree._Element:
        el = etree.SubElement(parent_el, f"{{{PAKBON_NS}}}{tag}", **attrs)
        if text is not None:
            el.text = text
        return el

    sub(root, "identificatie", r.id)
    sub(root, "naam", title)
    sub(root, "locatieDoelsysteem", parent or "")  # empty: not yet named by the receiver
    algorithm, _, value = r.sip_hash.partition(":")
    sub(root, "hashSIP", value, algoritme=algorithm, methode=HASH_METHOD)
    sub(root, "tijdstipCreatie", mdto.xml_datetime(created))
    org = sub(root, "archiefvormer")
    sub(org, "naam", organisation.name)
    sub(org, "identificatie", organisation.identifier, bron=organisation.id_source)
    sub(root, "contactpersoon", contact or "")
    sub(root, "aantalInformatieobjecten", str(r.objects))
    sub(root, "aantalBestanden", str(r.files))
    sub(root, "omvang", str(r.bytes), eenheid="bytes")
    sub(root, "mdtoVersie", MDTO_VERSION)
    top = sub(root, "informatieobjecten")  # the top-level objects: one folder each
    for package_id, folder in r.folders.items():
        sub(top, "informatieobject", package_id, map=folder)
    b = sub(root, "bijzonderheden")
    sub(b, "formaatidentificatie", engine())
    for fmt, n in sorted(Counter(r.formats).items()):
        sub(b, "formaat", fmt, bestanden=str(n))
    for path in r.by_extension_only:
        sub(b, "alleenOpExtensie", path)
    for path in r.unidentified:
        sub(b, "nietGeidentificeerd", path)
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)
