"""A records manager answers a Woo request: she crawls the ministry's site and imports a chat,
gathers what the request concerns with one query (the packages are held), decides (the page
openbaar, the conversation deels with a name redacted) and exports. The redacted name is in no
exported PDF (pdftotext), its ground is; the DiWoo metadata validates against the XSD (lxml);
the package verifies (bagit-python and `bewaar verify`). Bad input exits 2 and writes
nothing."""

from __future__ import annotations

import csv
import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from tests.sites.dutch import DutchSite
from tests.test_postgres import pg_url  # noqa: F401 - the fixture
from tests.test_service_web import server  # noqa: F401 - the fixture

ROOT = Path(__file__).resolve().parents[1]
FIXTURES = Path(__file__).parent / "chat_exports"
BAGIT = str(Path(sys.executable).with_name("bagit.py"))
XSD = ROOT / "woo" / "schema" / "diwoo-metadata.xsd"
MDTO_XSD = ROOT / "archive" / "package" / "schema" / "MDTO-XML1.0.1.xsd"
PASSWORD = {"BEWAAR_NEW_PASSWORD": "een lang en sterk wachtwoord 42"}
NAME = "Jan de Vries"
MINISTRY = "https://identifier.overheid.nl/tooi/id/ministerie/mnre1034"  # BZK, in the XSD


def diwoo_schema() -> etree.XMLSchema:
    """The shipped XSD; its import of MDTO from the Nationaal Archief answered locally."""
    class Local(etree.Resolver):
        def resolve(self, url: str, pubid: str, context: Any) -> Any:
            if url.endswith("MDTO-XML1.0.1.xsd"):
                return self.resolve_filename(str(MDTO_XSD), context)
            return None

    parser = etree.XMLParser(no_network=True)
    parser.resolvers.add(Local())
    return etree.XMLSchema(etree.parse(str(XSD), parser))


def pdftotext(path: Path) -> str:
    out = subprocess.run(["pdftotext", "-enc", "UTF-8", str(path), "-"],
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return out.stdout


def tree(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


@pytest.fixture
def archive(bewaar: Any) -> Any:
    """A crawled site and an imported WhatsApp chat, both indexed; users anna (records)
    and dirk (auditor)."""
    return fill(bewaar)


@pytest.fixture
def pg_archive(bewaar: Any, pg_url: str) -> Any:  # noqa: F811
    """The same, its database on PostgreSQL (search: its ``dutch`` full-text search)."""
    bewaar.env["BEWAAR_DATABASE_URL"] = pg_url
    return fill(bewaar)


def fill(bewaar: Any) -> Any:
    bewaar("selectielijst", "load", str(ROOT / "bewaar/demo/selectielijst.toml"))
    bewaar("keys", "init")
    bewaar("user", "add", "anna", "--role", "records", env=PASSWORD)
    bewaar("user", "add", "dirk", "--role", "auditor", env=PASSWORD)
    with DutchSite() as site:
        bewaar("site", "add", "proefzaken", "--seed", site.url)
        crawl = bewaar("crawl", "--site", "proefzaken", "--json").json()
    assert crawl["status"] == "finished"
    bewaar("chat", "add", "whatsapp", "minister", "--category", "CHAT-1", "--locale", "nl")
    bewaar("chat", "import", "minister", str(FIXTURES / "whatsapp_android_nl.txt"))
    return bewaar


def test_a_woo_request_from_query_to_sealed_export(archive: Any, tmp_path: Path) -> None:
    story(archive, tmp_path)


@pytest.mark.postgres
def test_the_same_on_postgresql(pg_archive: Any, tmp_path: Path) -> None:
    story(pg_archive, tmp_path)


def story(bewaar: Any, tmp_path: Path) -> None:
    found = bewaar("search", "begroting", "--all", "--json").json()
    assert {h["kind"] for h in found["hits"]} == {"web", "chat"}

    req = bewaar("woo", "new", "Verzoek over de begroting", "--query", "begroting",
                 "--user", "anna", "--json").json()
    docs = {d["kind"]: d for d in req["documents"]}
    assert sorted(docs) == ["chat", "web"] and req["undecided"] == [1, 2]
    assert docs["web"]["url"].endswith("/nieuws/vergaderingen.html")
    assert docs["chat"]["source"] == "minister" and docs["chat"]["room_id"]
    n, web, chat = str(req["id"]), str(docs["web"]["number"]), str(docs["chat"]["number"])

    # the packages the documents come from are held, the request the reason
    holds = bewaar("hold", "list", "--json").json()
    held = {h["target"] for h in holds if h["active"] and f"Woo-verzoek {n}" in h["reason"]}
    assert {docs["web"]["package_id"], docs["chat"]["package_id"]} <= held
    states = {r["id"]: r["state"] for r in bewaar("retention", "--json").json()}
    assert states[docs["chat"]["package_id"]] == "held"

    # the conversation is the transcript: the name is in it, as sender and in a line
    text = bewaar("woo", "show", n, "--doc", chat, "--json").json()["text"]
    assert NAME in text and "begroting" in text

    # bad input: exit 2, a clear message, nothing changed
    bad = bewaar("woo", "decide", n, chat, "--deels", "--ground", "5.1.2z", "--user", "anna",
                 check=False)
    assert bad.returncode == 2 and "no ground of the Woo" in bad.stderr
    bad = bewaar("woo", "redact", n, "--doc", chat, "--span", f"10:{len(text) + 1}",
                 "--ground", "5.1.2e", "--user", "anna", check=False)
    assert bad.returncode == 2 and "outside the document" in bad.stderr
    bad = bewaar("woo", "redact", n, "--text", "zeppelinpiloot", "--ground", "5.1.2e",
                 "--user", "anna", check=False)
    assert bad.returncode == 2 and "none of the request's documents" in bad.stderr
    bad = bewaar("woo", "decide", n, web, "--openbaar", "--user", "dirk", check=False)
    assert bad.returncode == 2 and "role 'auditor'" in bad.stderr
    bad = bewaar("woo", "new", "Kapot", "--query", '"begroting', "--user", "anna",
                 check=False)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr
    undecided = tmp_path / "te-vroeg"
    bad = bewaar("woo", "export", n, "-o", str(undecided), "--user", "anna", check=False)
    assert bad.returncode == 2 and "undecided documents: 1, 2" in bad.stderr
    assert not undecided.exists()
    shown = bewaar("woo", "show", n, "--json").json()
    assert shown["redactions"] == [] and all(d["decision"] is None
                                             for d in shown["documents"])

    # decide: the page openbaar, the conversation deels with the name redacted
    bewaar("woo", "decide", n, web, "--openbaar", "--user", "anna")
    red = bewaar("woo", "redact", n, "--text", NAME, "--ground", "5.1.2e", "--user", "anna",
                 "--json").json()
    assert red["documents"] == [int(chat)] and red["occurrences"] >= 2
    start = text.index("Akkoord")
    bewaar("woo", "redact", n, "--doc", chat, "--span", f"{start}:{start + 7}",
           "--ground", "5.2", "--user", "anna")
    bewaar("woo", "decide", n, chat, "--deels", "--ground", "5.1.2e", "--ground", "5.2",
           "--user", "anna")

    # a folder that is not empty is refused and left as it was
    busy = tmp_path / "bezet"
    busy.mkdir()
    (busy / "notitie.txt").write_text("van iemand anders")
    bad = bewaar("woo", "export", n, "-o", str(busy), "--user", "anna", check=False)
    assert bad.returncode == 2 and "not empty" in bad.stderr
    assert tree(busy) == {"notitie.txt": hashlib.sha256(b"van iemand anders").hexdigest()}

    out_dir = tmp_path / "woo-export"
    done = bewaar("woo", "export", n, "-o", str(out_dir), "--user", "anna", "--json",
                  env={"BEWAAR_ORGANISATION_ID": MINISTRY}).json()
    assert done["openbaar"] == 1 and done["deels"] == 1 and done["niet"] == 0
    pdfs = sorted((out_dir / "documenten").glob("*.pdf"))
    assert len(pdfs) == 2
    texts = {p.stem: pdftotext(p) for p in pdfs}
    for stem, body in texts.items():
        assert "vries" not in body.lower(), stem  # neither the name nor a part of it
        assert "begroting" in body
    chat_pdf = texts[f"WOO-{n}-{int(chat):03d}"]
    assert "[5.1.2e]" in chat_pdf and "[5.2]" in chat_pdf and "Akkoord" not in chat_pdf
    assert "[5.1.2e]" not in texts[f"WOO-{n}-{int(web):03d}"]
    for p in pdfs:  # nor anywhere in the file's bytes (metadata, uncompressed parts)
        assert b"Vries" not in p.read_bytes()

    # the DiWoo metadata: one diwoo:Document per published document, valid against the XSD
    schema = diwoo_schema()
    xmls = sorted((out_dir / "diwoo").glob("*.xml"))
    assert [x.stem for x in xmls] == [p.stem for p in pdfs]
    ns = {"diwoo": "https://standaarden.overheid.nl/diwoo/metadata/"}
    for x in xmls:
        doc = etree.parse(str(x))
        assert schema.validate(doc), schema.error_log
        assert doc.getroot().tag == f"{{{ns['diwoo']}}}Document"
        assert doc.findtext(".//diwoo:publisher", namespaces=ns).startswith("Ministerie van")
        assert doc.find(".//diwoo:publisher", ns).get("resource") == MINISTRY
        assert doc.find(".//diwoo:informatiecategorie", ns).get("resource").endswith(
            "c_3baef532")
        assert doc.findtext(".//diwoo:soortHandeling", namespaces=ns) == "vaststelling"
        assert "Vries" not in x.read_text(encoding="utf-8")

    # the inventory lists both with their decision and grounds
    with (out_dir / "inventaris.csv").open(newline="", encoding="utf-8") as fh:
        inv = {r["document"]: r for r in csv.DictReader(fh)}
    assert inv[f"WOO-{n}-{int(web):03d}"]["besluit"] == "openbaar"
    row = inv[f"WOO-{n}-{int(chat):03d}"]
    assert row["besluit"] == "deels openbaar" and row["gronden"] == "5.1.2e 5.2"
    assert row["bron"] == "minister" and row["bestand"].endswith(".pdf")

    # sealed: the same files in a package that bagit-python and `bewaar verify` accept
    package = Path(done["package_path"])
    check = subprocess.run([sys.executable, BAGIT, "--validate", str(package / "bag")],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    assert bewaar("verify", str(package), check=False).returncode == 0
    data = package / "bag" / "data"
    sealed = {k: v for k, v in tree(data).items() if not k.endswith(".mdto.xml")}
    assert sealed == tree(out_dir)
    states = {r["id"]: r for r in bewaar("retention", "--json").json()}
    assert states[done["package"]]["waardering"] == "B"

    # every decision and redaction is in the audit log with its ground, never the name
    log = bewaar("audit", "--json", "--action", "woo.").json()
    decided = [r for r in log if r["action"] == "woo.decide" and r["outcome"] == "ok"]
    assert {tuple(r["detail"]["grounds"]) for r in decided} == {(), ("5.1.2e", "5.2")}
    redacted = [r for r in log if r["action"] == "woo.redact" and r["outcome"] == "ok"]
    assert {r["detail"]["ground"] for r in redacted} == {"5.1.2e", "5.2"}
    assert NAME not in str(log)
    assert ("woo.export", "failed") in {(r["action"], r["outcome"]) for r in log}


def test_withheld_documents_are_listed_not_published(archive: Any, tmp_path: Path) -> None:
    bewaar = archive
    req = bewaar("woo", "new", "Verzoek over de stuurgroep", "--query", "stuurgroep OR ok",
                 "--source", "minister", "--site", "proefzaken", "--user", "anna",
                 "--json").json()
    n = str(req["id"])
    assert len(req["documents"]) == 2
    for d in req["documents"]:
        bewaar("woo", "decide", n, str(d["number"]), "--niet", "--ground", "5.1.2i",
               "--user", "anna")
    # one more document, by its search hit: the private note
    [hit] = bewaar("search", "zeppelinhaven", "--all", "--json").json()["hits"]
    added = bewaar("woo", "add", n, str(hit["id"]), "--user", "anna", "--json").json()
    assert added["document"] == 3
    again = bewaar("woo", "add", n, str(hit["id"]), "--user", "anna", check=False)
    assert again.returncode == 2 and "already" in again.stderr
    bewaar("woo", "decide", n, "3", "--niet", "--ground", "5.1.2d", "--user", "anna")
    # a document dropped is not in the export at all
    drop = [d for d in req["documents"] if d["kind"] == "web"][0]
    bewaar("woo", "drop", n, str(drop["number"]), "--user", "anna")
    done = bewaar("woo", "export", n, "-o", str(tmp_path / "uit"), "--user", "anna",
                  "--json").json()
    assert done["niet"] == 2 and done["documents"] == 2
    assert not list((tmp_path / "uit").glob("documenten/*.pdf"))
    assert not list((tmp_path / "uit").glob("diwoo/*"))
    with (tmp_path / "uit" / "inventaris.csv").open(newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert sorted((r["bron"], r["besluit"], r["gronden"], r["bestand"]) for r in rows) == [
        ("minister", "niet openbaar", "5.1.2i", ""),
        ("proefzaken", "niet openbaar", "5.1.2d", "")]
    assert "Interne notitie" in {r["titel"] for r in rows}


def test_the_woo_pages(bewaar: Any, server: Any) -> None:  # noqa: F811
    """The records manager does the same in the browser: a request from the form, a phrase
    redacted, each document decided, the export sealed on the server; other roles get 403."""
    from lxml import html

    from tests.test_web_access_pages import cells, csrf, logged_in, sql

    bewaar("demo", "--json")
    bewaar("chat", "add", "whatsapp", "minister", "--category", "CHAT-1")
    bewaar("chat", "import", "minister", str(FIXTURES / "whatsapp_android_nl.txt"))
    rik = logged_in(server, "rik")
    page = rik.get("/woo")
    assert page.status_code == 200 and "Nog geen Woo-verzoeken." in page.text
    token = csrf(page.text)
    bad = rik.post("/woo", data={"csrf": token, "title": "Kapot", "query": '"begroting'})
    assert bad.status_code == 400 and sql(server, "SELECT count(*) FROM woo_requests") == [(0,)]
    made = rik.post("/woo", data={"csrf": token, "title": "Verzoek <b>begroting</b>",
                                  "query": "begroting", "from": "", "to": ""})
    assert made.status_code == 303 and made.headers["location"].startswith("/woo/1")
    doc = html.fromstring(rik.get("/woo/1").text)
    assert "Verzoek <b>begroting</b>" in doc.findtext(".//h1")  # escaped, as text
    rows = cells(doc, "//table[@id='documents']/tbody/tr")
    kinds = {r[0]: r[1] for r in rows}
    assert "chatgesprek" in kinds.values()
    early = rik.post("/woo/1/export", data={"csrf": token})
    assert early.status_code == 400 and "documenten zonder besluit" in early.text
    assert rik.post("/woo/1/redact", data={"csrf": token, "phrase": NAME,
                                           "ground": "5.1.2e"}).status_code == 303
    for number, kind in kinds.items():
        chat = kind == "chatgesprek"
        r = rik.post("/woo/1/decide", data={
            "csrf": token, "document": number, "decision": "deels" if chat else "openbaar",
            "grounds": "5.1.2e" if chat else ""})
        assert r.status_code == 303, r.text
    done = rik.post("/woo/1/export", data={"csrf": token})
    assert done.status_code == 303 and "woo-exports" in done.headers["location"]
    [folder] = (server.home / "woo-exports").iterdir()
    pdfs = sorted(folder.glob("documenten/*.pdf"))
    assert len(pdfs) == len(kinds)
    assert all("vries" not in pdftotext(p).lower() for p in pdfs)
    assert any("[5.1.2e]" in pdftotext(p) for p in pdfs)
    assert sql(server, "SELECT DISTINCT actor FROM audit_log WHERE action LIKE 'woo.%'") == [
        ("rik",)]
    rik.close()
    for name in ("aud", "wendy"):
        with server.as_(name) as other:
            assert other.get("/woo").status_code == 403
            assert other.get("/api/woo/1").status_code == 403
    with server.as_("rik") as api:
        assert api.get("/api/woo/1").json()["package_id"]


def test_a_selection_is_located_at_its_own_place() -> None:
    """A passage selected in the browser is found where it was selected: at its offsets when
    the text there is the selection, else by its occurrence; a guess is refused."""
    from woo.redact import RedactionError, locate

    text = "ok\nJan: ok 🙂 ok\nok"
    assert locate(text, "ok", 13) == (13, 15)  # the offsets fit: that place
    assert text[13:15] == "ok"
    assert locate(text, "ok", 99, 2) == (13, 15)  # offsets off (counted otherwise): the 3rd
    assert locate(text, "Jan", None) == (3, 6)  # once only: there
    with pytest.raises(RedactionError, match="occurs 4 times"):
        locate(text, "ok", None)
    with pytest.raises(RedactionError, match="not in the document"):
        locate(text, "niet", 0)
    with pytest.raises(RedactionError, match="select the text"):
        locate(text, "  ", 0)
