"""A web team crawls a site whose robots.txt and sitemaps name URLs relatively or badly: every
usable sitemap is still read, and the pages only the sitemaps know are archived."""

from __future__ import annotations

from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.sites.sitemaps import SITEMAP_ONLY, SitemapSite


@pytest.fixture
def site() -> Any:
    with SitemapSite() as s:
        yield s


def archived_uris(paths: list[str]) -> set[str]:
    uris = set()
    for p in paths:
        with open(p, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type == "response":
                    uris.add(rec.rec_headers.get_header("WARC-Target-URI"))
    return uris


def test_relative_and_broken_sitemap_lines_do_not_stop_discovery(bewaar: Any,
                                                                  site: SitemapSite) -> None:
    bewaar("site", "add", "kaarten", "--seed", site.url)
    out = bewaar("crawl", "--site", "kaarten", "--json").json()
    assert out["status"] == "finished", out
    uris = archived_uris(out["warc_files"])  # read with warcio, not with our own code
    base = site.url
    for path in ("maps/relative.xml", "maps/index.xml", "maps/sub.xml", "sitemap.xml"):
        assert base + path in uris, path
    for path in SITEMAP_ONLY:
        assert base + path in uris, path
    assert site.hits.get("/query.html?a=1&b=2") == 1
    # a frame from another host is part of its page: fetched, and what it loads with it
    other = f"http://localhost:{site.port}/embed/"
    assert other + "frame.html" in uris and other + "frame-img.png" in uris

    shown = bewaar("run", "show", str(out["run_id"]), "--json").json()
    skipped = {s["url"]: s["reason"] for s in shown["skipped_urls"]}
    assert skipped["http://[broken/sitemap.xml"] == "bad-url"  # recorded, with its reason
    assert skipped["ftp://127.0.0.1/maps/ftp.xml"] == "not-http"
    assert skipped["http://[no-url/"] == "bad-url"
    assert skipped["javascript:void(0)"] == "not-http"


def test_robots_and_sitemap_values_are_resolved_each_on_its_own() -> None:
    import gzip

    from crawler.links import robots_sitemaps, sitemap_links

    robots = ("\ufeffUser-agent: *\nSitemap: /a.xml\nSITEMAP:b.xml # comment\nSitemap:\n"
              "Sitemap: http://[x/\nSitemap: https://other.nl/c.xml\n")
    assert robots_sitemaps(robots, "http://m.nl/robots.txt") == [
        "http://m.nl/a.xml", "http://m.nl/b.xml", "http://[x/", "https://other.nl/c.xml"]
    body = (b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            b"<url><loc>p.html</loc></url><url><loc>\n  /q?a=1&amp;b=2\n</loc></url>"
            b"<url><loc><![CDATA[http://m.nl/r.html]]></loc><image:image><image:loc>"
            b"http://m.nl/img.png</image:loc></image:image></url></urlset>")
    want = ["http://m.nl/maps/p.html", "http://m.nl/q?a=1&b=2", "http://m.nl/r.html"]
    assert sitemap_links(body, "http://m.nl/maps/s.xml") == (want, False)
    assert sitemap_links(gzip.compress(body), "http://m.nl/maps/s.xml.gz") == (want, False)
    index = b"<sitemapindex><sitemap><loc>s1.xml</loc></sitemap></sitemapindex>"
    assert sitemap_links(index, "http://m.nl/x/i.xml") == (["http://m.nl/x/s1.xml"], True)
