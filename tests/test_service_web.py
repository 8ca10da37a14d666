"""The web app and API as the three user groups and a script use them, against a real
`bewaar serve` on 127.0.0.1; plus the CLI around it (users, tokens, schedules)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from archive.db import open_db
from archive.settings import load_settings
from bewaar.services.accounts import add_user, create_token
from tests.test_service_scheduler import wait_for
from tests.webserve import running_serve

PASSWORD = "correct horse battery"


class Server:
    def __init__(self, url: str, tokens: dict[str, str], home: Path) -> None:
        self.url, self.tokens, self.home = url, tokens, home

    def as_(self, user: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30,
                            headers={"Authorization": f"Bearer {self.tokens[user]}"})


@pytest.fixture
def server(bewaar, tmp_path: Path) -> Iterator[Server]:  # type: ignore[no-untyped-def]
    tokens = {}
    settings = load_settings(home=bewaar.home)  # as `bewaar user add` / `token create`
    for name, role in (("wendy", "webteam"), ("rik", "records"), ("aud", "auditor")):
        add_user(settings, "test", name, role, PASSWORD)
        tokens[name] = create_token(settings, "test", name)["token"]
    with running_serve(bewaar.env, tmp_path / "serve.log", sync_seconds=0.5) as url:
        yield Server(url, tokens, bewaar.home)


def audit_rows(home: Path) -> list[Any]:
    with open_db(load_settings(home=home))() as db:
        return list(db.execute(text("SELECT actor, action, target, outcome FROM audit_log")))


def test_web_team_adds_a_site_with_schedule_and_starts_a_crawl(server: Server) -> None:
    with server.as_("wendy") as c:
        r = c.post("/api/sites", json={"name": "justid", "seeds": ["https://www.justid.nl/"],
                                       "exclude": ["/zoeken"], "schedule": "0 3 * * 1-5"})
        assert r.status_code == 201, r.text
        assert [s["name"] for s in c.get("/api/sites").json()] == ["justid"]
        sched = c.get("/api/schedules").json()
        assert sched[0]["cron"] == "0 3 * * 1-5" and sched[0]["next_run"]
        job = c.post("/api/sites/justid/crawl")
        assert job.status_code == 202
        # The service runs it (the crawl itself fails here: the seed is unreachable offline).
        runs = wait_for(lambda: [j for j in c.get("/api/jobs").json() if j["finished_at"]],
                        what="the crawl job to end")
        assert runs[0]["kind"] == "crawl" and runs[0]["target"] == "justid"
    actions = {(a, t) for _, a, t, _ in audit_rows(server.home)}
    assert {("site.add", "justid"), ("schedule.set", "crawl:justid"),
            ("crawl.request", "justid")} <= actions


def test_bad_input_is_refused_and_changes_nothing(server: Server) -> None:
    with server.as_("wendy") as c:
        c.post("/api/sites", json={"name": "justid", "seeds": ["https://www.justid.nl/"]})
        bad_cron = c.put("/api/sites/justid/schedule", json={"cron": "61 * * * *"})
        assert bad_cron.status_code == 400 and "bad cron expression" in bad_cron.json()["detail"]
        unknown = c.put("/api/sites/nope/schedule", json={"cron": "0 3 * * *"})
        assert unknown.status_code == 404 and "no site named 'nope'" in unknown.json()["detail"]
        bad_site = c.post("/api/sites", json={"name": "x", "seeds": ["ftp://x.nl/"],
                                              "schedule": "0 3 * * *"})
        assert bad_site.status_code == 400
        half = c.post("/api/sites", json={"name": "y", "seeds": ["https://y.nl/"],
                                          "schedule": "not cron"})
        assert half.status_code == 400
        assert [s["name"] for s in c.get("/api/sites").json()] == ["justid"]
        assert c.get("/api/schedules").json() == []
    anonymous = httpx.get(server.url + "/api/sites", timeout=30)
    assert anonymous.status_code == 401 and "log in" in anonymous.json()["detail"]
    forged = httpx.get(server.url + "/api/sites", headers={"Authorization": "Bearer bwp_forged"})
    assert forged.status_code == 401
    with server.as_("aud") as c:
        denied = c.post("/api/sites", json={"name": "z", "seeds": ["https://z.nl/"]})
        assert denied.status_code == 403 and "needs one of the roles webteam" in denied.json()["detail"]
    login = httpx.post(server.url + "/login", data={"name": "wendy", "password": "wrong"})
    assert login.status_code == 401 and "Onjuiste gebruikersnaam of wachtwoord" in login.text
    outcomes = {(act, out) for _, act, _, out in audit_rows(server.home)}
    assert ("access.denied", "denied") in outcomes and ("login", "denied") in outcomes


def test_each_group_sees_its_pages(server: Server) -> None:
    with server.as_("wendy") as c:
        c.post("/api/sites", json={"name": "justid", "seeds": ["https://www.justid.nl/"]})
        assert "Website toevoegen" in c.get("/sites").text
        assert c.get("/collections").status_code == 403
    with server.as_("rik") as c:
        page = c.get("/collections")
        assert page.status_code == 200 and "justid" in page.text
        assert c.put("/api/sites/justid/category", json={"category": "1.1"}).status_code == 200
        assert c.get("/api/sites/justid").json()["category"] == "1.1"
    with server.as_("aud") as c:
        assert c.get("/packages").status_code == 200
        assert c.get("/api/packages").status_code == 200
        log = c.get("/api/audit").json()
        assert any(e["action"] == "site.category" and e["actor"] == "rik" for e in log)
    openapi = httpx.get(server.url + "/openapi.json").json()
    assert "/api/sites/{name}/schedule" in openapi["paths"]
    assert httpx.get(server.url + "/healthz").json()["scheduler"] is True


def test_forms_need_the_sessions_csrf_token(server: Server) -> None:
    """A page of another site can make a logged-in browser post a form (the cookie goes along)
    but cannot read the token in our pages: without it the change is refused."""
    with server.as_("wendy") as api:
        api.post("/api/sites", json={"name": "justid", "seeds": ["https://www.justid.nl/"]})
    browser = httpx.Client(base_url=server.url, timeout=30)
    login = browser.post("/login", data={"name": "wendy", "password": PASSWORD})
    assert login.status_code == 303 and browser.cookies.get("bewaar_session")
    page = browser.get("/sites/justid").text
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert token is not None
    forged = browser.post("/sites/justid/schedule", data={"cron": "0 3 * * *"})
    assert forged.status_code == 403 and "CSRF" in forged.text
    other = browser.post("/sites/justid/schedule", data={"cron": "0 3 * * *", "csrf": "0" * 40})
    assert other.status_code == 403
    with server.as_("wendy") as api:
        assert api.get("/api/schedules").json() == []  # nothing changed
    ok = browser.post("/sites/justid/schedule", data={"cron": "0 3 * * *", "csrf": token[1]})
    assert ok.status_code == 303
    with server.as_("wendy") as api:  # scripts with a token need none
        assert [s["cron"] for s in api.get("/api/schedules").json()] == ["0 3 * * *"]
    assert browser.post("/logout").status_code == 403  # logging out is a change too
    assert browser.post("/logout", data={"csrf": token[1]}).status_code == 303
    browser.close()


def test_audit_log_is_append_only(home: Path) -> None:
    with open_db(load_settings())() as db:
        db.execute(text("INSERT INTO audit_log (at, actor, action, outcome, detail) "
                        "VALUES ('2026-01-01 00:00:00', 'x', 'y', 'ok', '{}')"))
        db.commit()
        for statement in ("UPDATE audit_log SET actor = 'z'", "DELETE FROM audit_log"):
            with pytest.raises(Exception, match="append-only"):
                db.execute(text(statement))
            db.rollback()


def test_schedule_cli(bewaar) -> None:  # type: ignore[no-untyped-def]
    bewaar("site", "add", "justid", "--seed", "https://www.justid.nl/")
    bad = bewaar("site", "add", "x", "--seed", "https://x.nl/", "--schedule", "* *", check=False)
    assert bad.returncode == 2 and "bad cron expression" in bad.stderr
    entry = bewaar("schedule", "set", "justid", "*/30 * * * * *", "--json").json()
    assert entry["job_id"] == "crawl:justid" and entry["next_run"]
    unknown = bewaar("schedule", "set", "nope", "0 3 * * *", check=False)
    assert unknown.returncode == 2 and "no site named 'nope'" in unknown.stderr
    unknown_chat = bewaar("schedule", "set", "--chat", "bewindspersonen", "@daily", check=False)
    assert unknown_chat.returncode == 2 and "no chat source" in unknown_chat.stderr
    from archive.models.chat import ChatSource

    with open_db(load_settings(home=bewaar.home))() as db:  # a source as `bewaar chat add` makes it
        db.add(ChatSource(name="bewindspersonen", kind="matrix", homeserver="http://127.0.0.1:9",
                          user_id="@archief:localhost", secret_ref="password-env:UNUSED"))
        db.commit()
    bewaar("schedule", "set", "--chat", "bewindspersonen", "@daily")
    listed = {(s["kind"], s["target"]) for s in bewaar("schedule", "list", "--json").json()}
    assert listed == {("crawl", "justid"), ("chat", "bewindspersonen")}
    bewaar("schedule", "remove", "justid")
    assert [s["kind"] for s in bewaar("schedule", "list", "--json").json()] == ["chat"]
    weak = bewaar("user", "add", "a", "--role", "webteam", check=False,
                  env={"BEWAAR_NEW_PASSWORD": "short"})
    assert weak.returncode == 2 and "at least 8" in weak.stderr
    assert "Example" in bewaar("schedule", "set", "--help").stdout
    with open_db(load_settings(home=bewaar.home))() as db:
        stored = db.execute(text("SELECT password_hash FROM users")).all()
    assert stored == []  # nothing half-made by the refused commands


def test_web_team_fixes_a_typo_and_removes_a_site(server: Server) -> None:
    with server.as_("wendy") as c:
        made = c.post("/api/sites", json={"name": "justid", "seeds": ["https://www.justdi.nl/"]})
        assert made.status_code == 201
        fixed = c.patch("/api/sites/justid", json={"seeds": ["https://www.justid.nl/"],
                                                   "schedule": "0 4 * * *"})
        assert fixed.status_code == 200, fixed.text
        site = c.get("/api/sites/justid").json()
        assert site["seeds"] == ["https://www.justid.nl/"] and site["schedule"] == "0 4 * * *"
        spaced = c.patch("/api/sites/justid", json={"seeds": ["http://exa mple.nl/pad"]})
        assert spaced.status_code == 400 and "white space" in spaced.json()["detail"]
        assert c.get("/api/sites/justid").json()["seeds"] == ["https://www.justid.nl/"]
        gone = c.delete("/api/sites/justid")
        assert gone.status_code == 200 and gone.json()["outcome"] == "deleted"
        assert c.get("/api/sites").json() == [] and c.get("/api/schedules").json() == []
    # The add-site form: a seed with a space is refused whole, not cut into two seeds.
    browser = httpx.Client(base_url=server.url, timeout=30)
    browser.post("/login", data={"name": "wendy", "password": PASSWORD})
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', browser.get("/sites").text)
    assert token is not None
    refused = browser.post("/sites", data={"name": "typo", "seeds": "http://exa mple.nl/pad",
                                           "csrf": token[1]})
    assert refused.status_code == 400
    browser.close()
    with server.as_("wendy") as c:
        assert c.get("/api/sites").json() == []
    edits = [(a, t) for _, a, t, _ in audit_rows(server.home) if a.startswith("site.")]
    assert ("site.edit", "justid") in edits and ("site.remove", "justid") in edits


def test_a_disabled_user_and_a_revoked_token_stop_at_once(server: Server, bewaar) -> None:  # type: ignore[no-untyped-def]
    browser = httpx.Client(base_url=server.url, timeout=30)
    assert browser.post("/login", data={"name": "wendy", "password": PASSWORD}).status_code == 303
    assert browser.get("/sites").status_code == 200
    with server.as_("wendy") as c:
        assert c.get("/api/me").status_code == 200
    bewaar("user", "disable", "wendy")
    with server.as_("wendy") as c:
        assert c.get("/api/me").status_code == 401
    assert browser.get("/sites", follow_redirects=False).status_code == 303  # to the login
    assert browser.post("/login", data={"name": "wendy", "password": PASSWORD}).status_code == 401
    bewaar("user", "enable", "wendy")
    with server.as_("wendy") as c:
        assert c.get("/api/me").status_code == 200  # the token works again; the session not
    assert browser.get("/sites", follow_redirects=False).status_code == 303
    browser.close()
    listed = bewaar("token", "list", "--json").json()
    wendy = [t for t in listed if t["user"] == "wendy"]
    assert wendy and "token" not in wendy[0]  # never the secret
    bewaar("token", "revoke", str(wendy[0]["id"]))
    with server.as_("wendy") as c:
        assert c.get("/api/me").status_code == 401
    again = bewaar("token", "revoke", str(wendy[0]["id"]), check=False)
    assert again.returncode == 2 and "revoked already" in again.stderr
    # An admin does the same through the API.
    admin = bewaar("user", "add", "beheer", "--role", "admin", "--json",
                   env={"BEWAAR_NEW_PASSWORD": PASSWORD}).json()
    assert admin["role"] == "admin"
    made = bewaar("token", "create", "beheer", "--json").json()
    with httpx.Client(base_url=server.url, timeout=30,
                      headers={"Authorization": f"Bearer {made['token']}"}) as c:
        assert c.patch("/api/users/rik", json={"disabled": True}).json()["disabled"] is True
        assert c.patch("/api/users/rik", json={"password": "short"}).status_code == 400
        assert c.delete("/api/users/rik").status_code == 200
        assert "rik" not in {u["name"] for u in c.get("/api/users").json()}
    with server.as_("aud") as c:
        assert c.get("/api/users").status_code == 403
    actions = {(a, t) for _, a, t, _ in audit_rows(server.home)}
    assert {("user.disable", "wendy"), ("user.enable", "wendy"), ("user.disable", "rik"),
            ("user.remove", "rik")} <= actions


def test_qa_report_screenshots_open_in_the_web_app(server: Server) -> None:
    """The report's screenshot links (qa-shots/NNNN-live.png, beside qa-report.html) resolve
    under /api/runs/N/, where the web app serves the report."""
    run = server.home / "runs" / "7"
    (run / "qa-shots").mkdir(parents=True)
    png = b"\x89PNG\r\n\x1a\n" + b"\0" * 32  # as the browser check writes them
    (run / "qa-shots" / "0001-live.png").write_bytes(png)
    (run / "qa-report.html").write_text('<img src="qa-shots/0001-live.png">')
    (server.home / "secret.png").write_bytes(b"not for you")
    with server.as_("aud") as c:
        report = c.get("/api/runs/7/qa-report")
        assert report.status_code == 200
        src = re.search(r'src="([^"]+)"', report.text)
        assert src is not None
        shot = c.get(httpx.URL(str(report.url)).join(src[1]))
        assert shot.status_code == 200 and shot.content == png
        assert shot.headers["content-type"] == "image/png"
        assert c.get("/api/runs/7/qa-shots/..%2F..%2Fsecret.png").status_code == 404
