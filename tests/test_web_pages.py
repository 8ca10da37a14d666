"""Every page of the web app as each role sees it, in headless Chromium against one real
`bewaar serve` on 127.0.0.1: it loads (or is refused with 403), axe-core finds no serious or
critical WCAG 2.1 AA violation, nothing is fetched from another host, the page is in Dutch
unless the user chose English; the main forms work by keyboard.

The pages are checked with independent tools: axe-core (axe-playwright-python) in Chromium, and
the Dutch catalogue against what Babel extracts from the templates and code.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from archive.settings import load_settings
from bewaar.services.accounts import add_user
from tests.conftest import BEWAAR, ROOT, TEST_ORGANISATION
from tests.webserve import running_serve

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run", "--no-default-browser-check"]
PASSWORD = "correct horse battery"
USERS = {"webteam": "wendy", "records": "rik", "archivist": "arie", "auditor": "aud",
         "admin": "ada"}
WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]

# What each role may open (besides the start page and the menu's items, which are checked too);
# the demo makes the site "demo" with crawl run 1, its collection and its sealed package; the
# fixture adds the WhatsApp source "minister" with one import.
MAY = {
    "webteam": {"/", "/sites", "/sites/demo", "/sites/demo/edit", "/runs/1"},
    "records": {"/", "/sites", "/sites/demo", "/runs/1", "/collections", "/packages", "/chats",
                "/chats/minister", "/search", "/retention", "/woo", "/woo/1"},
    "archivist": {"/", "/sites", "/sites/demo", "/runs/1", "/retention"},
    "auditor": {"/", "/sites", "/sites/demo", "/runs/1", "/packages", "/audit", "/chats",
                "/chats/minister", "/search", "/retention"},
    "admin": {"/", "/sites", "/sites/demo", "/sites/demo/edit", "/runs/1", "/collections",
              "/packages", "/audit", "/chats", "/chats/minister", "/search", "/retention",
              "/admin", "/woo", "/woo/1"},
}
# the harvest overview (everyone), access rules and fixity (records, auditors)
for _role in MAY:
    MAY[_role] |= {"/harvests"} | (set() if _role in ("webteam", "archivist")
                                   else {"/access", "/fixity", "/suggestions"})
    if "/retention" in MAY[_role]:
        MAY[_role] |= {"/retention/destruction", "/retention/transfers"}
    if "/search" in MAY[_role]:
        MAY[_role].add("/search?q=vergadering")  # hits from the fixture's chat import
ALL = set().union(*MAY.values())
MENU_ORDER = ["Websites", "Chats", "Zoeken", "Woo-verzoeken", "Pakketten", "Bewaartermijnen", "Controle", "Beheer"]


def in_browser(test: Any) -> Any:
    """Mark a test that drives Chromium (skipped without it, unless BEWAAR_REQUIRE_BROWSER)."""
    needs = pytest.mark.skipif(shutil.which(CHROMIUM) is None and not os.environ.get(
        "BEWAAR_REQUIRE_BROWSER"), reason=f"no Chromium at {CHROMIUM}")
    return pytest.mark.browser(needs(test))


@dataclass
class Served:
    url: str
    home: Path
    requests: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def served() -> Iterator[Served]:
    """One `bewaar serve` with the demo archived and a user per role."""
    if not (ROOT / "bewaar/web/static/vendor/rhc/components.css").exists():
        pytest.fail("the web assets are not installed: run scripts/setup --test (needs npm)")
    tmp = Path(tempfile.mkdtemp(prefix="bewaar-web-pages-"))
    home = tmp / "home"
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("BEWAAR_") or k.startswith("BEWAAR_TEST")}
    env.update(TEST_ORGANISATION, BEWAAR_HOME=str(home), PYTHONPATH=str(ROOT),
               BEWAAR_ENRICH_AFTER_ARCHIVING="false")  # no archivist models: not tested here
    demo = subprocess.run([*BEWAAR, "demo", "--json"], env=env, capture_output=True, text=True,
                          timeout=300, stdin=subprocess.DEVNULL)
    assert demo.returncode == 0, demo.stderr
    for args in (["chat", "add", "whatsapp", "minister", "--category", "CHAT-1"],
                 ["chat", "import", "minister",
                  str(ROOT / "tests/chat_exports/whatsapp_android_nl.txt")]):
        made = subprocess.run([*BEWAAR, *args], env=env, capture_output=True, text=True,
                              timeout=300, stdin=subprocess.DEVNULL)
        assert made.returncode == 0, made.stderr
    settings = load_settings(home=home)
    for role, name in USERS.items():
        add_user(settings, "test", name, role, PASSWORD)
    from bewaar.services import woo

    woo.new(settings, USERS["records"], "Verzoek over de begroting", "begroting")  # /woo/1
    with running_serve(env, tmp / "serve.log") as url:
        yield Served(url, home)
        shutil.rmtree(tmp, ignore_errors=True)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=60_000)
        try:
            yield b
        finally:
            b.close()


def new_page(browser: Any, served: Served) -> Any:
    """A page in a fresh context (its own cookies) that records every request it makes."""
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(30_000)
    page.on("request", lambda r: served.requests.append(r.url))
    return page


def login(page: Any, served: Served, name: str) -> None:
    page.goto(served.url + "/login")
    page.fill("#login-name", name)
    page.fill("#login-password", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_url(served.url + "/")


def serious(page: Any) -> list[str]:
    """axe-core's serious and critical WCAG 2.1 A/AA violations on the page, described."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": WCAG}})
    return [f"{v['id']} ({v['impact']}): {v['help']} at "
            + ", ".join(str(n["target"]) for n in v["nodes"][:5])
            for v in results.response["violations"] if v["impact"] in ("serious", "critical")]


def assert_local(served: Served) -> None:
    away = [u for u in served.requests
            if urlsplit(u).scheme not in ("data", "blob", "about")
            and urlsplit(u).hostname != "127.0.0.1"]
    assert away == [], f"requests left 127.0.0.1: {away}"


@in_browser
@pytest.mark.parametrize("role", list(USERS))
def test_every_page_of_each_role(browser: Any, served: Served, role: str) -> None:
    page = new_page(browser, served)
    bad_static: list[str] = []
    page.on("response", lambda r: bad_static.append(f"{r.status} {r.url}")
            if "/static/" in r.url and r.status != 200 else None)
    login(page, served, USERS[role])
    menu = page.locator("nav[aria-label=Hoofdmenu] a")
    labels = menu.all_inner_texts()
    assert labels == [m for m in MENU_ORDER if m in labels]  # the menu's order
    hrefs = {urlsplit(h).path for h in (a.get_attribute("href") for a in menu.all()) if h}
    assert hrefs <= MAY[role], f"the menu shows {role} pages it may not open"
    assert len(labels) == len(hrefs) and "Websites" in labels
    if role == "admin":
        assert labels == MENU_ORDER
    problems: dict[str, list[str]] = {}
    for path in sorted(MAY[role] | hrefs):
        response = page.goto(served.url + path)
        assert response is not None and response.status == 200, (path, response and response.status)
        assert page.locator("html").get_attribute("lang") == "nl"
        assert page.locator("h1").count() == 1, path
        found = serious(page)
        if found:
            problems[path] = found
    for path in sorted(ALL - MAY[role]):
        response = page.goto(served.url + path)
        assert response is not None and response.status == 403, (path, response and response.status)
        assert "Fout 403" in page.locator("h1").inner_text()
        found = serious(page)
        if found:
            problems[path + " (403)"] = found
    assert problems == {}
    assert bad_static == []
    # the NL Design System style sheets and the font are the app's own
    font = page.evaluate("getComputedStyle(document.body).fontFamily")
    assert "Fira Sans" in font
    page.context.close()
    assert_local(served)


@in_browser
def test_login_page_and_api_docs_work_offline(browser: Any, served: Served) -> None:
    page = new_page(browser, served)
    page.goto(served.url + "/login")
    assert page.locator("html").get_attribute("lang") == "nl"
    assert serious(page) == []
    page.goto(served.url + "/docs")
    page.locator(".swagger-ui .info .title").wait_for()
    assert "Bewaarplaats" in page.locator(".swagger-ui .info .title").inner_text()
    page.locator(".opblock-summary-path", has_text="/api/sites").first.wait_for()  # from /openapi.json
    page.context.close()
    assert_local(served)


def focused(page: Any) -> str:
    return str(page.evaluate(
        "(() => { const e = document.activeElement;"
        " return e.id || e.getAttribute('name') || e.getAttribute('href') || e.tagName; })()"))


def tab_until(page: Any, target: str, limit: int = 30) -> None:
    for _ in range(limit):
        page.keyboard.press("Tab")
        if focused(page) == target:
            return
    raise AssertionError(f"Tab never reached {target}")


def has_focus_ring(page: Any) -> bool:
    return bool(page.evaluate(
        "(() => { const s = getComputedStyle(document.activeElement);"
        " return (s.outlineStyle !== 'none' && parseFloat(s.outlineWidth) >= 2)"
        " || s.boxShadow !== 'none'; })()"))


@in_browser
def test_login_by_keyboard(browser: Any, served: Served) -> None:
    page = new_page(browser, served)
    page.goto(served.url + "/login")
    # the skip link comes first and moves the focus to the main content
    page.keyboard.press("Tab")
    assert focused(page) == "#main" and page.locator("a.nl-skip-link").is_visible()
    assert has_focus_ring(page)
    page.keyboard.press("Enter")
    assert focused(page) == "main"
    # Tab: user name, password, the button, in that order, each with a visible focus ring
    tab_until(page, "login-name")
    assert has_focus_ring(page)
    page.keyboard.type(USERS["webteam"])
    page.keyboard.press("Tab")
    assert focused(page) == "login-password" and has_focus_ring(page)
    page.keyboard.type("not the password")
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.type") == "submit" and has_focus_ring(page)
    assert page.get_by_label("Gebruikersnaam").get_attribute("id") == "login-name"
    assert page.get_by_label("Wachtwoord").get_attribute("id") == "login-password"
    page.keyboard.press("Enter")
    # the error is announced and tied to both fields
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "Onjuiste gebruikersnaam of wachtwoord" in alert.inner_text()
    for fid in ("login-name", "login-password"):
        box = page.locator(f"#{fid}")
        assert box.get_attribute("aria-invalid") == "true"
        assert alert.get_attribute("id") in (box.get_attribute("aria-describedby") or "").split()
    assert serious(page) == []
    # then the right password, by keyboard, logs in
    page.locator("#login-password").focus()
    page.keyboard.type(PASSWORD)
    page.keyboard.press("Enter")
    page.wait_for_url(served.url + "/")
    page.context.close()


@in_browser
def test_add_site_by_keyboard(browser: Any, served: Served) -> None:
    page = new_page(browser, served)
    login(page, served, USERS["webteam"])
    page.goto(served.url + "/sites")
    tab_until(page, "f-name")
    order = ["f-name"]
    for _ in range(7):
        page.keyboard.press("Tab")
        order.append(focused(page))
    assert order[:7] == ["f-name", "f-seeds", "f-include", "f-exclude", "f-max_pages",
                         "f-robots", "f-schedule"]
    assert page.evaluate("document.activeElement.type") == "submit"
    form = page.locator("#add-site")
    for box in form.locator("input:not([type=hidden]), textarea, select").all():
        assert box.evaluate("e => e.labels.length") == 1, box.get_attribute("name")
    assert page.get_by_label("Naam", exact=False).first.get_attribute("id") == "f-name"
    # a bad name: the error is announced beside the name field and tied to it, the input kept
    page.locator("#f-name").focus()
    page.keyboard.type("geen geldige naam")
    page.locator("#f-seeds").focus()
    page.keyboard.type("https://www.example.nl/")
    page.locator("#add-site button[type=submit]").focus()
    page.keyboard.press("Enter")
    alert = page.locator("#add-site [role=alert]")
    alert.wait_for()
    assert "geen geldige naam" in alert.inner_text()
    name = page.locator("#f-name")
    described = name.get_attribute("aria-describedby") or ""
    assert alert.get_attribute("id") in described.split()
    assert name.get_attribute("aria-invalid") == "true"
    assert page.locator("#f-seeds").input_value() == "https://www.example.nl/"
    assert serious(page) == []
    page.context.close()


@in_browser
def test_woo_redaction_in_the_browser(browser: Any, served: Served) -> None:
    """A records manager redacts a phrase of Woo request 1 with its ground, through the form."""
    import sqlite3

    page = new_page(browser, served)
    login(page, served, USERS["records"])
    page.goto(served.url + "/woo/1")
    page.get_by_label("Tekst", exact=True).fill("begroting")
    page.locator("#redact-ground").select_option("5.1.2e")
    page.locator("#woo-redact button[type=submit]").click()
    page.wait_for_url(served.url + "/woo/1**")
    assert "“begroting” [5.1.2e]" in page.locator("#redactions").inner_text()
    assert serious(page) == []
    page.context.close()
    db = sqlite3.connect(served.home / "bewaar.sqlite3")  # what the service stored
    try:
        rows = db.execute("SELECT phrase, ground FROM woo_redactions").fetchall()
    finally:
        db.close()
    assert rows == [("begroting", "5.1.2e")]
    assert_local(served)


@in_browser
def test_english_by_choice(browser: Any, served: Served) -> None:
    page = new_page(browser, served)
    page.goto(served.url + "/login")
    page.get_by_role("button", name="English").click()
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Log in"
    page.fill("#login-name", USERS["auditor"])
    page.fill("#login-password", PASSWORD)
    page.click("#login button[type=submit]")
    page.wait_for_url(served.url + "/")
    page.goto(served.url + "/audit")
    assert page.locator("html").get_attribute("lang") == "en"
    assert page.locator("h1").inner_text() == "Audit log"
    assert "Audit" in page.locator("nav[aria-label='Main menu']").inner_text()
    # the choice is the user's: kept in the database, so another browser shows English too
    page.get_by_role("button", name="Nederlands").click()
    assert page.locator("html").get_attribute("lang") == "nl"
    page.get_by_role("button", name="English").click()
    other = new_page(browser, served)
    login(other, served, USERS["auditor"])
    assert other.locator("html").get_attribute("lang") == "en"
    assert "Welcome" in other.locator("h1").inner_text()
    # dates the chosen way, labelled with their zone
    other.goto(served.url + "/audit")
    when = other.locator("main table tbody tr td:nth-child(2)").first.inner_text()
    assert when.endswith((" CET", " CEST")), when
    page.context.close()
    other.context.close()


def test_dutch_catalogue_has_every_text() -> None:
    """Every text the web app writes (templates and code, as Babel extracts them) has its Dutch
    translation, none fuzzy; the catalogue holds nothing else."""
    from babel.messages.extract import extract_from_dir
    from babel.messages.pofile import read_po

    web = ROOT / "bewaar/web"
    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2), "translate": (2,), "tr": (2,)}
    used = set()
    for _file, _line, message, _comments, _context in extract_from_dir(
            str(web), method_map, options, keywords=keywords):
        used.add(message[0] if isinstance(message, tuple) else message)
    with (web / "locale/nl/LC_MESSAGES/messages.po").open("rb") as fh:
        catalog = read_po(fh, locale="nl")
    known = {}
    for m in catalog:
        if m.id:
            known[m.id[0] if isinstance(m.id, tuple) else m.id] = m
    assert sorted(used - set(known)) == [], "texts without a Dutch translation (i18n.py says how)"
    assert sorted(set(known) - used) == [], "translations of texts no longer used"
    untranslated = [k for k, m in known.items()
                    if "fuzzy" in m.flags or not m.string
                    or (not isinstance(m.string, str) and not all(m.string))]
    assert untranslated == []


def test_app_starts_without_the_web_assets(home: Path, monkeypatch: pytest.MonkeyPatch,
                                           caplog: pytest.LogCaptureFixture) -> None:
    """A plain clone before scripts/setup: the pages are served unstyled and the log says how
    to install the style sheets."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    import httpx

    from bewaar.web import assets
    from bewaar.web.app import create_app

    monkeypatch.setattr(assets, "VENDOR", home / "no-vendor")
    with caplog.at_level("WARNING", logger="bewaar.web"):
        app = create_app(load_settings(home=home))
    assert "scripts/assets" in caplog.text

    async def get(path: str) -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app),
                                     base_url="http://127.0.0.1") as client:
            return await client.get(path)

    with ThreadPoolExecutor(1) as pool:  # playwright's loop may be running in this thread
        page = pool.submit(asyncio.run, get("/login")).result(timeout=60)
    assert page.status_code == 200 and '<html lang="nl">' in page.text
    assert "Inloggen" in page.text and "/static/vendor/" not in page.text
    assert "/static/app.css" in page.text
