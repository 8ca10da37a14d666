"""Records managers and an archivist take a destruction list through its four-eyes procedure on
the web pages of a real `bewaar serve`, as a browser sends the forms (a logged-in session and its
CSRF token). What happened is checked outside the web app: the audit log and the lists' table in
the database (SQL); the filled pages by axe-core in Chromium."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from lxml import html

from tests.test_destruction import PASSWORD, depot  # noqa: F401 - the fixture
from tests.test_service_web import Server, server  # noqa: F401 - the fixture
from tests.test_web_access_pages import axe_finds_nothing, cells, csrf, sql


def as_user(srv: Server, name: str) -> httpx.Client:
    browser = httpx.Client(base_url=srv.url, timeout=120)
    r = browser.post("/login", data={"name": name, "password": PASSWORD})
    assert r.status_code == 303 and browser.cookies.get("bewaar_session"), r.text
    return browser


def step(who: httpx.Client, path: str, **fields: str) -> httpx.Response:
    token = csrf(who.get("/retention/destruction").text)  # the session's token
    return who.post(path, data={"csrf": token, **fields})


def state(srv: Server, list_id: int) -> str:
    return str(sql(srv, "SELECT state FROM destruction_lists WHERE id = :i", i=list_id)[0][0])


@pytest.fixture
def no_wait(bewaar: Any) -> None:
    """The service is set up with no waiting period after approval (before it starts)."""
    bewaar.env["BEWAAR_DESTRUCTION_WAIT_DAYS"] = "0"


def test_a_list_goes_through_four_eyes_on_the_web(no_wait: None, depot: Any,  # noqa: F811
                                                  server: Server) -> None:  # noqa: F811
    bewaar, ids = depot
    anna, bert, carla, dirk = (as_user(server, n) for n in ("anna", "bert", "carla", "dirk"))
    assert "Nog geen vernietigingslijsten" in anna.get("/retention/destruction").text

    # a records manager proposes: the list holds what is due and not held
    made = step(anna, "/retention/destruction")
    assert made.status_code == 303
    [list_id] = [r[0] for r in sql(server, "SELECT id FROM destruction_lists")]
    assert made.headers["location"].startswith(f"/retention/destruction/{list_id}?msg=")
    page = html.fromstring(anna.get(f"/retention/destruction/{list_id}").text)
    listed = {row[0] for row in cells(page, "//table[@id='items']/tbody/tr")}
    assert listed == {ids["weg"], ids["ook"]}
    assert page.xpath("//form[@id='review']") == []  # not offered to its author …
    own = step(anna, f"/retention/destruction/{list_id}/review", verdict="approve")
    assert own.status_code == 400 and "(vier ogen)" in own.text  # … and refused when sent
    assert state(server, list_id) == "proposed"

    # another records manager: rejecting needs a reason, shown beside the field
    path = f"/retention/destruction/{list_id}"
    assert html.fromstring(bert.get(path).text).xpath("//form[@id='review']")
    bad = step(bert, path + "/review", verdict="reject", reason="")
    assert bad.status_code == 400
    assert html.fromstring(bad.text).xpath("//input[@id='review-reason']/@aria-invalid") == [
        "true"]
    assert state(server, list_id) == "proposed"
    assert step(bert, path + "/review", verdict="approve").status_code == 303
    assert state(server, list_id) == "reviewed"

    # an auditor reads but may not approve; the archivist approves
    assert html.fromstring(dirk.get(path).text).xpath("//main//form") == []
    assert step(dirk, path + "/approve").status_code == 403
    assert html.fromstring(carla.get(path).text).xpath("//form[@id='approve']")
    assert step(carla, path + "/approve").status_code == 303
    doc = html.fromstring(carla.get(path).text)
    assert doc.xpath("string(//*[@id='list-state'])") == "goedgekeurd"
    assert state(server, list_id) == "approved"
    axe_finds_nothing(server, "rik", "/retention/destruction", path)

    # the archivist executes it: the packages are gone, their tombstones and the verklaring stay
    assert doc.xpath("//form[@id='execute']")
    assert step(carla, path + "/execute").status_code == 303
    doc = html.fromstring(carla.get(path).text)
    assert doc.xpath("string(//*[@id='list-state'])") == "uitgevoerd"
    verklaring = doc.xpath("string(//*[@id='verklaring'])")
    assert verklaring and (bewaar.home / "packages" / verklaring).is_dir()
    for site in ("weg", "ook"):
        assert not (bewaar.home / "packages" / ids[site]).exists()
    assert (bewaar.home / "packages" / ids["woo"]).is_dir()  # held: not on the list
    assert sorted(r[0] for r in sql(server, "SELECT package_id FROM tombstones")) == sorted(
        [ids["weg"], ids["ook"]])
    each = sql(server, "SELECT target FROM audit_log WHERE action = 'destroy.item'")
    assert sorted(r[0] for r in each) == sorted(f"package:{ids[s]}" for s in ("weg", "ook"))

    # the audit log names each person for her own step, the refused one included
    rows = sql(server, "SELECT actor, action, outcome FROM audit_log WHERE action LIKE "
                       "'destroy.%' AND action NOT IN ('destroy.item', 'destroy.verklaring') "
                       "ORDER BY id")
    assert [tuple(r) for r in rows] == [
        ("anna", "destroy.propose", "ok"), ("anna", "destroy.review", "failed"),
        ("bert", "destroy.review", "failed"), ("bert", "destroy.review", "ok"),
        ("carla", "destroy.approve", "ok"), ("carla", "destroy.execute", "ok")]
    # the API reads the same lists
    assert carla.get("/api/destruction").json()[0]["state"] == "executed"
