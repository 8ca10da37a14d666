"""Retention and holds as a records manager uses them: `bewaar retention`, `bewaar hold …`,
a site's category change re-valuing its packages, and the end date in each package's MDTO."""

from __future__ import annotations

import io
import json
from datetime import UTC, date, datetime
from pathlib import Path

import isodate
import pytest
from lxml import etree
from sqlalchemy import select
from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from archive.db import session_scope
from archive.models import AuditEvent, CrawlRun, Site, WarcFile
from archive.package.selectielijst import load_into_db
from archive.settings import load_settings
from tests.test_service_web import server  # noqa: F401 - the fixture

XSD = Path(__file__).resolve().parents[1] / "archive" / "package" / "schema" / "MDTO-XML1.0.1.xsd"
NS = {"m": "https://www.nationaalarchief.nl/mdto"}
SELECTIELIJST = """\
name = "Selectielijst Ministerie van Proefzaken 2026"

[[categorie]]
code = "V0"
naam = "Tijdelijke campagnesites"
waardering = "V"
bewaartermijn = "P0D"
trigger = "Vastlegging website"

[[categorie]]
code = "V10"
naam = "Servicewebsites"
waardering = "V"
bewaartermijn = "P10Y"
trigger = "Vastlegging website"

[[categorie]]
code = "B"
naam = "Websites over beleid"
waardering = "B"
trigger = "Vastlegging website"

[[categorie]]
code = "B20"
naam = "Websites over beleid, over te brengen"
waardering = "B"
bewaartermijn = "P20Y"
trigger = "Vastlegging website"
"""
FINISHED = datetime(2025, 5, 1, 10, tzinfo=UTC)  # the crawl's end: the trigger date


def make_run(site_name: str, category: str | None) -> int:
    """A finished crawl run of a new site, as the crawler leaves it (one WARC, CDXJ, log)."""
    s = load_settings()
    s.warc_dir.mkdir(parents=True, exist_ok=True)
    s.index_dir.mkdir(parents=True, exist_ok=True)
    with session_scope(s) as db:
        site = Site(name=site_name, seeds=[f"https://{site_name}.example.nl/"],
                    category=category)
        db.add(site)
        db.flush()
        run = CrawlRun(site_id=site.id, status="finished", seeds=site.seeds, pages=1,
                       started_at=datetime(2025, 5, 1, 9, tzinfo=UTC), finished_at=FINISHED)
        db.add(run)
        db.flush()
        name = f"BEWAAR-20250501090000000-{run.id:05d}-host.warc.gz"
        path = s.warc_dir / name
        with open(path, "wb") as fh:
            w = WARCWriter(fh, gzip=True)
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")],
                                       protocol="HTTP/1.1")
            w.write_record(w.create_warc_record(
                f"https://{site_name}.example.nl/", "response",
                payload=io.BytesIO(b"<html><body>hallo</body></html>"), http_headers=headers))
        cdxj = s.index_dir / f"{name}.cdxj"
        cdxj.write_text(f'nl,example,{site_name})/ 20250501090000 {{"url": "x"}}\n')
        db.add(WarcFile(run_id=run.id, filename=name, path=str(path), size=path.stat().st_size,
                        sha256="0" * 64, records=1, cdxj_path=str(cdxj)))
        run_id = run.id
    run_dir = s.runs_dir / str(run_id)
    run_dir.mkdir(parents=True)
    (run_dir / "crawl.log").write_text(f"GET https://{site_name}.example.nl/ 200\n")
    return run_id


def end(duration: str) -> str:
    """The end date computed here, with isodate, not the product's arithmetic."""
    return (FINISHED.date() + isodate.parse_duration(duration)).isoformat()


@pytest.fixture
def depot(bewaar, home: Path):  # type: ignore[no-untyped-def]
    """Four sites, one per category, each with one sealed package."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "sl.toml").write_text(SELECTIELIJST)
    load_into_db(load_settings(), home / "sl.toml")
    bewaar("keys", "init", "--json")
    ids = {}
    for site, cat in (("weg", "V0"), ("tien", "V10"), ("blijf", "B"), ("over", "B20")):
        run_id = make_run(site, cat)
        ids[site] = bewaar("seal", str(run_id), "--json").json()["id"]
    return bewaar, ids


def listing(bewaar, *args: str) -> dict[str, dict]:  # type: ignore[no-untyped-def,type-arg]
    return {r["source"]: r for r in bewaar("retention", "--json", *args).json()}


def audit_rows(action: str) -> list[AuditEvent]:
    with session_scope(load_settings()) as db:
        rows = list(db.scalars(select(AuditEvent).where(AuditEvent.action == action)
                               .order_by(AuditEvent.id)))
        db.expunge_all()
    return rows


def test_states_and_end_dates(depot) -> None:  # type: ignore[no-untyped-def]
    bewaar, ids = depot
    rows = listing(bewaar)
    assert {s: (r["id"], r["category"], r["waardering"], r["end_date"], r["state"])
            for s, r in rows.items()} == {
        "weg": (ids["weg"], "V0", "V", end("P0D"), "due"),
        "tien": (ids["tien"], "V10", "V", end("P10Y"), "keep"),
        "blijf": (ids["blijf"], "B", "B", None, "keep"),
        "over": (ids["over"], "B20", "B", None, "keep"),
    }
    assert end("P10Y") == "2035-05-01"
    assert rows["over"]["transfer_date"] == end("P20Y")
    # the day before the ten years end it is kept; on the day it is due
    assert listing(bewaar, "--as-of", "2035-04-30")["tien"]["state"] == "keep"
    later = listing(bewaar, "--as-of", "2035-05-01")
    assert later["tien"]["state"] == "due" and later["over"]["state"] == "keep"
    assert listing(bewaar, "--as-of", end("P20Y"))["over"]["state"] == "transfer-due"
    assert listing(bewaar, "--as-of", "2100-01-01")["blijf"]["state"] == "keep"
    due = bewaar("retention", "--json", "--state", "due").json()
    assert [r["id"] for r in due] == [ids["weg"]]
    # the list for people names every package
    text = bewaar("retention").stdout
    assert all(i in text for i in ids.values())


def test_a_hold_stops_what_is_due_and_its_release_brings_it_back(depot) -> None:  # type: ignore[no-untyped-def]
    from bewaar.services import records

    bewaar, ids = depot
    h = bewaar("hold", "add", "--site", "weg", "--reason", "Woo-verzoek 2026-0142",
               "--json").json()
    assert h["active"] and h["scope"] == "site" and h["target"] == "weg"
    assert listing(bewaar)["weg"]["state"] == "held"
    # a hold on one package holds it whatever its state
    p = bewaar("hold", "add", "--package", ids["tien"], "--reason", "bezwaar",
               "--until", "2040-01-01", "--json").json()
    assert listing(bewaar, "--as-of", "2036-01-01")["tien"]["state"] == "held"
    assert listing(bewaar, "--as-of", "2040-01-02")["tien"]["state"] == "due"  # lapsed
    with session_scope(load_settings()) as db:
        assert records.held(db, ids["weg"]) and not records.held(db, ids["blijf"])
        assert records.due_for_destruction(db) == []
        assert records.due_for_destruction(db, date(2041, 1, 1)) == [ids["tien"]]
    listed = bewaar("hold", "list", "--json").json()
    assert [x["id"] for x in listed] == [p["id"], h["id"]]
    out = bewaar("hold", "release", str(h["id"]), "--json").json()
    assert out["released_at"] and not out["active"]
    assert listing(bewaar)["weg"]["state"] == "due"
    with session_scope(load_settings()) as db:
        assert records.due_for_destruction(db) == [ids["weg"]]
        assert not records.held(db, ids["weg"])
    assert [(r.target, r.outcome) for r in audit_rows("hold.add")] == [
        (f"hold:{h['id']}", "ok"), (f"hold:{p['id']}", "ok")]
    assert [(r.target, r.actor.startswith("cli")) for r in audit_rows("hold.release")] == [
        (f"hold:{h['id']}", True)]


def test_a_category_change_revalues_what_was_archived(depot) -> None:  # type: ignore[no-untyped-def]
    bewaar, ids = depot
    bewaar("site", "edit", "blijf", "--category", "V10", "--json")
    row = listing(bewaar)["blijf"]
    assert (row["category"], row["waardering"], row["end_date"], row["state"]) == (
        "V10", "V", end("P10Y"), "keep")
    [audit] = audit_rows("retention.revalue")
    assert audit.target == "site:blijf" and audit.outcome == "ok"
    assert audit.detail["packages"] == [{"package": ids["blijf"], "category": "V10",
                                         "waardering": "V", "end_date": end("P10Y")}]
    # a second face, the same service: a records manager sets the category again
    from bewaar.services.sites import set_category

    set_category(load_settings(), "tester", "tien", "V0")
    assert listing(bewaar)["tien"]["state"] == "due"
    assert [r.target for r in audit_rows("retention.revalue")] == ["site:blijf", "site:tien"]


def test_bad_input_exits_2_and_changes_nothing(depot) -> None:  # type: ignore[no-untyped-def]
    bewaar, ids = depot
    before = bewaar("retention", "--json").json()
    cases = [
        (("hold", "add", "--site", "onbekend", "--reason", "x"), "no site named 'onbekend'"),
        (("hold", "add", "--source", "onbekend", "--reason", "x"), "no chat source"),
        (("hold", "add", "--package", "nope", "--reason", "x"), "no package 'nope'"),
        (("hold", "add", "--site", "weg", "--reason", "x", "--until", "31-12-2030"),
         "use a date like"),
        (("hold", "add", "--site", "weg", "--reason", "x", "--until", "2001-01-01"),
         "has passed"),
        (("hold", "add", "--site", "weg", "--reason", "  "), "give the reason"),
        (("hold", "add", "--site", "weg", "--package", ids["weg"], "--reason", "x"),
         "exactly one"),
        (("retention", "--as-of", "morgen"), "use a date like"),
        (("retention", "--state", "weg"), "unknown state"),
        (("hold", "release", "99"), "no hold 99"),
    ]
    for args, message in cases:
        res = bewaar(*args, check=False)
        assert res.returncode == 2, (args, res.stdout, res.stderr)
        assert message in " ".join(res.stderr.split()), (args, res.stderr)
    assert bewaar("hold", "list", "--json").json() == []
    h = bewaar("hold", "add", "--site", "weg", "--reason", "x", "--json").json()
    bewaar("hold", "release", str(h["id"]))
    twice = bewaar("hold", "release", str(h["id"]), check=False)
    assert twice.returncode == 2 and "released already" in twice.stderr
    assert bewaar("retention", "--json").json() == before
    assert [r.outcome for r in audit_rows("hold.release")] == ["failed", "ok", "failed"]


def test_the_mdto_of_a_new_package_holds_its_end_date(depot, home: Path) -> None:  # type: ignore[no-untyped-def]
    _, ids = depot
    schema = etree.XMLSchema(etree.parse(str(XSD)))
    packages = load_settings().packages_dir
    dates = {}
    for site, pid in ids.items():
        doc = etree.parse(str(packages / pid / "bag" / "data" / f"{pid}.mdto.xml"))
        schema.assertValid(doc)
        dates[site] = (doc.findtext(".//m:waardering/m:begripCode", namespaces=NS),
                       doc.findtext(".//m:bewaartermijn/m:termijnStartdatumLooptijd",
                                    namespaces=NS),
                       doc.findtext(".//m:bewaartermijn/m:termijnEinddatum", namespaces=NS))
    assert dates == {"weg": ("V", "2025-05-01", end("P0D")),
                     "tien": ("V", "2025-05-01", end("P10Y")),
                     "blijf": ("B", None, None), "over": ("B", None, None)}
    assert json.loads(json.dumps(dates))  # plain values


def test_the_retention_page_and_api(bewaar, server) -> None:  # type: ignore[no-untyped-def]  # noqa: F811
    from lxml import html

    from tests.test_web_access_pages import cells, csrf, logged_in, sql

    bewaar("demo", "--json")
    [(pid, category)] = sql(server, "SELECT id, category FROM packages")
    rik = logged_in(server, "rik")
    page = rik.get("/retention")
    assert page.status_code == 200
    token = csrf(page.text)
    bad = rik.post("/retention/holds", data={"csrf": token, "scope": "site",
                                             "target": "onbekend", "reason": "Woo"})
    assert bad.status_code == 400 and "onbekend" in bad.text
    assert sql(server, "SELECT count(*) FROM holds")[0][0] == 0
    done = rik.post("/retention/holds", data={"csrf": token, "scope": "site", "target": "demo",
                                              "reason": "Woo-verzoek <b>1</b>", "until": ""})
    assert done.status_code == 303
    doc = html.fromstring(rik.get("/retention").text)
    [row] = cells(doc, "//table[@id='packages']/tbody/tr")
    assert row[0] == pid and row[2] == (category or "") and row[5] == "vastgehouden"
    [hold] = cells(doc, "//table[@id='holds']/tbody/tr")
    assert hold[1] == "website demo" and hold[2] == "Woo-verzoek <b>1</b>"  # escaped, as text
    aud = server.as_("aud")
    [h] = aud.get("/api/holds").json()
    assert h["target"] == "demo" and h["active"]
    assert aud.get("/api/retention", params={"state": "held"}).json()[0]["id"] == pid
    assert aud.post("/api/holds", json={"scope": "site", "target": "demo",
                                        "reason": "x"}).status_code == 403
    assert logged_in(server, "wendy").get("/retention").status_code == 403
    assert server.as_("wendy").get("/api/retention").status_code == 403
    assert rik.post(f"/retention/holds/{h['id']}/release",
                    data={"csrf": token}).status_code == 303
    assert aud.get("/api/retention").json()[0]["state"] != "held"
    assert sql(server, "SELECT action, outcome FROM audit_log WHERE action LIKE 'hold.%' "
                       "ORDER BY id") == [("hold.add", "failed"), ("hold.add", "ok"),
                                          ("hold.release", "ok")]
