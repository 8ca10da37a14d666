"""The MDTO sidecars of a SIP: a bestand sidecar per file, and each package's own information
object sidecar carried over with what the export adds (its files as they are named in the SIP,
the aggregation it belongs to in the e-Depot, the events "Export" and "Validatie Handtekening").

The sealed sidecar is never changed: it is read from the package and a new document is written
into the SIP. Elements are put in the order the XSD's sequence demands.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from lxml import etree

from archive.package import mdto
from archive.package.formats import Identified
from archive.package.organisation import Organisation

NS = mdto.NS
XSI = "http://www.w3.org/2001/XMLSchema-instance"
SCHEMA_LOCATION = f"{NS} https://www.nationaalarchief.nl/mdto/MDTO-XML1.0.1.xsd"
MDTO_VERSION = "1.0.1"
# The sequence of informatieobjectType (MDTO-XML 1.0.1).
_ORDER = ("identificatie", "naam", "aggregatieniveau", "classificatie", "trefwoord",
          "omschrijving", "raadpleeglocatie", "dekkingInTijd", "dekkingInRuimte", "taal",
          "event", "waardering", "bewaartermijn", "informatiecategorie", "isOnderdeelVan",
          "bevatOnderdeel", "heeftRepresentatie", "aanvullendeMetagegevens",
          "gerelateerdInformatieobject", "archiefvormer", "betrokkene", "activiteit",
          "beperkingGebruik")
CHECKSUMS = (("SHA-256", "sha256"), ("SHA-512", "sha512"))  # MDTO ChecksumAlgoritme labels


class SipMdtoError(ValueError):
    """A package's own MDTO cannot be carried into a SIP (not its information object)."""


@dataclass(frozen=True)
class SipFile:
    """A file of the SIP as its bestand sidecar describes it."""

    name: str  # its name in the SIP
    ident: str  # identificatieKenmerk: <package id>/<its path in the package>
    size: int
    digests: dict[str, str]  # hashlib name -> hex
    fmt: Identified


def _q(tag: str) -> str:
    return f"{{{NS}}}{tag}"


def _sub(parent: etree._Element, tag: str, text: str | None = None) -> etree._Element:
    el = etree.SubElement(parent, _q(tag))
    if text is not None:
        el.text = text
    return el


def _begrip(parent: etree._Element, tag: str, label: str, code: str | None,
            vocabulary: str) -> None:
    el = _sub(parent, tag)
    _sub(el, "begripLabel", label)
    if code:
        _sub(el, "begripCode", code)
    _sub(_sub(el, "begripBegrippenlijst"), "verwijzingNaam", vocabulary)


def _verwijzing(parent: etree._Element, tag: str, name: str, ident: str | None = None,
                bron: str = mdto.ID_SOURCE) -> None:
    el = _sub(parent, tag)
    _sub(el, "verwijzingNaam", name)
    if ident:
        vi = _sub(el, "verwijzingIdentificatie")
        _sub(vi, "identificatieKenmerk", ident)
        _sub(vi, "identificatieBron", bron)


def _root() -> etree._Element:
    root = etree.Element(_q("MDTO"), nsmap={None: NS, "xsi": XSI})
    root.set(f"{{{XSI}}}schemaLocation", SCHEMA_LOCATION)
    return root


def _bytes(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def bestand_xml(f: SipFile, *, checked_at: datetime, object_name: str,
                package_id: str) -> bytes:
    root = _root()
    b = _sub(root, "bestand")
    ident = _sub(b, "identificatie")
    _sub(ident, "identificatieKenmerk", f.ident)
    _sub(ident, "identificatieBron", mdto.ID_SOURCE)
    _sub(b, "naam", f.name)
    _sub(b, "omvang", str(f.size))
    _begrip(b, "bestandsformaat", f.fmt.label, f.fmt.code, f.fmt.vocabulary)
    for label, algorithm in CHECKSUMS:
        c = _sub(b, "checksum")
        _begrip(c, "checksumAlgoritme", label, None, mdto.LIST_CHECKSUMALGORITME)
        _sub(c, "checksumWaarde", f.digests[algorithm])
        _sub(c, "checksumDatum", mdto.xml_datetime(checked_at))
    _verwijzing(b, "isRepresentatieVan", object_name, package_id)
    return _bytes(root)


def _event(io: etree._Element, label: str, when: datetime, actor: Organisation,
           result: str) -> etree._Element:
    ev = _sub(io, "event")
    _begrip(ev, "eventType", label, None, mdto.LIST_EVENTTYPE)
    _sub(ev, "eventTijd", mdto.xml_datetime(when))
    _verwijzing(ev, "eventVerantwoordelijkeActor", actor.name, actor.identifier,
                actor.id_source)
    _sub(ev, "eventResultaat", result)
    return ev


def object_name(original: bytes) -> str:
    """The ``naam`` of a package's information object (its title)."""
    return _informatieobject(original).findtext(_q("naam")) or ""


def _informatieobject(original: bytes) -> etree._Element:
    parser = etree.XMLParser(resolve_entities=False, no_network=True, remove_blank_text=True)
    try:
        root = etree.fromstring(original, parser=parser)
    except etree.XMLSyntaxError as exc:
        raise SipMdtoError(f"the package's MDTO is not XML: {exc}") from None
    io = root.find(_q("informatieobject"))
    if root.tag != _q("MDTO") or io is None:
        raise SipMdtoError("the package's MDTO describes no informatieobject")
    return io


def informatieobject_xml(original: bytes, *, files: list[SipFile], parent: str | None,
                         organisation: Organisation, events: list[tuple[str, datetime, str]],
                         ) -> bytes:
    """The package's sealed information object for the SIP: its representations are the SIP's
    files, ``parent`` (the e-Depot aggregation's identificatieKenmerk) its one parent, and
    ``events`` (label, time, result) follow its own."""
    io = _informatieobject(original)
    for el in io.findall(_q("heeftRepresentatie")) + io.findall(_q("isOnderdeelVan")):
        io.remove(el)
    for label, when, result in events:
        _event(io, label, when, organisation, result)
    if parent:
        _verwijzing(io, "isOnderdeelVan", parent, parent, "e-Depot")
    for f in files:
        _verwijzing(io, "heeftRepresentatie", f.name, f.ident)
    rank = {name: i for i, name in enumerate(_ORDER)}
    children = list(io)
    for el in children:
        io.remove(el)
    local = etree.QName
    for el in sorted(children, key=lambda e: rank.get(local(e).localname, len(rank))):
        io.append(el)
    root = _root()
    root.append(io)
    return _bytes(root)
