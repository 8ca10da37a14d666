"""A records manager replays crawls with pywb and checks, page by page, that nothing is missing."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from archive.settings import Settings, load_settings
from tests.conftest import Bewaar
from tests.sites.normal import NormalSite
from tests.wayback import crawl, make_bewaar, quiet_env, serve
from tests.wayback import wayback as wayback  # noqa: F401  (fixture)

LEAF = "inline-bg.png"  # a requisite named in an inline <style>: the crawl is told to skip it


@pytest.fixture
def rb(bewaar: Bewaar) -> Bewaar:
    bewaar.env.update(quiet_env())
    return bewaar


class BrokenBitsSite(NormalSite):
    """The generated site, with one image that is gone (404) and one that fails (500)."""

    def render(self, path: str, host: str) -> tuple[int, str, bytes]:
        if path == "/img/gone.png":
            return 404, "text/html", b"<html><body>Niet gevonden</body></html>"
        if path == "/img/fails.png":
            return 500, "text/html", b"<html><body>Storing</body></html>"
        status, ctype, body = super().render(path, host)
        if path == "/" and ctype.startswith("text/html"):
            body = body.replace(b"</body>",
                                b'<img src="/img/gone.png"><img src="/img/fails.png"></body>')
        return status, ctype, body


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Bewaar, NormalSite]]:
    """One real crawl of a local site, shared by the tests that only read it."""
    home = tmp_path_factory.mktemp("archived") / "home"
    b = make_bewaar(home)
    with BrokenBitsSite(pages=10) as site:
        crawl(b, site.url)
        yield b, site


def _settings(b: Bewaar) -> Settings:
    return load_settings(home=b.home)


def test_incomplete_capture_is_reported_and_a_patch_crawl_completes_it(
    rb: Bewaar, home: Path, wayback: Any  # noqa: F811
) -> None:
    with NormalSite(pages=12) as site:
        crawl(rb, site.url, exclude=[LEAF.replace(".", r"\.")])
        res = rb("replay", "check", "1", "--json", check=False)
        assert res.returncode == 1, res.stderr
        qa = res.json()
        pages = {p["url"]: p for p in qa["pages"]}
        rich = set(site.page_urls())  # the pages that use the skipped requisite
        assert rich <= set(pages)
        assert qa["ok"] is False and qa["failed"] == len(rich)
        missing_leaf = f"{site.url}img/{LEAF}"
        for page in qa["pages"]:
            assert page["status"] == 200
            assert page["missing"] == ([missing_leaf] if page["url"] in rich else []), page
            assert page["replay_url"].endswith("/" + page["url"])
        # The style sheet's own requisites (@import, url(), fonts) were loaded too.
        assert pages[site.url]["requisites"] > 10

        # Stored: a QA check row, per-page rows, and an HTML report linking into the replay.
        from archive.db import session_scope
        from archive.models import QaCheck, QaPage
        from replay import missing_urls

        with session_scope(load_settings()) as db:
            check = db.scalars(select(QaCheck)).one()
            assert (check.run_id, check.ok, check.pages) == (1, False, len(qa["pages"]))
            rows = db.scalars(select(QaPage).where(QaPage.check_id == check.id)).all()
            assert {r.url for r in rows} == set(pages)
            assert {r.url for r in rows if r.missing == [missing_leaf] and not r.ok} == rich
        report = (home / "runs" / "1" / "qa-report.html").read_text()
        assert "FAILED" in report and missing_leaf in report
        assert f'href="{pages[site.url]["replay_url"]}"' in report
        assert missing_urls(load_settings(), 1) == [missing_leaf]

        patch = rb("crawl", "--patch", "1", "--json").json()
        assert patch["status"] == "finished" and patch["run_id"] == 2

        again = rb("replay", "check", "1", "--json")
        qa2 = again.json()
        assert again.returncode == 0 and qa2["ok"] is True and qa2["failed"] == 0
        assert all(p["missing"] == [] for p in qa2["pages"])

        # Independent check: the served replay holds the live bytes of page and requisite.
        base = wayback(load_settings()).url
        live_page = httpx.get(site.url + "p/3.html").content
        got = httpx.get(f"{base}/normal/2030id_/{site.url}p/3.html")
        assert got.status_code == 200 and got.content == live_page
        leaf = httpx.get(f"{base}/normal/2030id_/{missing_leaf}")
        assert leaf.status_code == 200 and leaf.content == httpx.get(missing_leaf).content


def test_a_patch_crawl_brings_a_missing_style_sheets_own_requisites(
    rb: Bewaar, wayback: Any  # noqa: F811
) -> None:
    """Replay can only ask for what a style sheet names once it has the style sheet: the patch
    crawl that fetches a missing one fetches what it names too, so one round completes it."""
    with NormalSite(pages=3) as site:
        crawl(rb, site.url, exclude=[r"theme\.css$"])
        qa = rb("replay", "check", "1", "--json", check=False).json()
        theme, background = f"{site.url}static/theme.css", f"{site.url}img/theme-bg.png"
        assert {u for p in qa["pages"] for u in p["missing"]} == {theme}
        patch = rb("crawl", "--patch", "1", "--json").json()
        assert patch["status"] == "finished" and patch["fetches"] == 2
        again = rb("replay", "check", "1", "--json")
        assert again.returncode == 0 and again.json()["ok"] is True
        base = wayback(load_settings()).url
        got = httpx.get(f"{base}/normal/2030id_/{background}")
        assert got.status_code == 200 and got.content == httpx.get(background).content


def test_replay_serves_and_excluded_url_does_not_replay(
    archived: tuple[Bewaar, NormalSite]
) -> None:
    from replay.access import AccessRuleError, exclude, list_rules

    b, site = archived
    secret = f"{site.url}p/1.html"
    with pytest.raises(AccessRuleError, match="not in the future"):
        exclude(_settings(b), secret, until=datetime(2001, 1, 1, tzinfo=UTC))
    with pytest.raises(AccessRuleError, match="not an http"):
        exclude(_settings(b), "ftp://x/")
    b("replay", "exclude", secret)
    exclude(_settings(b), f"{site.url}p/2", until=datetime(2999, 1, 1, tzinfo=UTC))
    exclude(_settings(b), f"{site.url}img/")
    assert {r.url_prefix: r.access for r in list_rules(_settings(b))} == {
        secret: "block", f"{site.url}p/2": "block", f"{site.url}img/": "block"}
    marker = b"Pagina 1<"
    assert marker in httpx.get(secret).content
    try:
        with serve(b) as base:
            assert base.startswith("http://127.0.0.1:")
            for mode in ("mp_", "id_"):
                r = httpx.get(f"{base}/normal/2030{mode}/{secret}")
                assert r.status_code == 404 and marker not in r.content
            assert marker not in httpx.get(f"{base}/normal/2030/{secret}").content
            # A prefix rule covers every URL under it.
            assert httpx.get(f"{base}/normal/2030id_/{site.url}p/2.html").status_code == 404
            assert httpx.get(f"{base}/normal/2030id_/{site.url}p/3.html").status_code == 200
            assert httpx.get(f"{base}/normal/2030id_/{site.url}img/logo.png").status_code == 404
            # What is not excluded replays, with calendar, Memento timemap and CDX API.
            page = httpx.get(f"{base}/normal/2030mp_/{site.url}p/3.html")
            assert page.status_code == 200 and b"Pagina 3" in page.content
            cdx = httpx.get(f"{base}/normal/cdx", params={"url": site.url, "output": "json"})
            assert cdx.status_code == 200
            assert json.loads(cdx.text.splitlines()[0])["url"] == site.url
            tm = httpx.get(f"{base}/normal/timemap/link/{site.url}")
            assert tm.status_code == 200 and 'rel="original"' in tm.text
            assert httpx.get(f"{base}/normal/*/{site.url}").status_code == 200
            # Lifting the rule takes effect in the running replay.
            b("replay", "allow", secret)
            r = httpx.get(f"{base}/normal/2030id_/{secret}")
            assert r.status_code == 200 and marker in r.content
    finally:
        from replay.access import allow

        allow(_settings(b), secret)
        allow(_settings(b), f"{site.url}p/2")
        allow(_settings(b), f"{site.url}img/")
    assert list_rules(_settings(b)) == []


def test_embargo_hides_young_captures(archived: tuple[Bewaar, NormalSite],
                                      wayback: Any) -> None:  # noqa: F811
    from archive.errors import NotFoundError
    from replay.access import set_embargo

    b, site = archived
    b("replay", "embargo", "normal", "7")
    try:
        with serve(b) as base:
            r = httpx.get(f"{base}/normal/2030id_/{site.url}")
            assert r.status_code == 404 and b"<h1>Home</h1>" not in r.content
        # Replay QA checks completeness, not access: the embargo hides nothing from it (only
        # the home page fails, for its two images captured as errors).
        from replay import check_run

        qa = check_run(_settings(b), 1)
        assert [p.url for p in qa.pages if not p.ok] == [site.url]
        assert all(not p.missing for p in qa.pages)
    finally:
        set_embargo(_settings(b), "normal", 0)
    server = wayback(_settings(b))
    r = httpx.get(f"{server.url}/normal/2030id_/{site.url}")
    assert r.status_code == 200 and b"<h1>Home</h1>" in r.content
    with pytest.raises(NotFoundError, match="nosuchsite"):
        set_embargo(_settings(b), "nosuchsite", 3)


def test_requisites_captured_as_errors_are_reported(archived: tuple[Bewaar, NormalSite]) -> None:
    from replay import check_run, missing_urls

    b, site = archived
    qa = check_run(_settings(b), 1)
    home_page = next(p for p in qa.pages if p.url == site.url)
    errors = {e["url"]: e["status"] for e in home_page.errors}
    assert errors == {f"{site.url}img/gone.png": 404, f"{site.url}img/fails.png": 500}
    # The archive holds what the site answered, but the page replays with broken images.
    assert home_page.missing == [] and not home_page.ok and not qa.ok
    # A patch crawl tries them again, and the page that shows them.
    assert set(missing_urls(_settings(b), 1)) == {
        f"{site.url}img/gone.png", f"{site.url}img/fails.png", site.url}
    assert missing_urls(_settings(b), 1)[-1] == site.url


def test_wayback_fixture_replays_the_collection(archived: tuple[Bewaar, NormalSite],
                                               wayback: Any) -> None:  # noqa: F811
    from replay import add_run_to_collection

    b, site = archived
    add_run_to_collection(_settings(b), 1)
    server = wayback(_settings(b))
    assert server.host == "127.0.0.1" and server.port > 0
    r = httpx.get(f"{server.url}/normal/2030id_/{site.url}static/site.css")
    assert r.status_code == 200 and b"@import" in r.content


def test_wacz_export_validates(archived: tuple[Bewaar, NormalSite], tmp_path: Path) -> None:
    b, site = archived
    out = tmp_path / "normal-1.wacz"
    b("export", "wacz", "1", "-o", str(out))
    proc = subprocess.run([str(Path(sys.executable).parent / "wacz"), "validate", "-f", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0 and "is valid" in proc.stdout, proc.stdout + proc.stderr
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
        assert any(n.startswith("archive/") and n.endswith(".warc.gz") for n in names)
        assert all(zf.getinfo(n).compress_type == zipfile.ZIP_STORED
                   for n in names if n.startswith("archive/"))
        pages = [json.loads(line) for line in zf.read("pages/pages.jsonl").splitlines()]
        assert pages[0]["format"] == "json-pages-1.0"
        assert set(site.page_urls()) <= {p["url"] for p in pages[1:]}
        package = json.loads(zf.read("datapackage.json"))
        assert package["wacz_version"] == "1.1.1"
        assert {r["path"] for r in package["resources"]} >= {"pages/pages.jsonl",
                                                             "indexes/index.cdx"}
    assert not list(tmp_path.glob(".*.tmp"))


def test_bad_input_is_a_clear_error(archived: tuple[Bewaar, NormalSite], tmp_path: Path) -> None:
    b, _ = archived
    index = b.home / "collections" / "normal" / "indexes" / "index.cdxj"
    before = index.read_bytes()
    from archive.errors import NotFoundError
    from replay import add_run_to_collection

    with pytest.raises(NotFoundError, match="no crawl run with id 99"):
        add_run_to_collection(_settings(b), 99)
    for args in (["replay", "check", "99"],
                 ["export", "wacz", "99", "-o", str(tmp_path / "x.wacz")]):
        res = b(*args, check=False)
        assert res.returncode == 2 and "no crawl run with id 99" in res.stderr, res.stderr
        assert "Traceback" not in res.stderr
    assert not (tmp_path / "x.wacz").exists()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        res = b("replay", "serve", "--port", str(port), check=False, timeout=120)
        assert res.returncode == 2 and "in use" in res.stderr
    assert index.read_bytes() == before


def test_damaged_files_are_found(rb: Bewaar, home: Path) -> None:
    from replay import add_run_to_collection
    from replay.fixity import audit

    with NormalSite(pages=3, rich=False) as site:
        crawl(rb, site.url)
    settings = load_settings()
    add_run_to_collection(settings, 1)
    clean = audit(settings)
    assert clean.ok and clean.files >= 2 and clean.bytes > 0
    warc = next((home / "warcs").rglob("*.warc.gz"))
    cdxj = next((home / "indexes").rglob("*.cdxj"))
    data = bytearray(cdxj.read_bytes())
    data[10] ^= 1
    cdxj.write_bytes(bytes(data))
    assert {f.problem for f in audit(settings).findings} == {"CDXJ index sha256 changed"}

    index = home / "collections" / "normal" / "indexes" / "index.cdxj"
    before = index.read_bytes()
    warc.unlink()
    (home / "collections" / "normal" / "archive" / warc.name).unlink()  # its hard link
    res = rb("fixity", "--json", check=False)
    assert res.returncode == 1
    problems = {f["problem"] for f in res.json()["findings"]}
    assert {"WARC is missing", "CDXJ index sha256 changed"} <= problems
    assert any("missing from" in p for p in problems)
    chk = rb("replay", "check", "1", check=False)
    assert chk.returncode == 2 and "missing" in chk.stderr and "Traceback" not in chk.stderr
    assert index.read_bytes() == before
