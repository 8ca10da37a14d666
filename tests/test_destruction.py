"""Destruction lists with four eyes, as records managers and an archivist use them: `bewaar
destroy propose|review|approve|cancel|list|show`, each step by a named user, each audited."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from archive.db import session_scope
from archive.models import AuditEvent
from archive.package.selectielijst import load_into_db
from archive.settings import load_settings
from bewaar.services.accounts import add_user, set_disabled
from tests.test_retention import SELECTIELIJST, end, make_run

PASSWORD = "een-lang-wachtwoord-1"


def nl_today() -> date:
    return datetime.now(ZoneInfo("Europe/Amsterdam")).date()


@pytest.fixture
def depot(bewaar, home: Path):  # type: ignore[no-untyped-def]
    """Two V P0D packages (due), one more held by a hold on its site, one B package; and the
    people: two records managers, an archivist, an auditor and a disabled records manager."""
    home.mkdir(parents=True, exist_ok=True)
    (home / "sl.toml").write_text(SELECTIELIJST)
    s = load_settings()
    load_into_db(s, home / "sl.toml")
    bewaar("keys", "init", "--json")
    ids = {}
    for site, cat in (("weg", "V0"), ("ook", "V0"), ("woo", "V0"), ("blijf", "B")):
        ids[site] = bewaar("seal", str(make_run(site, cat)), "--json").json()["id"]
    bewaar("hold", "add", "--site", "woo", "--reason", "Woo-verzoek 2026-0142")
    for name, role in (("anna", "records"), ("bert", "records"), ("carla", "archivist"),
                       ("dirk", "auditor"), ("eva", "records")):
        add_user(s, "test", name, role, PASSWORD)
    set_disabled(s, "test", "eva", True)
    return bewaar, ids


def rows(action: str) -> list[tuple[str, str | None, str]]:
    with session_scope(load_settings()) as db:
        return [(e.actor, e.target, e.outcome) for e in db.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id))]


def test_archivist_role_can_be_given(bewaar) -> None:  # type: ignore[no-untyped-def]
    out = bewaar("user", "add", "fien", "--role", "archivist", "--json",
                 env={"BEWAAR_NEW_PASSWORD": PASSWORD}).json()
    assert out["role"] == "archivist"
    assert [u["role"] for u in bewaar("user", "list", "--json").json()] == ["archivist"]


def test_propose_review_approve(depot) -> None:  # type: ignore[no-untyped-def]
    bewaar, ids = depot
    # a records manager proposes: the two due ones, not the B one nor the held one
    made = bewaar("destroy", "propose", "--user", "anna", "--json").json()
    assert made["state"] == "proposed" and made["proposed_by"] == "anna"
    assert sorted(i["package"] for i in made["items"]) == sorted([ids["weg"], ids["ook"]])
    assert {i["end_date"] for i in made["items"]} == {end("P0D")}
    n = str(made["id"])
    # the author may not review her own list
    own = bewaar("destroy", "review", n, "--user", "anna", "--approve", check=False)
    assert own.returncode == 2 and "another records manager" in own.stderr
    assert bewaar("destroy", "show", n, "--json").json()["state"] == "proposed"
    # a records manager may not approve; an archivist may not before the review
    early = bewaar("destroy", "approve", n, "--user", "carla", check=False)
    assert early.returncode == 2 and "proposed" in early.stderr
    # another records manager reviews it
    rev = bewaar("destroy", "review", n, "--user", "bert", "--approve", "--json").json()
    assert (rev["state"], rev["reviewed_by"]) == ("reviewed", "bert")
    twice = bewaar("destroy", "review", n, "--user", "bert", "--approve", check=False)
    assert twice.returncode == 2 and "reviewed" in twice.stderr
    wrong = bewaar("destroy", "approve", n, "--user", "bert", check=False)
    assert wrong.returncode == 2 and "archivist" in wrong.stderr
    assert bewaar("destroy", "show", n, "--json").json()["state"] == "reviewed"
    # the archivist approves: executable after the default waiting period of 7 days
    ok = bewaar("destroy", "approve", n, "--user", "carla", "--json").json()
    assert (ok["state"], ok["approved_by"]) == ("approved", "carla")
    assert ok["executable_from"] == (nl_today() + timedelta(days=7)).isoformat()
    # what is on an open list is not proposed again: nothing left, refused
    again = bewaar("destroy", "propose", "--user", "bert", check=False)
    assert again.returncode == 2 and "nothing is due" in again.stderr
    # a hold put on after listing: shown as held, nothing stored
    bewaar("hold", "add", "--package", ids["ook"], "--reason", "bezwaar")
    shown = bewaar("destroy", "show", n, "--json").json()
    assert {i["package"]: i["held"] for i in shown["items"]} == {ids["weg"]: False,
                                                                 ids["ook"]: True}
    assert shown["held"] == 1 and "held" in bewaar("destroy", "show", n).stdout
    [listed] = bewaar("destroy", "list", "--json").json()
    assert (listed["id"], listed["state"], listed["count"]) == (made["id"], "approved", 2)
    # the audit rows name the people who took the steps
    target = f"destruction:{n}"
    assert rows("destroy.propose") == [("anna", target, "ok"), ("bert", None, "failed")]
    assert rows("destroy.review") == [("anna", target, "failed"), ("bert", target, "ok"),
                                      ("bert", target, "failed")]
    assert rows("destroy.approve") == [("carla", target, "failed"), ("bert", target, "failed"),
                                       ("carla", target, "ok")]


def test_no_wait_reject_and_cancel(depot) -> None:  # type: ignore[no-untyped-def]
    bewaar, ids = depot
    first = bewaar("destroy", "propose", "--user", "anna", "--json").json()
    n = str(first["id"])
    no_reason = bewaar("destroy", "review", n, "--user", "bert", "--reject", check=False)
    assert no_reason.returncode == 2 and "reason" in no_reason.stderr
    rej = bewaar("destroy", "review", n, "--user", "bert", "--reject", "--reason",
                 "te vroeg", "--json").json()
    assert (rej["state"], rej["review_reason"]) == ("rejected", "te vroeg")
    assert bewaar("destroy", "cancel", n, "--user", "anna", "--reason", "x",
                  check=False).returncode == 2
    # a rejected list frees its packages: the next proposal lists them again
    second = bewaar("destroy", "propose", "--user", "bert", "--json").json()
    assert sorted(i["package"] for i in second["items"]) == sorted([ids["weg"], ids["ook"]])
    m = str(second["id"])
    bewaar("destroy", "review", m, "--user", "anna", "--approve")
    zero = {"BEWAAR_DESTRUCTION_WAIT_DAYS": "0"}
    ok = bewaar("destroy", "approve", m, "--user", "carla", "--json", env=zero).json()
    assert ok["executable_from"] == nl_today().isoformat()
    # an auditor may not cancel; the archivist may, before execution, with a reason
    assert bewaar("destroy", "cancel", m, "--user", "dirk", "--reason", "x",
                  check=False).returncode == 2
    gone = bewaar("destroy", "cancel", m, "--user", "carla", "--reason",
                  "Woo-verzoek ontvangen", "--json").json()
    assert (gone["state"], gone["cancelled_by"], gone["cancel_reason"]) == (
        "cancelled", "carla", "Woo-verzoek ontvangen")
    assert bewaar("destroy", "cancel", m, "--user", "carla", "--reason", "x",
                  check=False).returncode == 2
    assert rows("destroy.cancel") == [
        ("anna", f"destruction:{n}", "failed"), ("dirk", f"destruction:{m}", "failed"),
        ("carla", f"destruction:{m}", "ok"), ("carla", f"destruction:{m}", "failed")]
    assert [d["state"] for d in bewaar("destroy", "list", "--json").json()] == [
        "cancelled", "rejected"]


def test_bad_input_exits_2_and_changes_nothing(depot) -> None:  # type: ignore[no-untyped-def]
    bewaar, ids = depot
    n = str(bewaar("destroy", "propose", "--user", "anna", "--json").json()["id"])
    before = bewaar("destroy", "list", "--json").json()
    for args, says in (
        (("propose", "--user", "nobody"), "no user named 'nobody'"),
        (("propose", "--user", "eva"), "disabled"),
        (("propose", "--user", "dirk"), "role 'auditor'"),
        (("propose", "--user", "carla"), "role 'archivist'"),
        (("propose", "--user", "anna", "--as-of", "gisteren"), "2030-01-31"),
        (("review", "99", "--user", "bert", "--approve"), "no destruction list 99"),
        (("review", "een", "--user", "bert", "--approve"), "not a number"),
        (("review", n, "--user", "bert"), "exactly one"),
        (("review", n, "--user", "eva", "--approve"), "disabled"),
        (("review", n, "--user", "carla", "--approve"), "role 'archivist'"),
        (("approve", n, "--user", "carla"), "only a reviewed list"),
        (("approve", "99", "--user", "carla"), "no destruction list 99"),
        (("show", "99"), "no destruction list 99"),
        (("cancel", n, "--user", "nobody", "--reason", "x"), "no user named"),
        (("cancel", n, "--user", "anna", "--reason", "  "), "reason"),
    ):
        r = bewaar("destroy", *args, check=False)
        assert r.returncode == 2, (args, r.stdout, r.stderr)
        assert says in r.stderr, (args, r.stderr)
    assert bewaar("destroy", "list", "--json").json() == before
    # a day before anything was due: nothing to list
    early = bewaar("destroy", "propose", "--user", "bert", "--as-of", "2025-04-30",
                   check=False)
    assert early.returncode == 2 and "nothing is due" in early.stderr
    assert bewaar("destroy", "list", "--json").json() == before
