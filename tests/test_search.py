"""A records manager finds anything archived by its words: a page, a PDF and a chat message,
on the embedded SQLite index and on PostgreSQL (the same tests, ``backend`` parametrized).

The archive is made for real: a small Dutch site (tests/sites/dutch.py) crawled twice (the
second crawl's records are revisits) and a WhatsApp export imported. What a hit says is checked
against the archive itself: the capture times and revisits from the WARC files with warcio, the
transcript anchor in the sealed package's HTML with lxml.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.conftest import ROOT, Bewaar
from tests.sites.dutch import DutchSite
from tests.wayback import make_bewaar
from tests.webserve import running_serve

WHATSAPP = ROOT / "tests/chat_exports/whatsapp_android_nl.txt"


@dataclass
class Archive:
    bewaar: Bewaar
    site: str  # the site's name
    url: str  # its address
    chat_package: str
    web_packages: list[str]
    database_url: str | None

    def search(self, *args: str) -> dict[str, Any]:
        return self.bewaar("search", *args, "--json").json()  # type: ignore[no-any-return]

    def settings(self) -> Any:
        from archive.settings import load_settings

        extra = {"database_url": self.database_url} if self.database_url else {}
        return load_settings(home=self.bewaar.home, **extra)


def _postgres_database() -> tuple[str, str]:
    base = os.environ.get("BEWAAR_TEST_POSTGRES_URL")
    if not base:
        if os.environ.get("BEWAAR_REQUIRE_POSTGRES") == "1":
            pytest.fail("BEWAAR_REQUIRE_POSTGRES=1 but BEWAAR_TEST_POSTGRES_URL is not set")
        pytest.skip("PostgreSQL backend: set BEWAAR_TEST_POSTGRES_URL="
                    "postgresql://postgres@127.0.0.1:5432/test")
    name = f"bewaar_search_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(base, autocommit=True, connect_timeout=10) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return base, name


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgres",
                                                              marks=pytest.mark.postgres)])
def archive(request: pytest.FixtureRequest,
            tmp_path_factory: pytest.TempPathFactory) -> Iterator[Archive]:
    pg: tuple[str, str] | None = None
    b = make_bewaar(tmp_path_factory.mktemp(f"search-{request.param}") / "home")
    b.env.pop("BEWAAR_SEAL_AFTER_CRAWL")  # sealed: hits name their package
    b.env.update(BEWAAR_ORGANISATION="Ministerie van Proefzaken (fictief, test)",
                 BEWAAR_ORGANISATION_ID="00000009999999999000")
    url = None
    if request.param == "postgres":
        pg = _postgres_database()
        url = pg[0].rsplit("/", 1)[0] + "/" + pg[1]
        b.env["BEWAAR_DATABASE_URL"] = url
    try:
        b("keys", "init")
        with DutchSite() as site:
            runs = [b("crawl", site.url, "--json").json() for _ in range(2)]
        assert all(r["after"]["search"]["ok"] for r in runs), runs
        b("selectielijst", "load", str(ROOT / "bewaar/demo/selectielijst.toml"))
        b("chat", "add", "whatsapp", "minister", "--category", "CHAT-1")
        chat = b("chat", "import", "minister", str(WHATSAPP), "--json").json()
        yield Archive(b, runs[0]["after"]["collection"]["path"].rsplit("/", 1)[1], site.url,
                      Path(chat["package"]).name,
                      [r["after"]["seal"]["package_id"] for r in runs], url)
    finally:
        if pg is not None:
            from archive import db as dbmod

            for key in [k for k in dbmod._factories if pg[1] in k]:
                dbmod._factories.pop(key).kw["bind"].dispose()
            with psycopg.connect(pg[0], autocommit=True, connect_timeout=10) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{pg[1]}" WITH (FORCE)')


def warc_captures(home: Path, url: str) -> list[tuple[str, str]]:
    """(WARC-Type, WARC-Date as a 14-digit timestamp) of every record of ``url``, by warcio."""
    from warcio.archiveiterator import ArchiveIterator

    found = []
    for path in sorted((home / "warcs").rglob("*.warc.gz")):
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_headers.get_header("WARC-Target-URI") == url and \
                        rec.rec_type in ("response", "revisit"):
                    date = rec.rec_headers.get_header("WARC-Date")
                    found.append((rec.rec_type, "".join(c for c in date if c.isdigit())[:14]))
    return found


def marked(hit: dict[str, Any]) -> list[str]:
    s = hit["snippet"]
    return [s["text"][a:b] for a, b in s["marks"]]


def test_a_phrase_is_found_on_a_page_and_in_a_message(archive: Archive) -> None:
    page = archive.url + "nieuws/vergaderingen.html"
    found = archive.search('"waterstaat en klimaat"')
    assert found["total"] == 1
    hit = found["hits"][0]
    assert (hit["kind"], hit["url"], hit["title"]) == ("web", page,
                                                      "Vergaderingen van de stuurgroep")
    assert marked(hit) == ["waterstaat", "en", "klimaat"]
    # opens the newest capture in replay, /<collection>/<timestamp>/<url>
    stamps = [ts for _t, ts in warc_captures(archive.bewaar.home, page)]
    assert hit["open"].endswith(f"/{archive.site}/{max(stamps)}/{page}")
    assert hit["package_id"] in archive.web_packages

    chat = archive.search('"punt 2 planning"')
    assert chat["total"] == 1
    msg = chat["hits"][0]
    assert (msg["kind"], msg["sender"], msg["source"]) == ("chat", "Jan de Vries", "minister")
    assert msg["at"] == "2024-10-26T21:30:00Z"  # 23:30 in Amsterdam (summer time)
    prefix = f"/chats/minister/packages/{archive.chat_package}/rooms/"
    assert msg["open"].startswith(prefix) and "/transcript#" in msg["open"]
    room, anchor = msg["open"][len(prefix):].split("/transcript#")
    import lxml.html

    transcript = (archive.bewaar.home / "packages" / archive.chat_package / "bag" / "data"
                  / "rooms" / room / "transcript.html")
    node = lxml.html.parse(str(transcript)).getroot().get_element_by_id(anchor)
    assert "punt 2 - planning" in node.text_content()

    both = archive.search("begroting")
    assert sorted(h["kind"] for h in both["hits"]) == ["chat", "web"] and both["total"] == 2
    assert all(marked(h) == ["begroting"] for h in both["hits"])
    assert archive.search("xyzzyplugh") == {"total": 0, "total_exact": True, "hits": []}
    assert archive.search("scriptwoord")["total"] == 0  # scripts are no text of the page


def test_dutch_word_forms_and_diacritics(archive: Archive) -> None:
    urls = {h.get("url") or h["kind"] for h in archive.search("vergadering")["hits"]}
    # the page, the start page's link to it, and the message "Vergadering om 11 uur"
    assert urls == {archive.url + "nieuws/vergaderingen.html", archive.url, "chat"}
    for query in ("ideeen", "ideeën", "IDEEËN"):
        hits = archive.search(query)["hits"]
        assert [h["url"] for h in hits if h["kind"] == "web"][:1] == [
            archive.url + "nieuws/ideeen.html"], query
        assert "ideeën" in marked(hits[0]) or "Ideeën" in marked(hits[0])


def test_and_or_not_and_prefix(archive: Archive) -> None:
    def kinds(q: str) -> list[str]:
        return sorted(h["kind"] for h in archive.search(q)["hits"])

    assert kinds("begroting AND stuurgroep") == ["web"]
    assert kinds("begroting stuurgroep") == ["web"]  # AND when nothing is said
    assert kinds("begroting NOT stuurgroep") == ["chat"]
    assert kinds("begroting -stuurgroep") == ["chat"]
    either = archive.search("zeppelinhaven OR dijkversterking")["hits"]
    assert sorted(h["url"].rsplit("/", 1)[1] for h in either) == ["notitie.html", "rapport.pdf"]
    pdf = archive.search("dijkversterk*")["hits"]
    assert [(h["url"].rsplit("/", 1)[1], h["mime"]) for h in pdf] == [
        ("rapport.pdf", "application/pdf")]
    assert marked(pdf[0]) == ["dijkversterking"]
    assert [h["url"].rsplit("/", 1)[1] for h in archive.search("vergunning*")["hits"]] == [
        "ideeen.html"]
    assert archive.search("(zeppelinhaven OR lekdijk) AND NOT rapport")["total"] == 1


def test_filters_and_paging(archive: Archive) -> None:
    assert {h["kind"] for h in archive.search("vergadering", "--kind", "chat")["hits"]} == {
        "chat"}
    assert archive.search("vergadering", "--site", archive.site)["total"] == 2  # page, link
    assert archive.search("vergadering", "--source", "minister")["total"] == 1
    assert archive.search("vergadering", "--source", "nobody")["total"] == 0
    day = archive.search("vergadering", "--from", "2024-10-27", "--to", "2024-10-27")
    assert [h["kind"] for h in day["hits"]] == ["chat"]  # 09:18 on the 27th
    assert archive.search("vergadering", "--to", "2024-10-26")["total"] == 0
    many = "stuurgroep OR ideeen OR zeppelinhaven OR welkom OR lekdijk"
    everything = archive.search(many, "--kind", "web")
    one, two = (archive.search(many, "--kind", "web", "--limit", "1", "--offset", str(n))
                for n in (0, 1))
    assert one["total"] == two["total"] == everything["total"] == 5
    assert [one["hits"][0]["id"], two["hits"][0]["id"]] == [
        h["id"] for h in everything["hits"][:2]]


def test_a_revisit_adds_a_capture_time_not_a_second_hit(archive: Archive) -> None:
    page = archive.url + "nieuws/vergaderingen.html"
    records = warc_captures(archive.bewaar.home, page)
    assert [t for t, _ in records] == ["response", "revisit"]  # two crawls of the same page
    hits = archive.search("stuurgroep")["hits"]
    assert len(hits) == 1
    first, newest = hits[0]["first_at"], hits[0]["at"]
    assert "".join(c for c in first if c.isdigit())[:14] == records[0][1]
    assert "".join(c for c in newest if c.isdigit())[:14] == records[1][1]


@pytest.mark.parametrize("query", ['"open overheid', "(a OR b", "a AND", "NOT a",
                                   "a OR NOT b", "*", "a*b", 'x"', ")", "   "])
def test_a_query_that_cannot_be_read_exits_2(archive: Archive, query: str) -> None:
    out = archive.bewaar("search", query, "--json", check=False)
    assert out.returncode == 2 and out.stdout == ""
    assert out.stderr.startswith("error: ")
    for leak in ("Traceback", "sqlite", "fts5", "tsquery", "syntax error", "SQL"):
        assert leak not in out.stderr, out.stderr


def test_bad_options_exit_2(archive: Archive) -> None:
    for args in (["--kind", "video"], ["--from", "gisteren"], ["--limit", "0"]):
        out = archive.bewaar("search", "vergadering", *args, check=False)
        assert out.returncode == 2 and "error:" in out.stderr, args


def test_excluded_and_embargoed_captures_are_not_found(archive: Archive) -> None:
    from bewaar.services.accounts import add_user, create_token

    b = archive.bewaar
    assert archive.search("zeppelinhaven")["total"] == 1
    b("replay", "exclude", archive.url + "prive/")
    try:
        assert archive.search("zeppelinhaven")["total"] == 0  # the operator sees what replay shows
        seen = archive.search("zeppelinhaven", "--all")
        assert [h["access"] for h in seen["hits"]] == ["excluded"]
        settings = archive.settings()
        add_user(settings, "test", "rik", "records", "correct horse battery")
        token = create_token(settings, "test", "rik")["token"]
        with running_serve(b.env, b.home / "serve.log") as url:
            def api(q: str) -> dict[str, Any]:
                r = httpx.get(url + "/api/search", params={"q": q},
                              headers={"Authorization": f"Bearer {token}"}, timeout=30)
                assert r.status_code == 200, r.text
                return r.json()  # type: ignore[no-any-return]

            assert api("zeppelinhaven")["total"] == 0
            assert api("stuurgroep")["total"] == 1  # the rest of the site is found
            bad = httpx.get(url + "/api/search", params={"q": '"open'},
                            headers={"Authorization": f"Bearer {token}"}, timeout=30)
            assert bad.status_code == 400 and "quotes" in bad.json()["detail"]
            assert httpx.get(url + "/api/search", params={"q": "x"}, timeout=30
                             ).status_code == 401
        b("replay", "embargo", archive.site, "30")
        try:
            assert archive.search("stuurgroep")["total"] == 0  # captured today: embargoed
            assert [h["access"] for h in archive.search("stuurgroep", "--all")["hits"]] == [
                "embargoed"]
            assert archive.search("vergadering")["total"] == 1  # the chat message is no capture
        finally:
            b("replay", "embargo", archive.site, "0")
    finally:
        b("replay", "allow", archive.url + "prive/")
    assert archive.search("zeppelinhaven")["total"] == 1


def test_removed_packages_are_not_found_and_reindex_brings_back_the_same_hits(
        archive: Archive) -> None:
    from bewaar.services import search

    queries = ["begroting", "vergadering", "dijkversterk*", '"punt 2 planning"', "ideeen"]
    before = {q: archive.search(q) for q in queries}

    def same(found: dict[str, Any]) -> list[tuple[Any, ...]]:
        return [(h["kind"], h.get("url") or h.get("sender"), h["at"], h["open"],
                 h["snippet"]["text"], h["snippet"]["marks"]) for h in found["hits"]]

    removed = search.remove(archive.settings(), "test", [archive.chat_package])
    assert removed >= 10  # the import's messages
    assert [h["kind"] for h in archive.search("begroting")["hits"]] == ["web"]
    assert search.remove(archive.settings(), "test", archive.web_packages) >= 5
    assert all(archive.search(q)["total"] == 0 for q in queries)

    out = archive.bewaar("search", "reindex", "--json")
    data = out.json()
    assert data["runs"] == 2 and data["chat_packages"] == 1 and data["revisits"] >= 5
    assert "2/3" in out.stderr  # progress
    for q in queries:
        assert same(archive.search(q)) == same(before[q]), q
    log = archive.bewaar("audit", "--json", "--action", "search.").json()
    assert {(r["action"], r["outcome"]) for r in log} >= {
        ("search.index", "ok"), ("search.remove", "ok"), ("search.reindex", "ok")}


def test_more_than_a_thousand_documents_in_one_millisecond_are_all_indexed(home: Path) -> None:
    """Ids are time-ordered (a millisecond holds 1,000 of them): a burst past that spills into
    the next milliseconds' numbers without taking an id another document has."""
    from datetime import UTC, datetime, timedelta

    from archive.db import session_scope
    from archive.settings import load_settings
    from search import index
    from search.backend import Doc

    t = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
    burst = [Doc(kind="chat", source="ploeg", title="ploeg", body=f"melding {i} gereed",
                 at=t, sender="systeem") for i in range(1500)]
    later = Doc(kind="chat", source="ploeg", title="ploeg", body="laatste melding binnen",
                at=t + timedelta(milliseconds=1), sender="jan")
    settings = load_settings()
    with session_scope(settings) as db:
        assert index.add(db, [*burst, later]) == 1501  # one batch
    with session_scope(settings) as db:
        found = index.search(db, "melding", limit=1, exact=True)
        assert (found.total, found.hits[0]["sender"]) == (1501, "jan")  # the newest first
    with session_scope(settings) as db:  # a second batch in that millisecond takes free ids
        assert index.add(db, burst[:10]) == 10
    with session_scope(settings) as db:
        assert index.search(db, "melding", limit=1, exact=True).total == 1511
