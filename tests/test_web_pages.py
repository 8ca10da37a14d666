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


def _client(served: Served, name: str) -> Any:
    import httpx

    c = httpx.Client(base_url=served.url, timeout=120)
    r = c.post("/login", data={"name": name, "password": PASSWORD})
    assert r.status_code == 303 and c.cookies.get("bewaar_session"), r.text
    return c


def _alerts(body: str) -> list[str]:
    from lxml import html

    return [" ".join(a.text_content().split())
            for a in html.fromstring(body).xpath("//main//*[@role='alert']")]


def _token(body: str) -> str:
    import re

    found = re.search(r'name="csrf" value="([0-9a-f]+)"', body)
    assert found, "the page has no form with the CSRF token"
    return found[1]


def test_form_errors_in_the_viewers_language(served: Served) -> None:
    """A service's refusal, shown beside the form: in Dutch on a Dutch page (the words it
    embeds too), in English for a user who chose English; the API keeps the English ``detail``
    and adds ``message`` in the caller's language and the ``field``; the audit row keeps the
    English (as the CLI prints it). Against the real `bewaar serve`; the Dutch expected here is
    written out, not taken from the catalogue."""
    import json
    import sqlite3

    from bewaar.services.accounts import create_token

    site = {"name": "demo", "seeds": "https://www.example.nl/"}
    wendy = _client(served, USERS["webteam"])
    bad = wendy.post("/sites", data={"csrf": _token(wendy.get("/sites").text), **site})
    assert bad.status_code == 400
    assert "er bestaat al een website met de naam 'demo'" in _alerts(bad.text), bad.text
    assert "exists already" not in bad.text
    seed = wendy.post("/sites", data={"csrf": _token(wendy.get("/sites").text),
                                      "name": "nieuw", "seeds": "ftp://x.nl/"})
    assert seed.status_code == 400 and "geen http(s)-URL: 'ftp://x.nl/'" in _alerts(seed.text)
    cron = wendy.post("/sites/demo/schedule", data={"csrf": _token(wendy.get("/sites").text),
                                                    "cron": "elke dag"})
    assert cron.status_code == 400  # the schedule check's help is translated with it
    assert any("onjuiste cron-uitdrukking 'elke dag': 2 velden; gebruik 5 velden" in a
               for a in _alerts(cron.text)), cron.text

    rik = _client(served, USERS["records"])
    token = _token(rik.get("/retention").text)
    held = rik.post("/retention/holds", data={"csrf": token, "scope": "site", "target": "",
                                              "reason": "bezwaar", "until": ""})
    assert held.status_code == 400  # the step's word ("site") is translated with it
    assert "noem wat onder de bewaarplicht valt (website)" in _alerts(held.text), held.text
    early = rik.post("/retention/holds", data={"csrf": token, "scope": "site",
                                               "target": "demo", "reason": "bezwaar",
                                               "until": "2001-01-01"})
    assert early.status_code == 400
    assert any("de einddatum 2001-01-01 is al voorbij" in a for a in _alerts(early.text))
    untitled = rik.post("/woo", data={"csrf": _token(rik.get("/woo").text), "title": "",
                                      "query": "begroting", "from": "", "to": ""})
    assert untitled.status_code == 400
    assert "geef de titel van het verzoek" in untitled.text
    quoted = rik.post("/woo", data={"csrf": _token(rik.get("/woo").text), "title": "Kapot",
                                    "query": '"begroting', "from": "", "to": ""})
    assert quoted.status_code == 400  # the search's own check, in Dutch too
    assert any(a.startswith("aanhalingstekens kloppen niet") for a in _alerts(quoted.text))
    rik.close()

    # a user who chose English reads the same refusal in English
    settings = load_settings(home=served.home)
    add_user(settings, "test", "edward", "webteam", PASSWORD)
    edward = _client(served, "edward")
    chosen = edward.post("/language", data={"csrf": _token(edward.get("/sites").text),
                                            "locale": "en", "next": "/sites"})
    assert chosen.status_code == 303
    again = edward.post("/sites", data={"csrf": _token(edward.get("/sites").text), **site})
    assert again.status_code == 400
    assert "a site named 'demo' exists already" in _alerts(again.text), again.text
    edward.close()

    # the API: English detail for scripts, the message in the caller's language (Dutch)
    secret = create_token(settings, "test", USERS["webteam"], "test")["token"]
    api = wendy.post("/api/sites", json={"name": "demo", "seeds": ["https://www.example.nl/"]},
                     headers={"Authorization": f"Bearer {secret}"})
    assert api.status_code == 400, api.text
    assert api.json() == {"detail": "a site named 'demo' exists already",
                          "message": "er bestaat al een website met de naam 'demo'",
                          "field": "name"}
    wendy.close()
    db = sqlite3.connect(served.home / "bewaar.sqlite3")
    try:
        rows = db.execute("SELECT detail FROM audit_log WHERE action = 'site.add' "
                          "AND outcome = 'failed'").fetchall()
    finally:
        db.close()
    reasons = [json.dumps(json.loads(d), ensure_ascii=False) for (d,) in rows]
    assert sum("a site named 'demo' exists already" in r for r in reasons) == 3, reasons
    assert any("not an http(s) URL: 'ftp://x.nl/'" in r for r in reasons), reasons
    assert not any("bestaat" in r or "geen http" in r for r in reasons), reasons


SELECT_JS = """([nth]) => {
    // the nth (0: first) place of a line the text has twice, selected as a user would: a
    // DOM Range put into the page's Selection
    const pre = document.getElementById('doc-text');
    const text = pre.textContent;
    const line = text.split('\\n').find(l => l.trim() && text.split(l).length > 2);
    let at = text.indexOf(line);
    for (let i = 0; i < nth; i++) at = text.indexOf(line, at + line.length);
    const spot = (offset) => {
        const walker = document.createTreeWalker(pre, NodeFilter.SHOW_TEXT);
        let seen = 0;
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            if (offset <= seen + node.data.length) return [node, offset - seen];
            seen += node.data.length;
        }
        throw new Error('offset outside the text');
    };
    const range = document.createRange();
    range.setStart(...spot(at));
    range.setEnd(...spot(at + line.length));
    const sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    return line;
}"""


@in_browser
def test_woo_redaction_by_selecting_text(browser: Any, served: Served) -> None:
    """A records manager selects a passage of one document (a real DOM Range in the page's
    Selection: the second of two identical lines), chooses the ground and presses the button by
    keyboard: that occurrence only is redacted (the span checked against the stored text with
    Python's str.find), announced in the live region, axe-core clean; the exported PDF
    (pdftotext) has the line once where it had it twice, and the ground in its place; the
    audit row names the span, not the words."""
    import json
    import sqlite3

    from bewaar.services import woo

    db = sqlite3.connect(served.home / "bewaar.sqlite3")
    try:
        docs = db.execute("SELECT number, text, kind FROM woo_documents WHERE request_id = 1 "
                          "AND dropped = 0 ORDER BY number").fetchall()
    finally:
        db.close()
    twice = [(n, t) for n, t, kind in docs if kind == "chat"
             and any(ln.strip() and t.count(ln) >= 2 for ln in t.split("\n"))]
    assert twice, "no document of request 1 has a line twice (the chat has '… ok' twice)"
    number, stored = twice[0]

    # without JavaScript the text is shown, the selection tool is not, the phrase form works
    plain = browser.new_context(java_script_enabled=False).new_page()
    plain.set_default_timeout(30_000)
    login(plain, served, USERS["records"])
    plain.goto(served.url + f"/woo/1?doc={number}")
    assert plain.locator("#doc-text").is_visible()
    assert plain.locator("#woo-redact-selection").is_hidden()
    plain.get_by_label("Tekst", exact=True).fill("teruggezet")
    plain.locator("#woo-redact button[type=submit]").click()
    plain.wait_for_url(served.url + "/woo/1?msg=**")
    assert "“teruggezet” [5.1.2e]" in plain.locator("#redactions").inner_text()
    plain.context.close()

    page = new_page(browser, served)
    login(page, served, USERS["records"])
    page.goto(served.url + f"/woo/1?doc={number}")
    tool = page.locator("#woo-redact-selection")
    tool.wait_for(state="visible")  # the script showed it
    assert serious(page) == []
    line = page.evaluate(SELECT_JS, [1])
    first = stored.find(line)
    second = stored.find(line, first + len(line))
    assert first >= 0 and second > first
    status = page.locator("#redact-selection-status")
    page.wait_for_function("document.getElementById('redact-selection-status').textContent"
                           ".includes('Geselecteerd')")
    ground = page.locator("#redact-selection-ground")
    ground.select_option("5.1.2i")
    ground.focus()
    page.keyboard.press("Tab")  # the button is next in the focus order
    assert focused(page) == "redact-selection-button"
    page.keyboard.press("Enter")
    page.wait_for_function("document.getElementById('redact-selection-status').textContent"
                           ".startsWith('Gelakt in document')")
    assert f"tekens {second}:{second + len(line)}" in status.inner_text()
    assert status.get_attribute("role") == "status"
    marks = page.locator("#doc-text mark[data-ground='5.1.2i']")
    assert marks.count() == 1 and marks.first.inner_text() == line
    assert f"document {number}, tekens {second}:{second + len(line)} [5.1.2i]" in (
        page.locator("#redactions").inner_text())
    assert serious(page) == []

    db = sqlite3.connect(served.home / "bewaar.sqlite3")
    try:
        spans = db.execute("SELECT r.start, r.\"end\", r.ground, r.phrase FROM woo_redactions r "
                           "JOIN woo_documents d ON d.id = r.document_id "
                           "WHERE d.request_id = 1 AND d.number = ?", (number,)).fetchall()
        audit = db.execute("SELECT actor, outcome, detail FROM audit_log WHERE action = "
                           "'woo.redact' ORDER BY id DESC LIMIT 1").fetchone()
    finally:
        db.close()
    assert spans == [(second, second + len(line), "5.1.2i", None)]
    assert audit[:2] == (USERS["records"], "ok")
    detail = json.loads(audit[2])
    assert detail["span"] == f"{second}:{second + len(line)}" and detail["ground"] == "5.1.2i"
    assert line not in json.dumps(detail, ensure_ascii=False)

    # decide (this document partly public, the others withheld), export on the page: the PDF
    settings = load_settings(home=served.home)
    for n, _, _ in docs:
        woo.decide(settings, USERS["records"], 1, n, "deels" if n == number else "niet",
                   ["5.1.2i"] if n == number else ["5.1.2e"])
    page.goto(served.url + "/woo/1")
    page.locator("#woo-export button[type=submit]").click()
    page.wait_for_url("**/woo/1?msg=**")
    page.context.close()
    [out] = [p for p in (served.home / "woo-exports").iterdir()
             if p.is_dir() and p.name.startswith("woo-1-")]
    [pdf] = out.glob(f"documenten/WOO-1-{number:03d}.pdf")
    shown = subprocess.run(["pdftotext", "-enc", "UTF-8", str(pdf), "-"], capture_output=True,
                           text=True, timeout=60, check=True).stdout
    assert stored.count(line) == 2 and shown.count(line) == 1, shown
    assert "[5.1.2i]" in shown
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


# The error classes whose first argument is a message template (bewaar/web/i18n.py).
ERRORS = ("InputError", "NotFoundError", "BewaarError", "AccountError", "ValidationError",
          "GroundError", "RedactionError", "UploadError", "BadInput", "ScheduleError", "SeedError",
          "QueryError", "ExportError", "AccessRuleError", "SelectielijstError", "ChatError",
          "UnknownRoomError", "SecretError")
# The errors about an export file: the file first, the template second
# (chat_archiver.exports.base.ExportFileError).
FILE_ERRORS = ("ExportFileError", "NotAnExportError", "UnsafeArchiveError",
               "ExportEncodingError", "UnknownLocaleError")
# Where the messages of the catalogue are written: the web app and the layer under it (and the
# seed, schedule and query checks, whose refusals the site, search and Woo pages show, and the
# chat import's, shown on the chat pages).
MESSAGE_DIRS = ("bewaar/web", "bewaar/services", "woo", "chat_archiver/exports")
MESSAGE_FILES = ("scheduler/cron.py", "scheduler/schedules.py", "archive/urls.py",
                 "search/query.py", "replay/access.py", "archive/package/selectielijst.py",
                 "chat_archiver/imports.py", "chat_archiver/export.py")


def _catalogue() -> Any:
    from babel.messages.pofile import read_po

    with (ROOT / "bewaar/web/locale/nl/LC_MESSAGES/messages.po").open("rb") as fh:
        return read_po(fh, locale="nl")


def test_dutch_catalogue_has_every_text() -> None:
    """Every text the web app writes (templates and code, as Babel extracts them) and every
    message template the service layer raises has its Dutch translation, none fuzzy; the
    catalogue holds nothing else."""
    from babel.messages.extract import extract_from_dir, extract_from_file

    method_map = [("**.py", "python"), ("templates/**.html", "jinja2")]
    options = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords: dict[str, Any] = {"_": None, "gettext": None, "ngettext": (1, 2),
                                "translate": (2,), "tr": (2,), "Word": None,
                                "HTTPException": (2,), **{name: None for name in ERRORS},
                                **{name: (2,) for name in FILE_ERRORS}}
    used = set()
    for folder in MESSAGE_DIRS:
        for _file, _line, message, _comments, _context in extract_from_dir(
                str(ROOT / folder), method_map, options, keywords=keywords):
            used.add(message[0] if isinstance(message, tuple) else message)
    for name in MESSAGE_FILES:
        for _line, message, _comments, _context in extract_from_file(
                "python", str(ROOT / name), keywords=keywords):
            used.add(message[0] if isinstance(message, tuple) else message)
    catalog = _catalogue()
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
    wrong = [(m.id, str(e)) for m in catalog if m.id for e in m.check(catalog)]
    assert wrong == [], "a translation whose %(placeholders)s differ from its text's"


def test_an_error_in_either_language() -> None:
    """An error raised with a template: English as ``str()`` (the CLI, the audit log) and for
    English viewers; Dutch with its words translated; a text the catalogue lacks stays English."""
    from archive.errors import BewaarError, Word
    from bewaar.services.sites import InputError
    from bewaar.web.i18n import error_message

    exc = InputError("destruction list %(id)s is %(state)s: only a %(wanted)s list can be "
                     "%(step)s", field="list", id=3, state=Word("proposed"),
                     wanted=Word("reviewed"), step=Word("approved"))
    assert str(exc) == "destruction list 3 is proposed: only a reviewed list can be approved"
    assert error_message("en", exc) == str(exc)
    assert error_message("nl", exc) == ("vernietigingslijst 3 is voorgesteld: alleen een lijst "
                                        "die beoordeeld is kan worden goedgekeurd")
    assert exc.field == "list" and InputError.of(exc).template == exc.template
    other = BewaarError("nothing like it %(x)s", x=1)
    assert error_message("nl", other) == "nothing like it 1"
    assert error_message("nl", ValueError("plain")) == "plain"


def _raises() -> Iterator[tuple[str, Any, Any]]:
    """Every ``SomeError(first, …)`` of the web app and the layer under it: where, the call
    and its first argument (ast nodes); the second of an export file's error (the first is the
    file)."""
    import ast

    paths = [p for folder in MESSAGE_DIRS for p in sorted((ROOT / folder).rglob("*.py"))]
    for path in [*paths, *(ROOT / name for name in MESSAGE_FILES)]:
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if not (isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Name | ast.Attribute)):
                continue
            name = node.func.id if isinstance(node.func, ast.Name) else node.func.attr
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if name in ERRORS and node.args:
                yield where, node, node.args[0]
            elif name in FILE_ERRORS:
                # a template must be there: a call without one yields a non-template
                yield where, node, node.args[1] if len(node.args) > 1 else ast.JoinedStr([])


def test_service_messages_are_templates_with_dutch() -> None:
    """An error the service layer (or the web app) raises is a template with named parameters,
    never an f-string or text glued together at run time (the web could not translate it), and
    the catalogue has its Dutch with the same placeholders. Checked on the source's syntax
    tree (ast), independent of Babel's extractor."""
    import ast
    import re

    catalog = _catalogue()
    glued, missing, unfilled, checked = [], [], [], 0
    for where, call, arg in _raises():
        if isinstance(arg, ast.JoinedStr | ast.BinOp | ast.IfExp):
            glued.append(where)
        elif isinstance(arg, ast.Constant) and isinstance(arg.value, str):
            checked += 1
            m = catalog.get(arg.value)
            holes = set(re.findall(r"%\((\w+)\)[sr]", arg.value))
            given = {k.arg for k in call.keywords}
            if None not in given and holes - given:  # (None: **params, given elsewhere)
                unfilled.append((where, sorted(holes - given)))
            if m is None or not m.string or set(
                    re.findall(r"%\((\w+)\)[sr]", m.string)) != holes:
                missing.append((where, arg.value))
    assert glued == [], "messages built at run time: raise a template with parameters"
    assert missing == [], "message templates without (the same placeholders in) their Dutch"
    assert unfilled == [], "placeholders without their parameter"
    assert checked > 150  # the walk found the raise sites (a test that cannot pass vacuously)


def test_embedded_words_have_dutch() -> None:
    """The words a message embeds from data (the states of destruction lists, suggestions and
    packages, and the steps a user is named for) are listed for the catalogue and translated."""
    import ast

    from archive.errors import Word
    from archive.package.retention import DISPOSITIONS
    from bewaar.services import destruction, suggestions
    from bewaar.web.i18n import WORDS, translate

    steps = set()
    for path in (ROOT / "bewaar/services").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text("utf-8"))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                    and node.func.id in ("acting_user", "_reason", "_in_state")):
                steps.update(a.value for a in node.args
                             if isinstance(a, ast.Constant) and isinstance(a.value, str))
    assert "redact a Woo request" in steps and "for rejecting the list" in steps
    words = {*destruction.STATES, *suggestions.STATES, *DISPOSITIONS, *steps,
             "site", "source", "package"}
    assert sorted(words - set(WORDS)) == [], "words missing from bewaar.web.i18n.WORDS"
    assert all(isinstance(w, Word) for w in WORDS)
    same = [w for w in WORDS if translate("nl", w) == w]
    assert same == [], "words without a Dutch translation"


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
