"""An archivist transfers sealed packages to the e-Depot: `bewaar export sip` writes a SIP after
the MDTO SIP specification, checked here with lxml and the XSD, hashlib and tarfile (never the
product's own code); the receiving archive confirms it with `bewaar transfer confirm`, and
`bewaar retention` says `transferred`."""

from __future__ import annotations

import hashlib
import re
import tarfile
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from archive.db import session_scope
from archive.models import Retention
from archive.package import PackageInput, build_package
from archive.package.selectielijst import load_into_db
from archive.settings import load_settings
from bewaar.services.accounts import add_user
from tests.tsa import LocalPKI, pki  # noqa: F401 - the fixture

XSD = Path(__file__).resolve().parents[1] / "archive" / "package" / "schema" / "MDTO-XML1.0.1.xsd"
M = "{https://www.nationaalarchief.nl/mdto}"
P = "{urn:bewaarplaats:pakbon:1}"
SELECTIELIJST = """\
name = "Selectielijst Ministerie van Proefzaken 2026"

[[categorie]]
code = "B20"
naam = "Beleidsberichten, over te brengen"
waardering = "B"
bewaartermijn = "P20Y"
trigger = "Verzending"

[[categorie]]
code = "V0"
naam = "Kortlopende berichten"
waardering = "V"
bewaartermijn = "P0D"
trigger = "Verzending"
"""
HTML = b"<!DOCTYPE html>\n<html><head><title>Nota</title></head><body>Nota</body></html>\n"
PDF = b"%PDF-1.4\n1 0 obj\n<<>>\nendobj\ntrailer\n<<>>\n%%EOF\n"
FORBIDDEN = set('<>:"/\\|?*#& ')


@pytest.fixture
def depot(bewaar: Any, home: Path, pki: LocalPKI, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]  # noqa: F811
    """Two sealed, time-stamped B packages of one source (with an HTML page, a PDF whose name
    breaks the naming rules, a page without extension and a file name both share) and a V
    package; a records manager to confirm."""
    monkeypatch.setenv("BEWAAR_TSA_URL", pki.tsa_url)
    bewaar.env["BEWAAR_TSA_URL"] = pki.tsa_url
    home.mkdir(parents=True, exist_ok=True)
    (home / "sl.toml").write_text(SELECTIELIJST)
    s = load_settings()
    load_into_db(s, home / "sl.toml")
    bewaar("keys", "init")
    ids = []
    for n in (1, 2):
        files = [PackageInput("messages.json", b'{"n": %d}\n' % n, "application/json"),
                 PackageInput("pages/index.html", HTML, "text/html"),
                 PackageInput(f"docs/nota {n}: versie#1 & bijlage?.pdf", PDF),
                 PackageInput("pages/voorpagina", HTML),
                 PackageInput("lang/" + "v" * 234 + ".txt", b"lang\n")]  # too long flat
        ids.append(build_package(s, source_kind="chat", source_name="minister",
                                 title=f"Berichten minister, deel {n}", category="B20",
                                 files=files).id)
    weg = build_package(s, source_kind="chat", source_name="kort", title="Kort",
                        category="V0", files=[PackageInput("a.txt", b"a\n")]).id
    add_user(s, "test", "anna", "records", "een lang wachtwoord 1")
    return bewaar, ids, weg


def sidecars(root: Path) -> list[Path]:
    return sorted(p for p in root.rglob("*.mdto.xml"))


def tree(root: Path) -> dict[str, str]:
    return {p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def test_export_a_sip_and_confirm_the_transfer(depot: Any, tmp_path: Path) -> None:
    bewaar, ids, _weg = depot
    out = tmp_path / "sip"
    tar = tmp_path / "sip.tar"
    made = bewaar("export", "sip", *ids, "-o", str(out), "--tar", str(tar), "--parent",
                  "NL-HaNA-2.03.01", "--contact", "Anna de Vries <anna@example.nl>",
                  "--json").json()
    assert made["state"] == "exported" and made["packages"] == ids

    # Every sidecar is valid MDTO-XML 1.0.1.
    xsd = etree.XMLSchema(etree.parse(str(XSD)))
    docs = {p: etree.parse(str(p)) for p in sidecars(out)}
    for path, doc in docs.items():
        assert xsd.validate(doc), (path, xsd.error_log)

    # Names: within the character and length rules and unique in the whole SIP.
    names = [p.name for p in out.rglob("*")]
    assert not [n for n in names if FORBIDDEN & set(n) or n.startswith(".")]
    assert all(len(n.encode()) <= 255 for n in names)
    assert len({n.casefold() for n in names}) == len(names)
    assert not list(tmp_path.glob(".tmp*"))

    # One folder per package, its informatieobject sidecar inside, each file's beside it.
    folders = sorted(p for p in out.iterdir() if p.is_dir())
    assert len(folders) == 2 and sorted(p.name for p in out.iterdir() if p.is_file()) == [
        "pakbon.xml"]
    bestanden = [p for p in out.rglob("*") if p.is_file() and not p.name.endswith(".mdto.xml")
                 and p.name != "pakbon.xml"]
    for f in bestanden:
        side = f.with_name(f.name + ".bestand.mdto.xml")
        assert side.is_file(), f
        b = docs[side].getroot().find(f"{M}bestand")
        assert b.findtext(f"{M}naam") == f.name
        assert b.findtext(f"{M}omvang") == str(f.stat().st_size)
        sums = {c.findtext(f"{M}checksumAlgoritme/{M}begripLabel"): c.findtext(
            f"{M}checksumWaarde") for c in b.findall(f"{M}checksum")}
        assert sums == {"SHA-256": hashlib.sha256(f.read_bytes()).hexdigest(),
                        "SHA-512": hashlib.sha512(f.read_bytes()).hexdigest()}
        # each file has one parent: its folder's informatieobject
        parents = b.findall(f"{M}isRepresentatieVan")
        assert len(parents) == 1
        ident = parents[0].findtext(f"{M}verwijzingIdentificatie/{M}identificatieKenmerk")
        assert ident == f.parent.name
    objects = {}
    for folder in folders:
        io = docs[folder / f"{folder.name}.mdto.xml"].getroot().find(f"{M}informatieobject")
        objects[folder.name] = io
        assert [e.findtext(f"{M}verwijzingNaam") for e in io.findall(f"{M}isOnderdeelVan")] == [
            "NL-HaNA-2.03.01"]
        reps = sorted(r.findtext(f"{M}verwijzingNaam") for r in io.findall(f"{M}heeftRepresentatie"))
        assert reps == sorted(p.name for p in folder.iterdir()
                              if not p.name.endswith(".mdto.xml"))

    # PRONOM formats from the files' signatures (an HTML page without its extension too).
    def puid(folder: Path, pattern: str) -> str:
        [f] = [p for p in folder.iterdir() if re.fullmatch(pattern, p.name)]
        side = docs[f.with_name(f.name + ".bestand.mdto.xml")].getroot()
        fmt = side.find(f"{M}bestand/{M}bestandsformaat")
        assert fmt.findtext(f"{M}begripBegrippenlijst/{M}verwijzingNaam") == "PRONOM-register"
        return fmt.findtext(f"{M}begripCode")

    first = out / ids[0]  # the first package: its names were free
    assert puid(first, r"pages_index\.html") == "fmt/471"  # HTML 5
    assert puid(first, r"pages_voorpagina") == "fmt/471"
    assert puid(first, r"docs_nota_1_.*\.pdf") == "fmt/18"  # PDF 1.4
    assert puid(first, r"seal_tagmanifest-sha512\.txt\.p7s") == "fmt/670"  # PKCS #7

    # The seal and time-stamp travel as files; the event says they were checked.
    for folder in folders:
        files = {p.name for p in folder.iterdir()}
        assert {"bag_tagmanifest-sha512.txt", "bag_manifest-sha512.txt",
                "seal_signer-chain.pem", "seal_tsa-chain.pem"} <= {
            re.sub(r"-\d+(?=\.)", "", n) for n in files}
        seal = [n for n in files if n.endswith(".p7s")]
        stamp = [n for n in files if n.endswith(".p7s.tsr")]
        assert len(seal) == 1 and len(stamp) == 1
        events = {e.findtext(f"{M}eventType/{M}begripLabel"): e.findtext(f"{M}eventResultaat")
                  for e in objects[folder.name].findall(f"{M}event")}
        assert {"Bevriezing", "Export", "Validatie Handtekening"} <= set(events)
        assert "geldig" in events["Validatie Handtekening"]
    # the shipped seal verifies over the shipped tag manifest (openssl, not our code)
    import subprocess

    p7s = next(first.glob("*.p7s"))
    tagm = first / "bag_tagmanifest-sha512.txt"
    ok = subprocess.run(["openssl", "cms", "-verify", "-binary", "-inform", "DER", "-in", str(p7s),
                         "-content", str(tagm), "-noverify", "-out", "/dev/null"],
                        capture_output=True, text=True, timeout=60)
    assert ok.returncode == 0, ok.stderr

    # The pakbon: counts, size and hash recounted here.
    pak = etree.parse(str(out / "pakbon.xml")).getroot()
    assert pak.findtext(f"{P}identificatie") == made["id"]
    assert pak.findtext(f"{P}archiefvormer/{P}naam").startswith("Ministerie van Proefzaken")
    assert pak.findtext(f"{P}aantalInformatieobjecten") == "2"
    assert pak.findtext(f"{P}aantalBestanden") == str(len(bestanden))
    assert pak.findtext(f"{P}omvang") == str(sum(f.stat().st_size for f in bestanden))
    assert pak.findtext(f"{P}tijdstipCreatie")
    assert pak.findtext(f"{P}locatieDoelsysteem") == "NL-HaNA-2.03.01"
    assert sorted(e.get("map") for e in pak.iter(f"{P}informatieobject")) == [
        f.name for f in folders]
    content = {k: v for k, v in tree(out).items() if k != "pakbon.xml"}
    listing = "".join(f"{v}  {k}\n" for k, v in sorted(content.items(),
                                                       key=lambda kv: kv[0].encode()))
    hsip = pak.find(f"{P}hashSIP")
    assert hsip.get("algoritme") == "SHA-256"
    assert hsip.text == hashlib.sha256(listing.encode()).hexdigest()

    # The tar holds the same tree.
    with tarfile.open(tar) as tf:
        tf.extractall(tmp_path / "x", filter="data")
    assert tree(tmp_path / "x" / "sip") == tree(out)

    # Listed as exported; the receiving archive confirms; retention says transferred.
    [row] = bewaar("transfer", "list", "--json").json()
    assert (row["id"], row["state"]) == (made["id"], "exported")
    nobody = bewaar("transfer", "confirm", made["id"], "--user", "niemand", check=False)
    assert nobody.returncode == 2 and "niemand" in nobody.stderr
    done = bewaar("transfer", "confirm", made["id"], "--user", "anna", "--json").json()
    assert (done["state"], done["confirmed_by"]) == ("transferred", "anna")
    states = {r["id"]: r["state"] for r in bewaar("retention", "--json").json()}
    assert [states[i] for i in ids] == ["transferred", "transferred"]
    again = bewaar("transfer", "confirm", made["id"], "--user", "anna", check=False)
    assert again.returncode == 2 and "confirmed already" in again.stderr
    hist = bewaar("transfer", "history", ids[0], "--json").json()
    assert [e["type"] for e in hist][-1] == "Overbrenging"
    assert "Bevriezing" in [e["type"] for e in hist]
    log = [(r["action"], r["outcome"]) for r in
           bewaar("audit", "--json", "--action", "transfer.").json()]
    assert ("transfer.export", "ok") in log and ("transfer.confirm", "ok") in log
    assert ("transfer.confirm", "failed") in log
    # a transferred package does not leave twice
    twice = bewaar("export", "sip", ids[0], "-o", str(tmp_path / "sip2"), check=False)
    assert twice.returncode == 2 and "transferred" in twice.stderr
    assert not (tmp_path / "sip2").exists()


def test_bad_input_writes_nothing(depot: Any, tmp_path: Path) -> None:
    bewaar, ids, weg = depot
    out = tmp_path / "sip"
    unknown = bewaar("export", "sip", "geen-pakket", "-o", str(out), check=False)
    assert unknown.returncode == 2 and "geen-pakket" in unknown.stderr
    valued_v = bewaar("export", "sip", weg, "-o", str(out), check=False)
    assert valued_v.returncode == 2 and "V" in valued_v.stderr
    out.mkdir()
    (out / "iets.txt").write_text("al hier")
    busy = bewaar("export", "sip", ids[0], "-o", str(out), check=False)
    assert busy.returncode == 2 and "not an empty folder" in busy.stderr
    assert [p.name for p in out.iterdir()] == ["iets.txt"]
    (tmp_path / "bestaat.tar").write_bytes(b"x")
    tar_there = bewaar("export", "sip", ids[0], "-o", str(tmp_path / "nieuw"), "--tar",
                       str(tmp_path / "bestaat.tar"), check=False)
    assert tar_there.returncode == 2 and not (tmp_path / "nieuw").exists()
    # a destroyed package (as `destroy execute` leaves its retention row) does not leave
    with session_scope(load_settings()) as db:
        db.get(Retention, ids[1]).disposition = "destroyed"
    gone = bewaar("export", "sip", ids[0], ids[1], "-o", str(tmp_path / "nieuw"), check=False)
    assert gone.returncode == 2 and "destroyed" in gone.stderr
    twice = bewaar("export", "sip", ids[0], ids[0], "-o", str(tmp_path / "nieuw"), check=False)
    assert twice.returncode == 2 and "twice" in twice.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bestaat.tar", "bewaar-home", "sip"]
    log = [r["outcome"] for r in bewaar("audit", "--json", "--action", "transfer.export").json()]
    assert log == ["failed"] * 6
    assert bewaar("transfer", "list", "--json").json() == []


def test_a_package_whose_seal_does_not_verify_is_refused(depot: Any, tmp_path: Path) -> None:
    bewaar, ids, _weg = depot
    s = load_settings()
    sig = s.packages_dir / ids[1] / "seal" / "tagmanifest-sha512.txt.p7s"
    data = bytearray(sig.read_bytes())
    data[-5] ^= 0xFF  # one byte of the signature value
    sig.write_bytes(bytes(data))
    out = tmp_path / "sip"
    refused = bewaar("export", "sip", *ids, "-o", str(out), "--tar", str(tmp_path / "s.tar"),
                     "--json", check=False)
    assert refused.returncode == 1
    body = refused.json()
    assert body["written"] is False and any(ids[1] in f["path"] for f in body["findings"])
    assert not out.exists() and not (tmp_path / "s.tar").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".tmp")]
    # given an empty folder, it stays empty
    out.mkdir()
    again = bewaar("export", "sip", ids[1], "-o", str(out), check=False)
    assert again.returncode == 1 and list(out.iterdir()) == []
