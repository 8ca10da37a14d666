"""The Chats pages as a records manager uses them, against a real `bewaar serve` on 127.0.0.1:
register a WhatsApp source with the form, upload its export in Chromium, see what was archived;
the same upload again archives nothing; a hostile zip or random bytes are refused by name, in
Dutch, and write nothing; the transcript is served so that a message holding a script stays
text; the roles that may not are refused; every step is in the audit log under the user's name.

Checked with independent tools: Chromium (playwright), the CSP header as sent, the HTML parsed
with the standard library's parser, bagit-python on the sealed package, the database's audit
rows read with SQL.
"""

from __future__ import annotations

import os
import random
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from archive.db import open_db
from archive.settings import load_settings
from bewaar.services.accounts import add_user, create_token
from bewaar.services.chats import add_matrix
from tests.conftest import ROOT
from tests.webserve import running_serve

FIXTURES = Path(__file__).parent / "chat_exports"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
PASSWORD = "correct horse battery"
LIMIT = 200_000  # upload_max_bytes of the test server
BAGIT = str(Path(sys.executable).with_name("bagit.py"))
HOSTILE = """26-10-2024 21:05 - Jan de Vries: <script>document.title='pwned'</script>
26-10-2024 21:06 - Jan de Vries: <img src=x onerror="document.title='pwned'"> & "quotes"
"""


class Server:
    def __init__(self, url: str, tokens: dict[str, str], home: Path) -> None:
        self.url, self.tokens, self.home = url, tokens, home

    def as_(self, user: str) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=60,
                            headers={"Authorization": f"Bearer {self.tokens[user]}"})


@pytest.fixture
def server(bewaar: Any, tmp_path: Path) -> Iterator[Server]:
    """`bewaar serve` with a selectielijst, sealing keys and a user per role."""
    bewaar("selectielijst", "load", str(ROOT / "bewaar/demo/selectielijst.toml"))
    bewaar("keys", "init")
    settings = load_settings(home=bewaar.home)
    tokens = {}
    for name, role in (("wendy", "webteam"), ("rik", "records"), ("aud", "auditor")):
        add_user(settings, "test", name, role, PASSWORD)
        tokens[name] = create_token(settings, "test", name)["token"]
    env = {**bewaar.env, "BEWAAR_UPLOAD_MAX_BYTES": str(LIMIT)}
    with running_serve(env, tmp_path / "serve.log") as url:
        yield Server(url, tokens, bewaar.home)


def audit_rows(home: Path) -> list[Any]:
    with open_db(load_settings(home=home))() as db:
        return list(db.execute(text("SELECT actor, action, target, outcome FROM audit_log "
                                    "ORDER BY id")))


def uploads_left(home: Path) -> list[Path]:
    return [p for p in (home / "chat" / ".uploads").rglob("*")] \
        if (home / "chat" / ".uploads").exists() else []


class Elements(HTMLParser):
    """Every element and the text of a page, as the standard library's parser reads it."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def upload(page: Any, file: Path) -> int:
    """Choose ``file`` in the upload form, send it, wait for the answer page; its status."""
    page.set_input_files("#f-files", str(file))
    with page.expect_response(lambda r: r.url.endswith("/upload")) as answer:
        page.click("#upload button[type=submit]")
    page.wait_for_load_state()
    return int(answer.value.status)


def parse(html: str) -> Elements:
    found = Elements()
    found.feed(html)
    return found


def in_browser(test: Any) -> Any:
    """Mark a test that drives Chromium (skipped without it, unless BEWAAR_REQUIRE_BROWSER)."""
    needs = pytest.mark.skipif(shutil.which(CHROMIUM) is None and not os.environ.get(
        "BEWAAR_REQUIRE_BROWSER"), reason=f"no Chromium at {CHROMIUM}")
    return pytest.mark.browser(needs(test))


@in_browser
def test_records_manager_uploads_a_whatsapp_export_in_the_browser(
        server: Server, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    hostile_zip = tmp_path / "evil.zip"
    with zipfile.ZipFile(hostile_zip, "w") as z:
        z.writestr("WhatsApp-chat met Jan.txt", "26-10-2024 21:05 - Jan: hallo\n")
        z.writestr("../../../escaped-by-zip.txt", "written outside the folder")
    scripted = tmp_path / "WhatsApp-chat met Jan.txt"
    scripted.write_text(HOSTILE, encoding="utf-8")
    noise = tmp_path / "noise.txt"  # no BOM, no zip signature: binary data
    noise.write_bytes(b"\x00" + random.Random(18).randbytes(4096))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, timeout=60_000)
        try:
            page = browser.new_page()
            page.set_default_timeout(60_000)
            page.goto(server.url + "/chats")
            assert "/login" in page.url
            page.fill("#login-name", "rik")
            page.fill("#login-password", PASSWORD)
            page.click("#login button[type=submit]")
            page.wait_for_url(server.url + "/chats")
            assert page.locator("html").get_attribute("lang") == "nl"

            # register the source with the form
            page.select_option("#add-chat select[name=kind]", "whatsapp")
            page.fill("#add-chat input[name=name]", "minister")
            page.select_option("#add-chat select[name=category]", "CHAT-1")
            page.fill("#add-chat input[name=owner]", "minister van Proefzaken")
            page.click("#add-chat button[type=submit]")
            page.wait_for_url(lambda url: url.startswith(server.url + "/chats/minister"))
            assert "minister" in page.get_by_role("status").inner_text()

            # upload the export: archived and sealed
            assert upload(page, FIXTURES / "whatsapp_android_nl.txt") == 200
            result = page.locator("#import-result")
            messages = int(result.locator("[data-count=messages]").inner_text())
            assert messages > 0
            assert result.locator("[data-count=duplicates]").inner_text() == "0"
            assert "Geïmporteerd" in result.inner_text()
            assert page.locator("#exports tbody tr").count() == 1
            assert "transcript" in page.locator("#exports").inner_text()

            # the same file again: nothing new, no package
            assert upload(page, FIXTURES / "whatsapp_android_nl.txt") == 200
            assert result.locator("[data-count=messages]").inner_text() == "0"
            assert int(result.locator("[data-count=duplicates]").inner_text()) == messages
            assert "Niets nieuws" in result.inner_text()

            # a zip whose member climbs out of its folder: refused, named, said in Dutch
            assert upload(page, hostile_zip) == 400
            error = page.locator("#import-error")
            assert "evil.zip" in error.inner_text() and ".." in error.inner_text()
            assert ("evil.zip: bestand '../../../escaped-by-zip.txt' in het zip-bestand klimt "
                    "uit de map ('..'); geweigerd") in error.inner_text()

            # random bytes: refused in Dutch (the command line says it in English)
            assert upload(page, noise) == 400
            assert (page.locator("#import-error").inner_text().strip()
                    == "noise.txt: is binaire data, geen tekstexport van WhatsApp")

            # a message holding a script: shown as text, never run
            assert upload(page, scripted) == 200
            assert result.locator("[data-count=messages]").inner_text() == "2"
            link = page.locator("#exports a", has_text="transcript").first
            with page.expect_response(lambda r: "/transcript" in r.url
                                      and r.status == 200) as served:
                link.click()
            transcript = served.value
            csp = transcript.headers["content-security-policy"]
            assert "default-src 'none'" in csp and "script-src" not in csp
            assert transcript.headers["x-content-type-options"] == "nosniff"
            assert page.title() != "pwned"
            assert page.evaluate("document.querySelectorAll('script, img').length") == 0
            assert "<script>document.title='pwned'</script>" in page.inner_text("body")
            html = transcript.text()
        finally:
            browser.close()

    # the HTML as sent, read by another parser: the script and the image are text
    elements = parse(html)
    assert not [t for t, _ in elements.tags if t in ("script", "img", "iframe", "object")]
    assert not [a for _, attrs in elements.tags for a in attrs if a.startswith("on")]
    assert any("<script>document.title='pwned'</script>" in t for t in elements.text)

    # the first package is a valid bag holding the export bit for bit
    packages = sorted((server.home / "packages").iterdir())
    assert len(packages) == 2
    check = subprocess.run([sys.executable, BAGIT, "--validate", str(packages[0] / "bag")],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr
    originals = list((packages[0] / "bag" / "data" / "original").glob("*.txt"))
    assert [p.read_bytes() for p in originals] == [
        (FIXTURES / "whatsapp_android_nl.txt").read_bytes()]

    # nothing escaped the zip, no upload is left behind
    assert list(tmp_path.rglob("escaped-by-zip.txt")) == []
    assert not (server.home.parent / "escaped-by-zip.txt").exists()
    assert uploads_left(server.home) == []

    rows = audit_rows(server.home)
    assert ("rik", "chat.add", "minister", "ok") in rows
    imports = [outcome for actor, action, target, outcome in rows
               if (actor, action, target) == ("rik", "chat.import", "minister")]
    assert imports == ["ok", "ok", "failed", "failed", "ok"]


def test_roles_api_and_upload_limits(server: Server, tmp_path: Path) -> None:
    with server.as_("wendy") as c:  # the web team has no business with chats
        assert c.get("/chats").status_code == 403
        assert c.get("/api/chats").status_code == 403
    with server.as_("rik") as c:
        made = c.post("/api/chats", json={"kind": "telegram", "name": "tg", "category": "CHAT-2",
                                          "owner": "woordvoerder"})
        assert made.status_code == 201, made.text
        bad = c.post("/api/chats", json={"kind": "matrix", "name": "mx", "category": "CHAT-1"})
        assert bad.status_code == 400
        with (FIXTURES / "telegram_result.json").open("rb") as fh:
            first = c.post("/api/chats/tg/imports", files=[("files", ("result.json", fh))])
        assert first.status_code == 200, first.text
        out = first.json()
        assert out["package"] and out["messages"] > 0 and out["duplicates"] == 0

        # past upload_max_bytes: refused (413), announced or found while reading
        big = tmp_path / "result.json"
        big.write_bytes(b" " * (LIMIT + 1_100_000))  # more than the form's overhead
        with big.open("rb") as fh:
            announced = c.post("/api/chats/tg/imports", files=[("files", ("result.json", fh))])
        assert announced.status_code == 413, announced.text
        boundary = "bewaar-test-boundary"

        def body() -> Iterator[bytes]:  # no Content-Length: sent in chunks
            yield (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
                   f"filename=\"../../big.json\"\r\n\r\n").encode()
            for _ in range(LIMIT // 10_000 + 2):
                yield b" " * 10_000
            yield f"\r\n--{boundary}--\r\n".encode()

        streamed = c.post("/api/chats/tg/imports", content=body(),
                          headers={"Content-Type": f"multipart/form-data; boundary={boundary}"})
        assert streamed.status_code == 413 and "big.json" in streamed.text, streamed.text
        assert not (tmp_path.parent / "big.json").exists()

        shown = c.get("/api/chats/tg").json()
        assert shown["events_archived"] == out["messages"]
        assert [e["status"] for e in shown["exports"]] == ["sealed"]
        transcript = c.get(shown["exports"][0]["transcripts"][0]["url"])
        assert transcript.status_code == 200
        assert "script-src" not in transcript.headers["content-security-policy"]
        escape = c.get(f"/chats/tg/packages/{shown['exports'][0]['package_id']}"
                       "/attachments/..%2F..%2Fbag-info.txt")
        assert escape.status_code == 404
        paths = c.get("/openapi.json").json()["paths"]
        assert {"/api/chats", "/api/chats/{name}", "/api/chats/{name}/imports"} <= set(paths)
        # a Matrix source (registered on the command line) is exported by the scheduler
        add_matrix(load_settings(home=server.home), "test", "mx", homeserver="http://127.0.0.1:9",
                   user="@bot:example.test", category="CHAT-1", password_env="MX_PASSWORD",
                   all_joined=True)
        assert "Nu exporteren" in c.get("/chats/mx").text
        assert c.post("/api/chats/tg/export").status_code == 400  # files are uploaded
        job = c.post("/api/chats/mx/export")
        assert job.status_code == 202 and job.json()["job_id"], job.text
    with server.as_("aud") as c:  # the auditor reads, does not upload
        assert c.get("/chats/tg").status_code == 200
        assert c.post("/api/chats/tg/imports", files=[("files", ("x.json", b"{}"))]
                      ).status_code == 403
    assert uploads_left(server.home) == []
    rows = audit_rows(server.home)
    assert ("rik", "chat.add", "tg", "ok") in rows and ("rik", "chat.import", "tg", "ok") in rows
    assert ("rik", "chat.request", "mx", "ok") in rows


def test_upload_form_needs_the_csrf_token(server: Server) -> None:
    """A page of another site can make the browser post the form, not read the token."""
    with server.as_("rik") as c:
        assert c.post("/api/chats", json={"kind": "whatsapp", "name": "sms",
                                          "category": "CHAT-1"}).status_code == 201
    with httpx.Client(base_url=server.url, timeout=60) as browser:
        login = browser.post("/login", data={"name": "rik", "password": PASSWORD})
        assert login.status_code == 303
        forged = browser.post("/chats/sms/upload", files=[
            ("files", ("chat.txt", (FIXTURES / "whatsapp_android_nl.txt").read_bytes()))])
        assert forged.status_code == 403
    assert not [r for r in audit_rows(server.home) if r[1] == "chat.import"]
    assert uploads_left(server.home) == []
