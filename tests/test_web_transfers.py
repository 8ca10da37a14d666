"""A records manager confirms on the web that the e-Depot took in a SIP that `bewaar export sip`
made, on a real `bewaar serve`; an auditor reads the transfers but may not confirm. Checked
outside the web app: the retention and audit tables (SQL)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from lxml import html

from tests.test_service_web import Server, server  # noqa: F401 - the fixture
from tests.test_sip import depot  # noqa: F401 - the fixture
from tests.test_web_access_pages import axe_finds_nothing, cells, csrf, logged_in, sql
from tests.tsa import pki  # noqa: F401 - the fixture


def test_a_records_manager_confirms_a_transfer(depot: Any, server: Server,  # noqa: F811
                                               tmp_path: Path) -> None:
    bewaar, ids, _weg = depot
    sip = bewaar("export", "sip", *ids, "-o", str(tmp_path / "sip"), "--json").json()["id"]
    rik, aud = logged_in(server, "rik"), logged_in(server, "aud")

    doc = html.fromstring(aud.get("/retention/transfers").text)
    [row] = cells(doc, "//table[@id='exports']/tbody/tr")
    assert row[0] == sip and row[-1] == "wacht op bevestiging"
    assert doc.xpath("//main//form") == []  # auditors read
    assert aud.post(f"/retention/transfers/{sip}/confirm",
                    data={"csrf": csrf(rik.get("/retention/transfers").text)}).status_code == 403
    axe_finds_nothing(server, "rik", "/retention/transfers")

    page = rik.get("/retention/transfers").text
    done = rik.post(f"/retention/transfers/{sip}/confirm", data={"csrf": csrf(page)})
    assert done.status_code == 303
    states = sql(server, "SELECT disposition FROM retention WHERE package_id IN (:a, :b)",
                 a=ids[0], b=ids[1])
    assert [s[0] for s in states] == ["transferred", "transferred"]
    doc = html.fromstring(rik.get("/retention/transfers").text)
    assert cells(doc, "//table[@id='exports']/tbody/tr")[0][-2].startswith(
        "overgebracht (bevestigd door rik)")
    # a second confirmation is refused, with the reason on the page; nothing changes
    again = rik.post(f"/retention/transfers/{sip}/confirm", data={"csrf": csrf(page)})
    assert again.status_code == 400 and "is al bevestigd (door rik op" in again.text
    rows = sql(server, "SELECT actor, outcome FROM audit_log WHERE action = 'transfer.confirm' "
                       "ORDER BY id")
    assert [tuple(r) for r in rows] == [("rik", "ok"), ("rik", "failed")]  # aud: refused at 403
