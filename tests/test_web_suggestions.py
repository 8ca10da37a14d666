"""A records manager reviews the digital archivist's suggestions on the web page of a real
`bewaar serve`: she reads each value in the text it was found in, accepts one (a new package
version is sealed), rejects one with a reason, and accepts the rest of a field in bulk above a
confidence. Checked outside the web app: the chat package's own messages.csv (the marked text),
bagit-python on the new version, the suggestions and audit tables (SQL)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from lxml import html

from tests.test_archivist import BAGIT, DUTCH_CHAT, ROOT, _bodies
from tests.test_service_web import Server, server  # noqa: F401 - the fixture
from tests.test_web_access_pages import axe_finds_nothing, csrf, logged_in, sql


@pytest.fixture
def enriched(bewaar: Any, tmp_path: Path, model_cache: Path) -> Path:
    """A Dutch WhatsApp chat imported with enrich_after_archiving on: its package."""
    bewaar.env.update({"BEWAAR_ENRICH_AFTER_ARCHIVING": "true",
                       "BEWAAR_ARCHIVIST_CACHE": str(model_cache)})
    bewaar("selectielijst", "load", str(ROOT / "bewaar/demo/selectielijst.toml"))
    bewaar("keys", "init")
    bewaar("chat", "add", "whatsapp", "crisisteam", "--category", "CHAT-2", "--locale", "nl")
    export = tmp_path / "WhatsApp-chat met Crisisteam.txt"
    export.write_text(DUTCH_CHAT, encoding="utf-8")
    return Path(bewaar("chat", "import", "crisisteam", str(export), "--json",
                       timeout=1100).json()["package"])


@pytest.mark.timeout(1200)
def test_a_records_manager_reviews_suggestions(enriched: Path, server: Server) -> None:  # noqa: F811
    rik = logged_in(server, "rik")
    page = rik.get("/suggestions?field=pii")
    assert page.status_code == 200
    doc = html.fromstring(page.text)

    # the phone number is shown in the message it was found in, the number itself marked
    bodies = _bodies(enriched)
    [phone] = doc.xpath("//li[@data-field='pii.phone']")
    quote = phone.xpath(".//blockquote/p")[0].text_content()
    assert phone.xpath("string(.//mark)") == "06-12345678"
    assert any(quote.strip("…") in body for body in bodies.values()), quote

    # reject it with a reason (refused without one)
    sid = phone.get("data-suggestion")
    token = csrf(page.text)
    bad = rik.post(f"/suggestions/{sid}/reject", data={"csrf": token, "reason": ""})
    assert bad.status_code == 400
    assert html.fromstring(bad.text).xpath(f"//input[@id='reason-{sid}']/@aria-invalid") == [
        "true"]
    assert rik.post(f"/suggestions/{sid}/reject", data={
        "csrf": token, "reason": "Dienstnummer, geen persoonsgegeven"}).status_code == 303

    # accept the language: a new version of the package is sealed, and it validates
    [language] = sql(server, "SELECT id FROM suggestions WHERE field = 'language'")
    done = rik.post(f"/suggestions/{language[0]}/accept", data={"csrf": token})
    assert done.status_code == 303
    [(new_version,)] = sql(server, "SELECT applied_package FROM suggestions WHERE id = :i",
                           i=language[0])
    assert new_version and new_version != enriched.name
    check = subprocess.run([sys.executable, BAGIT, "--validate",
                            str(enriched.parent / new_version / "bag")],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr

    # bulk: a confidence that is no number is refused; then every person at 0.0 or more
    assert rik.post("/suggestions/bulk", data={"csrf": token, "field": "person",
                                               "confidence": "hoog"}).status_code == 400
    persons = sql(server, "SELECT count(*) FROM suggestions WHERE field = 'person' AND "
                          "state = 'proposed'")[0][0]
    assert persons >= 2
    assert rik.post("/suggestions/bulk", data={"csrf": token, "field": "person",
                                               "confidence": "0"}).status_code == 303
    assert sql(server, "SELECT count(*) FROM suggestions WHERE field = 'person' AND "
                       "state = 'accepted' AND decided_by = 'rik'")[0][0] == persons
    # one new version for all of them (not one per person), chained after the first
    versions = sql(server, "SELECT count(*) FROM packages WHERE source_name = 'crisisteam'")
    assert versions[0][0] == 3

    rows = sql(server, "SELECT action, outcome FROM audit_log WHERE actor = 'rik' AND action "
                       "LIKE 'suggestion.%' ORDER BY id")
    assert [tuple(r) for r in rows[:3]] == [("suggestion.reject", "failed"),
                                            ("suggestion.reject", "ok"),
                                            ("suggestion.accept", "ok")]
    assert len(rows) == 3 + persons
    assert logged_in(server, "wendy").get("/suggestions").status_code == 403
    axe_finds_nothing(server, "rik", "/suggestions", "/suggestions?field=pii&state=rejected")
