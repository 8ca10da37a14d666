"""Records managers, auditors and web teams at work on the access, fixity and harvest pages of a
real `bewaar serve` on 127.0.0.1, through the forms as a browser sends them (a logged-in session
and its CSRF token). Results are checked outside the web app: the audit log and the tables in
the database (SQL), the ACL file pywb reads, the WARC files on disk, the SVG parsed with lxml."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest
from lxml import etree, html
from sqlalchemy import text

from archive.db import open_db
from archive.settings import load_settings
from tests.sites import NormalSite
from tests.test_service_web import PASSWORD, Server, server  # noqa: F401 - the fixture

SVG = "{http://www.w3.org/2000/svg}"


def axe_finds_nothing(srv: Server, name: str, *paths: str) -> None:
    """The filled pages in Chromium: no serious or critical axe-core violation (skipped
    without Chromium, as tests/test_web_pages.py does)."""
    import shutil

    from tests.test_web_pages import ARGS, CHROMIUM, serious

    if shutil.which(CHROMIUM) is None:
        return
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=60_000)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(srv.url + "/login")
            page.fill("#login-name", name)
            page.fill("#login-password", PASSWORD)
            page.click("#login button[type=submit]")
            page.wait_for_url(srv.url + "/")
            found = {}
            for path in paths:
                assert page.goto(srv.url + path).status == 200, path
                found[path] = serious(page)
            assert found == dict.fromkeys(paths, [])
        finally:
            browser.close()


def logged_in(srv: Server, name: str) -> httpx.Client:
    browser = httpx.Client(base_url=srv.url, timeout=120)
    r = browser.post("/login", data={"name": name, "password": PASSWORD})
    assert r.status_code == 303 and browser.cookies.get("bewaar_session"), r.text
    return browser


def csrf(page: str) -> str:
    found = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert found, "the page has no form with the CSRF token"
    return found[1]


def sql(srv: Server, query: str, **params: Any) -> list[Any]:
    with open_db(load_settings(home=srv.home))() as db:
        return list(db.execute(text(query), params))


def cells(doc: Any, xpath: str) -> list[list[str]]:
    return [[" ".join(c.text_content().split()) for c in row.xpath("./th|./td")]
            for row in doc.xpath(xpath)]


def test_records_manager_excludes_a_prefix_and_sets_an_embargo(bewaar: Any,
                                                               server: Server) -> None:  # noqa: F811
    bewaar("demo", "--json")
    seed = sql(server, "SELECT seeds FROM sites WHERE name = 'demo'")[0][0]
    prefix = re.findall(r"https?://[^\"']+", seed)[0] + "nieuws/"
    until = date.today() + timedelta(days=400)
    rik = logged_in(server, "rik")
    page = rik.get("/access")
    assert page.status_code == 200
    token = csrf(page.text)

    # a bad prefix is refused beside its field, the input kept, nothing stored
    bad = rik.post("/access/exclude", data={"csrf": token, "url_prefix": "ftp://x.nl/",
                                            "until": ""})
    assert bad.status_code == 400
    doc = html.fromstring(bad.text)
    assert doc.xpath("//input[@id='exclude-prefix']/@aria-invalid") == ["true"]
    shown = doc.xpath("//*[@id='exclude-prefix-error']")[0].text_content()
    assert "geen http(s)-URL-voorvoegsel: 'ftp://x.nl/'" in shown  # the Dutch page says it in Dutch
    assert sql(server, "SELECT count(*) FROM access_rules")[0][0] == 0

    done = rik.post("/access/exclude", data={"csrf": token, "url_prefix": prefix,
                                             "until": until.isoformat()})
    assert done.status_code == 303
    assert rik.post("/access/embargo", data={"csrf": token, "site": "demo",
                                             "days": "dertig"}).status_code == 400
    assert rik.post("/access/embargo", data={"csrf": token, "site": "demo",
                                             "days": "30"}).status_code == 303

    refused = logged_in(server, "wendy").get("/access")  # not in the history
    assert refused.status_code == 403
    assert "GET /access vraagt een van de rollen" in html.fromstring(refused.text).text_content()
    doc = html.fromstring(rik.get("/access").text)
    [rule] = cells(doc, "//table[@id='rules']/tbody/tr")
    assert rule[0] == prefix and rule[1] == "uitgesloten" and rule[3] == "actief"
    assert rule[2].startswith(until.strftime("%d-%m-%Y"))
    assert cells(doc, "//table[@id='embargoes']/tbody/tr")[0][:2] == ["demo", "30 dagen"]
    history = cells(doc, "//table[@id='history']/tbody/tr")  # newest first
    assert [(h[1], h[2], h[3], h[5]) for h in history] == [
        ("rik", "embargo ingesteld", "demo", "gelukt"),
        ("rik", "uitgesloten", prefix, "gelukt"),
        ("rik", "uitgesloten", "ftp://x.nl/", "mislukt"),  # refused by the service: recorded
    ]
    assert history[0][4] == "30 dagen" and until.strftime("%d-%m-%Y") in history[1][4]
    assert history[2][4] == "not an http(s) URL prefix: 'ftp://x.nl/'"

    # the audit log has her rows; the rules are in the files pywb reads
    rows = sql(server, "SELECT actor, action, target, outcome FROM audit_log "
                       "WHERE action LIKE 'access.%' ORDER BY id")
    assert [tuple(r) for r in rows if r[3] == "ok"] == [
        ("rik", "access.exclude", prefix, "ok"), ("rik", "access.embargo", "demo", "ok")]
    acl = (server.home / "collections/demo/acl/access-rules.aclj").read_text()
    assert f'"url": "{prefix}"' in acl and '"exclude"' in acl and '"newer": {"days": 30}' in acl

    # the JSON API says the same
    api = rik.get("/api/access").json()
    assert [(r["url_prefix"], r["access"], r["active"]) for r in api["rules"]] == [
        (prefix, "block", True)]
    assert {"site": "demo", "embargo_days": 30, "retired": False} in api["embargoes"]

    axe_finds_nothing(server, "rik", "/access")
    # allowed again from the list: gone from the list and from pywb's file
    assert rik.post("/access/allow", data={"csrf": token, "url_prefix": prefix}
                    ).status_code == 303
    doc = html.fromstring(rik.get("/access").text)
    assert doc.xpath("//table[@id='rules']/tbody/tr/@data-prefix") == []
    assert prefix not in (server.home / "collections/demo/acl/access-rules.aclj").read_text()

    # an auditor reads it all but changes nothing; the web team does not see it
    aud = logged_in(server, "aud")
    doc = html.fromstring(aud.get("/access").text)
    assert doc.xpath("//form[@id='exclude']") == [] and doc.xpath("//table[@id='history']")
    forged = aud.post("/access/embargo", data={"csrf": csrf(aud.get("/fixity").text),
                                               "site": "demo", "days": "0"})
    assert forged.status_code == 403
    with server.as_("aud") as script:
        assert script.post("/api/access/exclude", json={"url_prefix": prefix}
                           ).status_code == 403
    assert logged_in(server, "wendy").get("/access").status_code == 403
    assert sql(server, "SELECT embargo_days FROM sites WHERE name = 'demo'")[0][0] == 30
    for client in (rik, aud):
        client.close()


def test_auditor_checks_fixity_and_sees_what_changed(bewaar: Any,
                                                     server: Server) -> None:  # noqa: F811
    bewaar("demo", "--json")
    aud = logged_in(server, "aud")
    page = aud.get("/fixity")
    assert page.status_code == 200 and "Nog geen fixiteitscontrole" in page.text
    token = csrf(page.text)
    # the files on disk: every WARC and its index, as the database knows them
    warcs = sorted((server.home / "warcs").rglob("*.warc.gz"))
    indexes = [i for i in sql(server, "SELECT cdxj_path FROM warc_files") if i[0]]
    assert warcs
    ran = aud.post("/fixity", data={"csrf": token})
    assert ran.status_code == 303
    doc = html.fromstring(aud.get(ran.headers["location"]).text)
    facts = dict(cells(doc, "//table[@id='last-check']/tbody/tr"))
    assert facts["door"] == "aud" and facts["uitslag"] == "alles zoals vastgelegd"
    assert facts["bestanden"] == str(len(warcs) + len(indexes))
    assert int(facts["bytes"].replace(".", "")) == sum(w.stat().st_size for w in warcs)

    # the last verification of each package, from the audit log
    [package] = [r[0] for r in sql(server, "SELECT id FROM packages")]
    xpath = f"//table[@id='verifies']/tbody/tr[@data-package='{package}']"
    assert "hier nooit geverifieerd" in doc.xpath(xpath)[0].text_content()
    assert aud.post(f"/packages/{package}/verify", data={"csrf": token}).status_code == 200
    [row] = cells(html.fromstring(aud.get("/fixity").text), xpath)
    assert row[4:] == ["aud", "geldig"]

    # a WARC file changed on disk: the next check shows where, what and both sizes
    size = warcs[0].stat().st_size
    with warcs[0].open("ab") as fh:
        fh.write(b"x")
    ran = aud.post("/fixity", data={"csrf": token})
    doc = html.fromstring(aud.get(ran.headers["location"]).text)
    assert doc.xpath("//table[@id='last-check']/@data-ok") == ["no"]
    findings = cells(doc, "//table[@id='findings']/tbody/tr")
    assert [str(warcs[0]), "WARC size changed", str(size), str(size + 1)] in findings
    assert len(cells(doc, "//table[@id='checks']/tbody/tr")) == 1  # the check before
    # the package holds the same file (a hard link): its next verification fails
    assert aud.post(f"/packages/{package}/verify", data={"csrf": token}).status_code == 200
    [row] = cells(html.fromstring(aud.get("/fixity").text), xpath)
    assert row[4] == "aud" and row[5].startswith("niet geldig")

    rows = sql(server, "SELECT actor, outcome FROM audit_log WHERE action = 'fixity.check' "
                       "ORDER BY id")
    assert [tuple(r) for r in rows] == [("aud", "ok"), ("aud", "failed")]
    assert [r[0] for r in sql(server, "SELECT ok FROM fixity_checks ORDER BY id")] == [1, 0]
    axe_finds_nothing(server, "aud", "/fixity")
    # records managers read it; only auditors run it; the web team does not see it
    rik = logged_in(server, "rik")
    doc = html.fromstring(rik.get("/fixity").text)
    assert doc.xpath("//form[@id='run-fixity']") == []
    assert rik.post("/fixity", data={"csrf": csrf(rik.get("/access").text)}).status_code == 403
    assert logged_in(server, "wendy").get("/fixity").status_code == 403
    with server.as_("aud") as script:
        assert script.get("/api/fixity").json()["last"]["ok"] is False


def test_chart_and_overview_match_the_runs(bewaar: Any, server: Server) -> None:  # noqa: F811
    bewaar("demo", "--json")  # run 1: finished, QA passed, sealed
    with NormalSite(pages=6) as site:
        bewaar("site", "edit", "demo", "--seed", site.url)
        bewaar("crawl", "--site", "demo", "--json")  # run 2: another size, checked after it
    failed = bewaar("crawl", "--site", "demo", "--json", check=False)  # the site is gone
    assert failed.returncode == 1
    bewaar("site", "add", "nachtelijk", "--seed", "https://nachtelijk.example.nl/",
           "--schedule", "0 3 * * *")
    bewaar("site", "add", "rustig", "--seed", "https://rustig.example.nl/")
    with open_db(load_settings(home=server.home))() as db:  # registered long before its
        db.execute(text("UPDATE sites SET created_at = :at WHERE name = 'nachtelijk'"),
                   {"at": datetime.now(UTC).replace(tzinfo=None) - timedelta(days=3)})
        db.commit()
    runs = sql(server, "SELECT r.id, r.pages, r.bytes, r.errors, r.status FROM crawl_runs r "
                       "JOIN sites s ON s.id = r.site_id WHERE s.name = 'demo' ORDER BY r.id")
    assert [r[4] for r in runs] == ["finished", "finished", "failed"]
    qa = {r[0]: "passed" if r[1] else "failed"
          for r in sql(server, "SELECT run_id, ok FROM qa_checks ORDER BY id")}
    assert qa[runs[0][0]] == "passed" and runs[2][0] not in qa
    expected_qa = [qa.get(r[0], "none") for r in runs]

    wendy = logged_in(server, "wendy")
    doc = html.fromstring(wendy.get("/sites/demo").text)
    svg = etree.fromstring(etree.tostring(doc.xpath("//*[local-name()='svg']")[0]))
    assert svg.get("role") == "img"
    label = svg.get("aria-labelledby").split()
    assert [svg.find(f"{SVG}title").get("id"), svg.find(f"{SVG}desc").get("id")] == label
    assert "demo" in svg.find(f"{SVG}title").text
    for metric, column in (("pages", 1), ("bytes", 2), ("errors", 3)):
        [panel] = svg.findall(f"{SVG}g[@data-metric='{metric}']")
        bars = panel.findall(f"{SVG}rect")
        assert [(int(b.get("data-run")), int(b.get("data-value"))) for b in bars] == [
            (r[0], r[column]) for r in runs], metric
        tallest = max(r[column] for r in runs)
        for bar, run in zip(bars, runs, strict=True):
            assert float(bar.get("height")) == pytest.approx(72 * run[column] / tallest
                                                             if tallest else 0, abs=0.01)
    marks = {int(g.get("data-run")): g.get("data-qa")
             for g in svg.findall(f"{SVG}g[@class='bw-chart__qa']/{SVG}g[@data-run]")}
    assert marks == {r[0]: q for r, q in zip(runs, expected_qa, strict=True)}
    # the same numbers in the table, as people read them
    table = cells(doc, "//table[@id='runs-chart-numbers']/tbody/tr")
    assert [(int(t[0]), int(t[2].replace(".", "")), int(t[3].replace(".", "")),
             int(t[4].replace(".", ""))) for t in table] == [r[:4] for r in runs]
    dutch = {"passed": "goedgekeurd", "failed": "mislukt", "none": "niet gecontroleerd"}
    assert [t[5] for t in table] == [dutch[q] for q in expected_qa]
    with server.as_("wendy") as script:
        history = script.get("/api/sites/demo/history").json()
    assert [(h["id"], h["pages"], h["bytes"], h["errors"]) for h in history] == [
        tuple(r[:4]) for r in runs]

    # the overview: the failed site first, then the late one, the rest after
    doc = html.fromstring(wendy.get("/harvests").text)
    rows = doc.xpath("//table[@id='harvests']/tbody/tr")
    assert [(r.get("data-site"), r.get("data-state"), r.get("data-late")) for r in rows] == [
        ("demo", "failed", "no"), ("nachtelijk", "never", "yes"), ("rustig", "never", "no")]
    first = cells(doc, "//table[@id='harvests']/tbody/tr")[0]
    assert first[1].startswith("Mislukt") and f"run {runs[2][0]}" in first[2]
    assert "te laat: gepland" in cells(doc, "//table[@id='harvests']/tbody/tr")[1][1]
    counts = {li.get("data-count"): li.text_content()
              for li in doc.xpath("//ul[@id='harvest-summary']/li")}
    assert counts == {"failed": "1 mislukt", "late": "1 te laat",
                      "qa_failed": "0 met afgekeurde QA", "fine": "1 in orde"}
    assert doc.xpath("//a[@href='/sites']")
    axe_finds_nothing(server, "wendy", "/sites/demo", "/harvests")
    assert "/harvests" in html.fromstring(wendy.get("/sites").text).xpath("//a/@href")


def test_previous_fire_time() -> None:
    from bewaar.services.harvests import previous_fire
    from scheduler.cron import TIMEZONE

    at = datetime(2026, 12, 1, 10, 30, tzinfo=TIMEZONE)
    assert previous_fire("0 3 * * *", at) == datetime(2026, 12, 1, 3, 0, tzinfo=TIMEZONE)
    assert previous_fire("0 3 * * *", at.replace(hour=2)) == datetime(
        2026, 11, 30, 3, 0, tzinfo=TIMEZONE)
    assert previous_fire("*/5 * * * *", at) == at
    assert previous_fire("*/30 * * * * *", at.replace(second=59)) == at.replace(second=30)
    assert previous_fire("0 3 * * 1", at) == datetime(2026, 11, 30, 3, 0, tzinfo=TIMEZONE)
    assert previous_fire("@monthly", at) == datetime(2026, 12, 1, 0, 0, tzinfo=TIMEZONE)
    assert previous_fire("0 0 29 2 *", at) == datetime(2024, 2, 29, 0, 0, tzinfo=TIMEZONE)
    assert previous_fire("not cron", at) is None


def test_the_pages_json_needs_the_roles(server: Server) -> None:  # noqa: F811
    with server.as_("wendy") as c:
        assert c.get("/api/access").status_code == 403
        assert c.get("/api/fixity").status_code == 403
        assert c.get("/api/harvests").json()["sites"] == []
        assert c.get("/api/sites/nope/history").status_code == 404
    with server.as_("rik") as c:
        assert c.post("/api/fixity").status_code == 403
        bad = c.post("/api/access/exclude", json={"url_prefix": "nope"})
        assert bad.status_code == 400 and "not an http(s) URL prefix" in bad.json()["detail"]
        assert c.put("/api/access/embargoes/nope", json={"days": 3}).status_code == 404
    openapi = httpx.get(server.url + "/openapi.json").json()
    assert {"/api/access", "/api/access/exclude", "/api/fixity", "/api/harvests"} <= set(
        openapi["paths"])
