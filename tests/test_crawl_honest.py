"""No result looks better than it is (issue 13, finding 1).

A crawl that captured nothing fails and says why per seed; a replay check of no pages never
passes; a requisite captured only as an error makes its page incomplete until a patch crawl
mends it; the browser check reports what the live page showed that the crawl did not capture.
"""

from __future__ import annotations

import json
import socket
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import httpx
import pytest

from replay.browser import chromium_path
from tests.conftest import Bewaar
from tests.sites.normal import NormalSite
from tests.wayback import crawl, quiet_env
from tests.wayback import wayback as wayback  # noqa: F401  (fixture)


def closed_port() -> int:
    """A loopback port nothing listens on (connecting to it is refused)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def clean_console(text: str) -> None:
    assert "[red]" not in text and "[/]" not in text, text  # no literal markup
    assert "ERROR " not in text and "WARNING " not in text, text  # no raw log lines
    assert "Traceback" not in text, text


class _Classes(HTMLParser):
    """The class attributes and script elements of an HTML document (independent parse)."""

    def __init__(self) -> None:
        super().__init__()
        self.classes: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.classes += [v or "" for k, v in attrs if k == "class"]
        self.scripts += tag == "script"


def parse_html(text: str) -> _Classes:
    p = _Classes()
    p.feed(text)
    return p


def test_a_crawl_that_captures_nothing_fails_and_says_why(bewaar: Bewaar, home: Path) -> None:
    url = f"http://127.0.0.1:{closed_port()}/"
    res = bewaar("crawl", url, check=False)
    assert res.returncode == 1, res.stdout + res.stderr
    clean_console(res.stdout + res.stderr)
    assert "failed" in res.stderr and "Connection refused" in res.stderr
    assert "finished" not in res.stderr

    out = bewaar("crawl", url, "--json", check=False)
    assert out.returncode == 1
    data = out.json()  # one JSON document on stdout, nothing else
    assert data["status"] == "failed" and data["pages"] == 0
    assert [(s["url"], s["outcome"], s["reason"]) for s in data["seeds"]] == [
        (url, "failed", "connection-refused")]
    assert "Connection refused" in data["error"]
    assert data["after"] is None  # no collection, QA or seal for a run that captured nothing

    report = json.loads((home / "runs" / "2" / "report.json").read_text())
    assert report["status"] == "failed" and report["seeds"] == data["seeds"]
    assert not (home / "runs" / "2" / "qa-report.html").exists()
    colls = home / "collections"
    assert not colls.exists() or not [p for p in colls.iterdir() if not p.name.startswith(".")]
    runs = bewaar("runs", "--json").json()
    assert {r["id"]: r["status"] for r in runs} == {1: "failed", 2: "failed"}

    # Its replay check has nothing to vouch for: it never passes.
    chk = bewaar("replay", "check", "2", "--json", check=False)
    assert chk.returncode == 1, chk.stderr
    qa = chk.json()
    assert qa["ok"] is False and qa["pages"] == [] and "no pages" in qa["reason"]
    text = bewaar("replay", "check", "2", check=False)
    assert text.returncode == 1 and "no pages" in text.stdout and "passed" not in text.stdout
    html = (home / "runs" / "2" / "qa-report.html").read_text()
    parsed = parse_html(html)
    assert "PASSED" not in html and "FAILED" in html and "no pages to check" in html
    assert "ok" not in " ".join(parsed.classes).split()  # nothing shown in green


def test_seeds_that_fail_beside_one_that_works_are_reported_per_seed(rb: Bewaar) -> None:
    with NormalSite(pages=2, rich=False) as site:
        refused = f"http://127.0.0.1:{closed_port()}/"
        robots = f"{site.url}private/secret.html"  # robots.txt: Disallow: /private/
        gone = f"{site.url}gone.html"  # 404
        res = rb("crawl", site.url, robots, gone, refused, "--json")
        data = res.json()
    assert res.returncode == 0 and data["status"] == "finished" and data["pages"] >= 3
    seeds = {s["url"]: s for s in data["seeds"]}
    assert (seeds[site.url]["outcome"], seeds[site.url]["status"]) == ("captured", 200)
    assert (seeds[robots]["outcome"], seeds[robots]["reason"]) == ("skipped", "robots")
    assert (seeds[gone]["outcome"], seeds[gone]["reason"], seeds[gone]["status"]) == (
        "error", "http-status", 404)
    assert (seeds[refused]["outcome"], seeds[refused]["reason"]) == (
        "failed", "connection-refused")
    report = json.loads(Path(data["report"]).read_text())
    assert report["status"] == "finished" and report["seeds"] == data["seeds"]
    shown = rb("run", "show", str(data["run_id"]), "--json").json()
    assert shown["stats"]["seeds"] == data["seeds"]


class FlakyImageSite(NormalSite):
    """The generated site, whose home page shows one image that fails (503) until mended."""

    broken = True

    def render(self, path: str, host: str) -> tuple[int, str, bytes]:
        if path == "/img/flaky.png" and self.broken:
            return 503, "text/html", b"<html><body>Even geduld</body></html>"
        status, ctype, body = super().render(path, host)
        if path == "/" and ctype.startswith("text/html"):
            body = body.replace(b"</body>", b'<img src="/img/flaky.png" alt=""></body>')
        return status, ctype, body


@pytest.fixture
def rb(bewaar: Bewaar) -> Bewaar:
    bewaar.env.update(quiet_env())
    return bewaar


def test_a_requisite_captured_only_as_an_error_fails_its_page_until_patched(
    rb: Bewaar, home: Path, wayback: Any  # noqa: F811
) -> None:
    with FlakyImageSite(pages=3, rich=False) as site:
        flaky = f"{site.url}img/flaky.png"
        crawl(rb, site.url)
        res = rb("replay", "check", "1", "--json", check=False)
        assert res.returncode == 1, res.stderr
        qa = res.json()
        home_page = next(p for p in qa["pages"] if p["url"] == site.url)
        assert home_page["ok"] is False and home_page["missing"] == []
        assert home_page["errors"] == [{"url": flaky, "status": 503}]
        assert qa["ok"] is False and qa["failed"] == 1
        assert all(p["ok"] for p in qa["pages"] if p["url"] != site.url)
        report = (home / "runs" / "1" / "qa-report.html").read_text()
        assert "FAILED" in report and flaky in report

        listed = rb("replay", "missing", "1", "--json").json()
        assert listed == [flaky, site.url]  # the image, then the page that shows it

        site.broken = False
        patch = rb("crawl", "--patch", "1", "--json").json()
        assert patch["status"] == "finished"
        assert {s["url"]: s["outcome"] for s in patch["seeds"]} == {
            flaky: "captured", site.url: "captured"}

        again = rb("replay", "check", "1", "--json", check=False)
        assert again.returncode == 0, again.stdout
        qa2 = again.json()
        assert qa2["ok"] is True and all(p["errors"] == [] for p in qa2["pages"])
        assert rb("replay", "missing", "1", "--json").json() == []

        # Independent check: pywb replays the newest capture of the page with the live image.
        from archive.settings import load_settings

        base = wayback(load_settings()).url
        got = httpx.get(f"{base}/normal/2030id_/{flaky}")
        assert got.status_code == 200 and got.content == httpx.get(flaky).content
        page = httpx.get(f"{base}/normal/2030id_/{site.url}")
        assert page.status_code == 200 and b"img/flaky.png" in page.content


def test_the_qa_report_escapes_what_the_site_sent(home: Path) -> None:
    from datetime import UTC, datetime

    from replay.qa import PageResult, QAResult
    from replay.report import render_report

    evil = "http://127.0.0.1:1/<script>alert(1)</script>\"'.png"
    page = PageResult("http://127.0.0.1:1/", "http://127.0.0.1:8080/c/2030/http://127.0.0.1:1/",
                      200, 200, missing=[evil], errors=[{"url": evil, "status": 500}])
    qa = QAResult(7, 3, "c<b>", [page], home / "r.html", 1.0, 1)
    html = render_report(qa, datetime(2030, 1, 1, tzinfo=UTC))
    parsed = parse_html(html)
    assert parsed.scripts == 0 and "<script>alert" not in html and "c<b>" not in html
    assert "1 of 1 page do not" in html and "1 page," in html
    single = QAResult(7, 3, "c", [PageResult("u", "r", 200, 200)], home / "r.html", 1.0, 2)
    assert "every page replays" in render_report(single, datetime(2030, 1, 1, tzinfo=UTC))


class JsLinkSite(NormalSite):
    """The generated site, whose script adds a link to the DOM that no HTML names."""

    def render(self, path: str, host: str) -> tuple[int, str, bytes]:
        if path == "/static/app.js":
            return 200, "application/javascript", (
                b"document.addEventListener('DOMContentLoaded', function () {\n"
                b"  var a = document.createElement('a');\n"
                b"  a.href = '/alleen-via-script.html'; a.textContent = 'nieuw';\n"
                b"  document.body.appendChild(a);\n"
                b"});\n")
        if path == "/alleen-via-script.html":
            return 200, "text/html", (b"<html><body><h1>Alleen via script</h1>"
                                      b'<img src="/img/script-page.png"></body></html>')
        return super().render(path, host)


@pytest.mark.browser
@pytest.mark.skipif(chromium_path() is None, reason="needs Debian's chromium (/usr/bin/chromium)")
def test_the_browser_check_reports_links_the_crawl_missed(rb: Bewaar, home: Path) -> None:
    with JsLinkSite(pages=1) as site:
        js_page = f"{site.url}alleen-via-script.html"
        crawl(rb, site.url)
        static = rb("replay", "check", "1", "--json", check=False)
        assert static.returncode == 0, static.stdout  # HTML and CSS alone cannot see it

        res = rb("replay", "check", "1", "--json", "--browser", check=False, timeout=600)
        assert res.returncode == 1, res.stderr
        qa = res.json()
        home_page = next(p for p in qa["pages"] if p["url"] == site.url)
        assert home_page["ok"] is False and js_page in home_page["missing"]
        report = (home / "runs" / "1" / "qa-report.html").read_text()
        assert js_page in report and "seen by the browser on the live page" in report
        assert js_page in rb("replay", "missing", "1", "--json").json()

        patch = rb("crawl", "--patch", "1", "--json").json()
        assert patch["status"] == "finished"
        again = rb("replay", "check", "1", "--json", "--browser", check=False, timeout=600)
        assert again.returncode == 0, again.stdout
        pages = {p["url"]: p for p in again.json()["pages"]}
        assert js_page in pages and pages[js_page]["ok"]  # fetched with its image
