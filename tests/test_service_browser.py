"""A web team member in headless Chromium: log in, add a site, see it listed, click "crawl now"."""

from __future__ import annotations

import shutil

import pytest

from archive.settings import load_settings
from bewaar.services.accounts import add_user
from tests.test_service_scheduler import wait_for
from tests.test_service_web import PASSWORD, Server, audit_rows
from tests.test_service_web import server as server  # noqa: F401  (the fixture)

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(shutil.which(CHROMIUM) is None, reason=f"no Chromium at {CHROMIUM}"),
]


def test_web_team_in_the_browser(server: Server) -> None:  # noqa: F811
    from playwright.sync_api import sync_playwright

    add_user(load_settings(home=server.home), "test", "anna", "webteam", PASSWORD)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=60_000)
        try:
            page = browser.new_page()
            page.set_default_timeout(30_000)
            page.goto(server.url + "/sites")
            assert "/login" in page.url  # not logged in yet
            page.fill("input[name=name]", "anna")
            page.fill("input[name=password]", "wrong password")
            page.click("#login button[type=submit]")
            assert "Onjuiste gebruikersnaam of wachtwoord" in page.get_by_role("alert").inner_text()
            page.fill("input[name=name]", "anna")
            page.fill("input[name=password]", PASSWORD)
            page.click("#login button[type=submit]")
            page.wait_for_url(server.url + "/sites")
            page.fill("#add-site input[name=name]", "justid")
            page.fill("#add-site textarea[name=seeds]", "https://www.justid.nl/")
            page.fill("#add-site input[name=schedule]", "0 3 * * *")
            page.click("#add-site button[type=submit]")
            row = page.locator("tr[data-site=justid]")
            row.wait_for()
            assert "0 3 * * *" in row.inner_text()
            row.get_by_role("button", name="Nu crawlen").click()
            assert "Crawl van justid gestart" in page.get_by_role("status").inner_text()
        finally:
            browser.close()
    wait_for(lambda: any(a == "crawl.request" and actor == "anna"
                         for actor, a, _, _ in audit_rows(server.home)), what="audit row")
    assert any(a == "site.add" and actor == "anna" for actor, a, _, _ in audit_rows(server.home))
