"""Access rules hold at once, everywhere: a records manager excludes a URL or embargoes a site
while `bewaar replay serve` runs, and within seconds no answer of the replay (the page, the CDX
API, the Memento timemap, the calendar's data) shows the capture or its digest; lifting the rule
brings it back, again without a restart.

The captures and digests the test looks for are read from the WARC files with warcio, not from
the product's index.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import Bewaar
from tests.sites.normal import NormalSite
from tests.wayback import crawl, make_bewaar, serve

WAIT = 20.0  # seconds a rule may take to show; the test polls and never asserts a timing
# pywb takes the user of a caller from this header (its ACL rules may name one): no value, and
# none of the web app's roles, may open what a rule closes.
ROLES = [None, "admin", "records", "auditor", "*"]


@pytest.fixture(scope="module")
def archived(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Bewaar, NormalSite]]:
    home = tmp_path_factory.mktemp("access") / "home"
    b = make_bewaar(home)
    with NormalSite(pages=8) as site:
        crawl(b, site.url)
        yield b, site


def warc_digests(home: Path) -> dict[str, str]:
    """URL -> payload digest (pywb's form, without ``sha1:``) of every response, via warcio."""
    from warcio.archiveiterator import ArchiveIterator

    found: dict[str, str] = {}
    warcs = sorted((home / "collections" / "normal" / "archive").iterdir())
    assert warcs
    for path in warcs:
        with open(path, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type == "response":
                    digest = rec.rec_headers.get_header("WARC-Payload-Digest") or ""
                    found[rec.rec_headers.get_header("WARC-Target-URI")] = digest.split(":")[-1]
    return found


def until(pred: Callable[[], bool], what: str, since: float) -> None:
    """Poll ``pred`` (bounded); print how long after ``since`` (the command's start) it held."""
    start, polls = time.monotonic(), 1
    while not pred():
        if time.monotonic() - start > WAIT:
            raise AssertionError(f"not within {WAIT:.0f} s: {what}")
        time.sleep(0.05)
        polls += 1
    now = time.monotonic()
    print(f"{what}: {now - since:.2f} s after the command started, {now - start:.2f} s after it"
          f" returned (query {polls})")


def headers(role: str | None) -> dict[str, str]:
    return {"X-Pywb-ACL-User": role} if role else {}


def cdx(base: str, url: str, role: str | None = None, **params: str) -> list[dict[str, str]]:
    r = httpx.get(f"{base}/normal/cdx", params={"url": url, "output": "json", **params},
                  headers=headers(role), timeout=10)
    assert r.status_code in (200, 404), r.text
    return [json.loads(line) for line in r.text.splitlines() if line.strip().startswith("{")]


def every_answer(base: str, url: str, role: str | None = None) -> str:
    """All the replay says about ``url``: CDX in every output format, exact and as a prefix of
    its site, the timemap and the calendar page."""
    parts = []
    site = url.split("/", 3)
    site_prefix = "/".join(site[:3]) + "/"
    for output in ("json", "cdxj", "text", "link"):
        for params in ({"url": url}, {"url": site_prefix, "matchType": "prefix"}):
            r = httpx.get(f"{base}/normal/cdx", params={**params, "output": output},
                          headers=headers(role), timeout=10)
            parts.append(r.text)
    for path in (f"timemap/link/{url}", f"timemap/json/{url}", f"timemap/link/{site_prefix}*",
                 f"*/{url}"):
        parts.append(httpx.get(f"{base}/normal/{path}", headers=headers(role), timeout=10).text)
    return "\n".join(parts)


def mementos(base: str, url: str, role: str | None = None) -> int:
    """How many captures of ``url`` its Memento timemap lists."""
    r = httpx.get(f"{base}/normal/timemap/link/{url}", headers=headers(role), timeout=10)
    return sum('memento"' in line for line in r.text.splitlines()) if r.status_code == 200 else 0


def listed(base: str, url: str, role: str | None = None) -> bool:
    return any(c["url"] == url for c in cdx(base, url, role))


def replays(base: str, url: str, marker: bytes, role: str | None = None) -> bool:
    r = httpx.get(f"{base}/normal/2030id_/{url}", headers=headers(role), timeout=10)
    assert r.status_code == 200 or marker not in r.content
    return r.status_code == 200 and marker in r.content


def test_an_exclusion_and_its_lifting_hold_in_a_running_replay(
    archived: tuple[Bewaar, NormalSite],
) -> None:
    b, site = archived
    secret, other = f"{site.url}p/1.html", f"{site.url}p/3.html"
    digests = warc_digests(b.home)
    digest = digests[secret]
    assert digest and digest != digests[other]
    with serve(b) as base:
        assert listed(base, secret) and digest in every_answer(base, secret)
        assert mementos(base, secret) == 1
        assert replays(base, secret, b"Pagina 1<")

        t0 = time.monotonic()
        b("replay", "exclude", secret)
        until(lambda: not listed(base, secret), "the CDX API drops an excluded URL", t0)
        for role in ROLES:
            assert digest not in every_answer(base, secret, role)
            assert mementos(base, secret, role) == 0
            assert not replays(base, secret, b"Pagina 1<", role)
            assert not replays(base, f"{secret}?x=1", b"Pagina 1<", role)  # no fuzzy way round
        # Everything else is still there.
        assert listed(base, other) and digests[other] in every_answer(base, other)
        assert replays(base, other, b"Pagina 3<")

        t0 = time.monotonic()
        b("replay", "allow", secret)
        until(lambda: listed(base, secret), "the CDX API lists an allowed URL again", t0)
        assert digest in every_answer(base, secret) and replays(base, secret, b"Pagina 1<")


def test_an_embargo_and_its_lifting_hold_in_a_running_replay(
    archived: tuple[Bewaar, NormalSite],
) -> None:
    b, site = archived
    digests = warc_digests(b.home)
    cdn = next(u for u in digests if u.startswith("http://localhost:"))  # a requisite elsewhere
    opened, closed = f"{site.url}p/3.html", f"{site.url}p/5.html"
    # Rules for other hosts in the same ACL file must not stop the embargo (pywb stops looking
    # at the first rule of a lower top-level domain), nor may an allow rule open it.
    b("replay", "exclude", "https://www.example.com/x")
    b("replay", "exclude", "http://0.example.org/")
    b("replay", "exclude", f"{site.url}p/")
    b("replay", "allow", opened)
    try:
        with serve(b) as base:
            assert listed(base, site.url) and listed(base, cdn) and listed(base, opened)
            assert not listed(base, closed)

            t0 = time.monotonic()
            b("replay", "embargo", "normal", "7")
            until(lambda: not listed(base, site.url), "an embargo hides the home page", t0)
            for role in ROLES:
                for url in (site.url, cdn, opened, f"{site.url}static/site.css"):
                    seen = every_answer(base, url, role)
                    assert digests[url] not in seen, (role, url)
                    assert mementos(base, url, role) == 0
                assert cdx(base, site.url, role, matchType="prefix") == []
                assert not replays(base, site.url, b"<h1>Home</h1>", role)
                assert not replays(base, opened, b"Pagina 3<", role)
            # A new crawl while the embargo holds: its captures join the collection hidden.
            run = b("crawl", "--site", "normal", "--json").json()
            assert run["status"] == "finished" and run["run_id"] == 2
            assert cdx(base, site.url, matchType="prefix") == [] and not listed(base, cdn)

            t0 = time.monotonic()
            b("replay", "embargo", "normal", "0")
            until(lambda: listed(base, site.url), "a lifted embargo shows the home page", t0)
            assert replays(base, site.url, b"<h1>Home</h1>") and replays(base, opened, b"Pagina 3<")
            assert digests[cdn] in every_answer(base, cdn)
            assert not listed(base, closed)  # the exclusion still holds
    finally:
        b("replay", "embargo", "normal", "0")
        for prefix in (f"{site.url}p/", "http://0.example.org/", "https://www.example.com/x"):
            b("replay", "allow", prefix)


def test_a_new_sites_collection_shows_in_a_running_replay(
        archived: tuple[Bewaar, NormalSite]) -> None:
    b, site = archived
    with serve(b) as base, NormalSite(pages=2) as other:
        since = time.monotonic()
        crawl(b, other.url, name="second")

        def listed() -> bool:
            try:
                r = httpx.get(f"{base}/second/cdx", params={"url": other.url, "output": "json"},
                              timeout=10)
            except httpx.HTTPError:  # the replay is restarting on the same address
                return False
            return r.status_code == 200 and other.url in r.text

        until(listed, "the new site's collection replays", since)
        assert cdx(base, site.url)  # the collections it had still replay
