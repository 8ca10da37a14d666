"""pywb (its own indexer and its `wayback` server, run as subprocesses) replays what we crawled,
revisit records included."""

from __future__ import annotations

import subprocess
import sys
from email.utils import parsedate_to_datetime
from pathlib import Path

import httpx

from archive.settings import load_settings
from crawler import run_crawl
from tests.sites import NormalSite

BIN = Path(sys.executable).parent


def test_pywb_replays_a_page_and_a_revisit(home: Path, tmp_path: Path) -> None:
    from replay.wayback import Wayback  # runs `wayback` as a subprocess; pywb is not imported

    settings = load_settings()
    with NormalSite(pages=3) as site:
        first = run_crawl(settings, urls=[site.url])
        second = run_crawl(settings, urls=[site.url])
        page = site.render("/p/1.html", "127.0.0.1")[2]
        # a patch run fetches the URLs it is given (and what those pages load, never their
        # links), into a child run of the same site
        patch = run_crawl(settings, patch_run_id=second.run_id, urls=[f"{site.url}p/2.html"])
    assert second.revisits > 0
    assert patch.pages == 1 and patch.fetches >= 1 and patch.run_id > second.run_id
    from sqlalchemy import select

    from archive.db import session_scope
    from archive.models import CrawlRun

    with session_scope(settings) as db:
        run = db.scalar(select(CrawlRun).where(CrawlRun.id == patch.run_id))
        assert run is not None and run.kind == "patch" and run.parent_run_id == second.run_id
    root = tmp_path / "pywb"
    root.mkdir()
    subprocess.run([str(BIN / "wb-manager"), "init", "web"], cwd=root, check=True,
                   capture_output=True, timeout=120)
    warcs = [str(p) for p in first.warc_files + second.warc_files]
    subprocess.run([str(BIN / "wb-manager"), "add", "web", *warcs], cwd=root, check=True,
                   capture_output=True, timeout=120)
    server = Wayback(root, port=0, log_path=tmp_path / "wayback.log").start()
    try:
        url = f"{site.url}p/1.html"
        latest = httpx.get(f"{server.url}/web/2100id_/{url}", timeout=30)
        assert latest.status_code == 200 and latest.content == page
        cdx = httpx.get(f"{server.url}/web/cdx", params={"url": url}, timeout=30).text.splitlines()
        assert len(cdx) == 2 and '"mime": "warc/revisit"' in cdx[-1]
        # the newest capture is the revisit: pywb served the original payload for it
        when = parsedate_to_datetime(latest.headers["Memento-Datetime"])
        assert when.strftime("%Y%m%d%H%M%S") == cdx[-1].split(" ")[1]
        earliest = httpx.get(f"{server.url}/web/1990id_/{url}", timeout=30)
        assert earliest.status_code == 200 and earliest.content == page
    finally:
        server.stop()
