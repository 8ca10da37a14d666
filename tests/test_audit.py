"""An auditor reads `bewaar audit` and finds every change made from the command line: who, what,
on what, and how it ended — refused changes too — and never a secret."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tests.sites import NormalSite

ROOT = Path(__file__).resolve().parents[1]
PASSWORD = "correct horse battery"
NEW_PASSWORD = "staple battery horse"


def rows(bewaar: Any, *args: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = bewaar("audit", "--json", "--limit", "5000", *args).json()
    return out


@pytest.fixture
def site() -> Any:
    with NormalSite(pages=3) as s:
        yield s


def test_every_cli_change_leaves_its_audit_row(bewaar: Any, site: NormalSite,
                                               tmp_path: Path) -> None:
    pw = {"BEWAAR_NEW_PASSWORD": PASSWORD}
    steps: list[tuple[tuple[str, ...], dict[str, str] | None]] = [
        (("selectielijst", "load", str(ROOT / "bewaar/demo/selectielijst.toml")), None),
        (("keys", "init"), None),
        (("site", "add", "demo", "--seed", site.url, "--category", "WEB-1"), None),
        (("site", "edit", "demo", "--max-pages", "50"), None),
        (("schedule", "set", "demo", "0 3 * * *"), None),
        (("schedule", "remove", "demo"), None),
    ]
    for args, env in steps:
        bewaar(*args, env=env)
    run = str(bewaar("crawl", "--site", "demo", "--json").json()["run_id"])
    prefix = site.url + "page/1"
    more: list[tuple[tuple[str, ...], dict[str, str] | None]] = [
        (("seal", run, "--again"), None),
        (("replay", "add", run), None),
        (("replay", "exclude", prefix), None),
        (("replay", "allow", prefix), None),
        (("replay", "embargo", "demo", "30"), None),
        (("export", "wacz", run, "-o", str(tmp_path / "demo.wacz")), None),
        (("fixity",), None),
        (("schedule", "run", "demo"), None),
        (("user", "add", "anna", "--role", "webteam"), pw),
        (("user", "role", "anna", "records"), None),
        (("user", "disable", "anna"), None),
        (("user", "enable", "anna"), None),
        (("user", "password", "anna"), {"BEWAAR_NEW_PASSWORD": NEW_PASSWORD}),
        (("chat", "add", "matrix", "team", "--homeserver", "http://127.0.0.1:9",
          "--user", "@archief:example.nl", "--password-env", "TEAM_PW", "--all-joined",
          "--category", "CHAT-1"), None),
        (("site", "add", "scratch", "--seed", "https://scratch.example.nl/"), None),
        (("site", "remove", "scratch"), None),
        (("site", "remove", "demo"), None),
    ]
    for args, env in more:
        bewaar(*args, env=env)
    token = bewaar("token", "create", "anna", "--label", "nightly", "--json").json()
    bewaar("token", "revoke", str(token["id"]))
    hold = bewaar("hold", "add", "--site", "demo", "--reason", "Woo-verzoek 2026-17",
                  "--json").json()
    bewaar("hold", "release", str(hold["id"]))
    bewaar("replay", "check", run, check=False)  # a retired site's run can still be checked
    bewaar("user", "remove", "anna")

    log = rows(bewaar)
    seen = {(r["action"], r["target"]) for r in log if r["outcome"] in ("ok", "failed")}
    actor = log[0]["actor"]
    assert actor.startswith("cli") and all(r["actor"] in (actor, "?") for r in log)
    expected = {
        ("selectielijst.load", "selectielijst.toml"), ("site.add", "demo"),
        ("site.edit", "demo"), ("schedule.set", "crawl:demo"),
        ("schedule.remove", "crawl:demo"), ("crawl.run", "demo"), ("replay.add", run),
        ("replay.check", run), ("package.seal", run), ("access.exclude", prefix),
        ("access.allow", prefix), ("access.embargo", "demo"), ("export.wacz", run),
        ("fixity.check", None), ("crawl.request", "demo"), ("user.add", "anna"),
        ("user.role", "anna"), ("user.disable", "anna"), ("user.enable", "anna"),
        ("user.password", "anna"), ("user.remove", "anna"), ("token.create", "anna"),
        ("token.revoke", str(token["id"])), ("chat.add", "team"), ("site.add", "scratch"),
        ("site.remove", "scratch"), ("site.remove", "demo"), ("hold.release", f"hold:{hold['id']}"),
    }
    assert expected <= seen, sorted(expected - seen)
    assert any(r["action"] == "keys.init" for r in log)
    assert any(r["action"] == "hold.add" and r["outcome"] == "ok" for r in log)
    by_action = {(r["action"], r["target"]): r for r in log}
    assert by_action[("site.remove", "scratch")]["detail"]["outcome"] == "deleted"
    assert by_action[("site.remove", "demo")]["detail"]["outcome"] == "retired"
    assert by_action[("site.edit", "demo")]["detail"]["changed"]["max_pages"] == {
        "old": None, "new": 50}
    assert by_action[("crawl.run", "demo")]["detail"]["run_id"] == int(run)
    seals = [r for r in log if r["action"] == "package.seal"]
    assert len(seals) == 2 and all(r["outcome"] == "ok" for r in seals)  # after crawl, --again

    # Filters: by action prefix and by actor.
    sites = rows(bewaar, "--action", "site.")
    assert sites and {r["action"] for r in sites} == {"site.add", "site.edit", "site.remove"}
    assert rows(bewaar, "--actor", "nobody") == []
    assert len(rows(bewaar, "--limit", "3")) == 3 or len(log) < 3

    # No secret anywhere in the log: not the passwords, not the token.
    raw = sqlite3.connect(bewaar.home / "bewaar.sqlite3").execute(
        "SELECT actor, action, target, detail FROM audit_log").fetchall()
    text = repr(raw)
    for secret in (PASSWORD, NEW_PASSWORD, token["token"]):
        assert secret not in text


def test_a_refused_change_is_recorded_and_changes_nothing(bewaar: Any) -> None:
    bad = bewaar("site", "add", "typo", "--seed", "http://exa mple.nl/pad", check=False)
    assert bad.returncode == 2 and "white space" in bad.stderr
    adhoc = bewaar("crawl", "not-a-url", check=False)
    assert adhoc.returncode == 2 and "not a web address" in adhoc.stderr
    assert bewaar("site", "list", "--json").json() == []  # nothing registered
    failed = [r for r in rows(bewaar) if r["outcome"] == "failed"]
    assert {(r["action"], r["target"]) for r in failed} >= {("site.add", "typo"),
                                                            ("crawl.run", None)}
    assert all(r["detail"].get("error") for r in failed)


def test_only_the_service_layer_writes_audit_rows() -> None:
    """One writer, so no face can forget a row or write one its own way."""
    writers = []
    for path in ROOT.glob("*/**/*.py"):
        rel = path.relative_to(ROOT).as_posix()
        if rel.startswith((".venv", "tests/", "archive/migrations/", "bench/")):
            continue
        text = path.read_text()
        if re.search(r"(?<!class )AuditEvent\(|INSERT INTO audit_log", text):
            writers.append(rel)
    assert writers == ["bewaar/services/audit.py"]
    faces = [p for p in (ROOT / "bewaar").glob("*/*.py") if "services" not in p.parts]
    for face in faces:  # the faces reach the record only through the services
        assert "bewaar.web.records" not in face.read_text(), face
