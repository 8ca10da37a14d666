"""A web team archives a site with `bewaar crawl` and checks the WARC with independent tools."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.sites import NormalSite
from tests.sites.warc_read import raw_records, spec_payload_digest

WARCIO = str(Path(sys.executable).with_name("warcio"))


def records(paths: list[str]) -> list[Any]:
    out = []
    for p in paths:
        with open(p, "rb") as fh:
            for rec in ArchiveIterator(fh):
                headers = dict(rec.rec_headers.headers)
                status = rec.http_headers.get_statuscode() if rec.http_headers else None
                out.append((rec.rec_type, headers, status))
    return out


@pytest.fixture
def site() -> Any:
    with NormalSite(pages=25) as s:
        yield s


def test_crawl_a_registered_site(bewaar: Any, site: NormalSite) -> None:
    bewaar("site", "add", "demo", "--seed", site.url, "--exclude", "/skip/")
    res = bewaar("crawl", "--site", "demo", "--json")
    out = res.json()
    assert out["status"] == "finished" and out["errors"] == 0
    assert out["pages"] >= 25 + 3  # home, 25 pages, two orphans only the sitemaps know
    warcs = out["warc_files"]
    assert warcs and all(Path(p).is_absolute() and Path(p).is_file() for p in warcs)
    assert not list(Path(warcs[0]).parent.glob("*.open"))

    # warcio agrees every record's digests are right (no chunked responses on this site)
    check = subprocess.run([WARCIO, "check", *warcs], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr

    recs = records(warcs)
    info = [h for t, h, _ in recs if t == "warcinfo"][0]
    with open(warcs[0], "rb") as fh:
        block = next(iter(ArchiveIterator(fh))).content_stream().read().decode()
    assert "robots: obey" in block and "software: " in block and "operator: " in block
    assert "site: demo" in block and "format: WARC File Format 1.1" in block
    assert info["WARC-Filename"] == Path(warcs[0]).name

    by_id = {h["WARC-Record-ID"]: (t, h) for t, h, _ in recs}
    uris = {h["WARC-Target-URI"] for t, h, _ in recs if t == "response"}
    for t, h, _ in recs:
        if t in ("request", "response"):
            other_t, other = by_id[h["WARC-Concurrent-To"]]
            assert other["WARC-Concurrent-To"] == h["WARC-Record-ID"]
            assert {t, other_t} == {"request", "response"}
            assert h["WARC-IP-Address"] == "127.0.0.1"
            assert h["WARC-Warcinfo-ID"] == info["WARC-Record-ID"]
            assert "WARC-Block-Digest" in h and "Content-Type" in h
    base = site.url
    for path in ("orphan.html", "orphan2.html", "static/theme.css", "static/font.woff2",
                 "img/logo-2x.png", "img/hero.webp", "img/hero.jpg", "static/font2.woff2",
                 "favicon.ico", "img/bg.png", "img/theme-bg.png", "img/styled.png",
                 "img/inline-bg.png", "static/app.js", "robots.txt", "sitemap-index.xml"):
        assert base + path in uris, path
    assert f"http://localhost:{site.port}/cdn/lib.js" in uris  # a requisite on another host
    assert base + "private/secret.html" not in uris
    assert base + "skip/me.html" not in uris
    assert f"http://localhost:{site.port}/elsewhere.html" not in uris
    # the request record holds the bytes sent, Host included
    raw = raw_records(Path(warcs[0]))
    req_blocks = [r.block for r in raw if r.type == "request"]
    for r in raw:
        if r.type == "response":
            assert r.headers["WARC-Payload-Digest"] == spec_payload_digest(r.block)
    assert any(b.startswith(b"GET /p/3.html HTTP/1.1\r\nHost: 127.0.0.1:") for b in req_blocks)

    shown = bewaar("run", "show", str(out["run_id"]), "--json").json()
    assert shown["skipped"]["robots"] >= 1 and shown["skipped"]["excluded"] >= 1
    assert shown["skipped"]["out-of-scope"] >= 1
    skipped = {s["url"]: s["reason"] for s in shown["skipped_urls"]}
    assert skipped[base + "private/secret.html"] == "robots"
    assert shown["status"] == "finished"
    for f in shown["warc_files"]:  # both digests were computed while the file was written
        data = Path(f["path"]).read_bytes()
        assert f["size"] == len(data) and f["sha256"] == hashlib.sha256(data).hexdigest()
        assert f["sha512"] == hashlib.sha512(data).hexdigest()
    listed = bewaar("runs", "--json").json()
    assert [r["id"] for r in listed] == [out["run_id"]]
    # CDXJ written while crawling, sorted, pointing into the WARC
    cdxj = Path(out["cdxj_files"][0]).read_text().splitlines()
    assert cdxj == sorted(cdxj) and any("/p/3.html" in line for line in cdxj)


def test_recrawl_of_unchanged_site_is_small(bewaar: Any, site: NormalSite) -> None:
    first = bewaar("crawl", site.url, "--json").json()
    second = bewaar("crawl", site.url, "--json").json()
    size1 = sum(Path(p).stat().st_size for p in first["warc_files"])
    size2 = sum(Path(p).stat().st_size for p in second["warc_files"])
    assert second["revisits"] > 0 and second["pages"] == first["pages"]
    assert size2 < 0.10 * size1, (size1, size2)
    revisits = [h for t, h, _ in records(second["warc_files"]) if t == "revisit"]
    originals = {h["WARC-Record-ID"]: h for t, h, _ in records(first["warc_files"])
                 if t == "response"}
    for h in revisits:
        assert h["WARC-Profile"] == "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
        orig = originals[h["WARC-Refers-To"]]
        assert h["WARC-Refers-To-Target-URI"] == orig["WARC-Target-URI"]
        assert h["WARC-Refers-To-Date"] == orig["WARC-Date"]
        assert h["WARC-Payload-Digest"] == orig["WARC-Payload-Digest"]


def test_bad_input_is_a_clear_error(bewaar: Any, tmp_path: Path) -> None:
    bad = bewaar("crawl", "ftp://example.nl/", check=False)
    assert bad.returncode == 2 and "not an http(s) URL" in bad.stderr
    none = bewaar("crawl", check=False)
    assert none.returncode == 2 and "URL" in none.stderr
    missing = bewaar("crawl", "--site", "nope", check=False)
    assert missing.returncode == 2 and "no site named 'nope'" in missing.stderr
    ro = tmp_path / "ro"
    ro.mkdir()
    (ro / "file").write_text("x")
    unwritable = bewaar("crawl", "http://127.0.0.1:9/", check=False,
                        env={"BEWAAR_HOME": str(ro / "file" / "home")})
    assert unwritable.returncode == 2 and "Traceback" not in unwritable.stderr
    # `bewaar crawl` starts its worker before it reads its arguments: none may outlive it.
    assert crawl_workers(str(ro / "file" / "home")) == []
    assert bewaar("crawl", "--help").stdout.count("Example") == 1


def crawl_workers(home: str) -> list[int]:
    """Crawl worker processes started for this BEWAAR_HOME that are still running."""
    found = []
    for proc in Path("/proc").iterdir():
        try:
            cmdline = (proc / "cmdline").read_bytes()
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"crawler.worker" in cmdline and f"BEWAAR_HOME={home}".encode() in environ:
            found.append(int(proc.name))
    return found


def test_unreachable_seeds_make_a_failed_run_that_says_why(bewaar: Any) -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    res = bewaar("crawl", f"http://127.0.0.1:{port}/", "http://no-such-host.invalid/", "--json",
                 check=False)
    assert res.returncode == 1, res.stderr
    out = res.json()
    assert out["status"] == "failed" and out["errors"] >= 2 and out["pages"] == 0
    assert any("cannot connect" in f["error"] for f in out["failed"])
    assert any("DNS lookup failed for no-such-host.invalid" in f["error"] for f in out["failed"])
    assert [s["reason"] for s in out["seeds"]] == ["connection-refused", "dns"]


def test_page_budget_and_depth_are_kept(home: Path, site: NormalSite) -> None:
    from archive.db import session_scope
    from archive.models import Site, SkippedUrl
    from archive.settings import load_settings
    from crawler import run_crawl

    settings = load_settings()
    with session_scope(settings) as db:
        db.add(Site(name="small", seeds=[site.url], include=[], exclude=[], max_pages=4,
                    max_depth=1, robots="obey"))
    result = run_crawl(settings, site_name="small")
    assert result.status == "finished" and result.pages == 4
    assert result.skipped_by_reason["max-pages"] >= 1 and result.skipped_by_reason["depth"] >= 1
    with session_scope(settings) as db:
        reasons = {s.url: s.reason for s in db.query(SkippedUrl).filter_by(run_id=result.run_id)}
    assert reasons[f"{site.url}p/1.html"] == "depth"
