"""Fault: the site vanishes mid-crawl (its server stops answering, then refuses connections).

The documented behaviour (README, "Archive a site"): a crawl that captured pages finishes with
exit 0 and its report says which URLs failed. Checked here with warcio and SQL that it says so
honestly: the failures counted and listed with their reason in the database, the --json output
and report.json, nothing recorded that the site did not serve, and the WARCs whole.
"""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.conftest import BEWAAR
from tests.faults import assert_finished_warcs_whole, assert_recorded_files_true, sql
from tests.sites import NormalSite


def test_site_vanishing_mid_crawl_is_reported_not_hidden(bewaar: Any) -> None:
    env = {**bewaar.env, "BEWAAR_QA_AFTER_CRAWL": "false", "BEWAAR_CONCURRENCY_PER_HOST": "2",
           "BEWAAR_RETRY_TIMES": "1", "BEWAAR_DOWNLOAD_TIMEOUT": "5"}
    db = bewaar.home / "bewaar.sqlite3"
    with NormalSite(pages=150, latency=0.02) as site:
        bewaar("site", "add", "demo", "--seed", site.url)
        proc = subprocess.Popen([*BEWAAR, "crawl", "--site", "demo", "--json"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline and proc.poll() is None:
                if db.exists() and sql(db, "select count(*) from captures where is_page")[0][0] >= 20:
                    break
                time.sleep(0.05)
            else:
                raise AssertionError("the crawl did not get going")

            def gone(path: str, host: str) -> tuple[int, str, bytes]:
                raise ConnectionAbortedError("the site is gone")  # dropped, no answer

            served_before = dict(site.hits)
            site.render = gone  # type: ignore[method-assign]  # open connections drop
            site.stop()  # and new ones are refused
            stdout, stderr = proc.communicate(timeout=180)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate(timeout=30)
    assert proc.returncode == 0, stderr  # it captured pages: the documented exit 0 ...
    out = json.loads(stdout)
    assert out["status"] == "finished"
    assert out["errors"] > 0 and out["failed"]  # ... with the failures counted and named
    assert all(f["error"] for f in out["failed"])
    assert out["pages"] < 150  # not a perfect report
    [(status, pages, errors)] = sql(db, "select status, pages, errors from crawl_runs")
    assert (status, pages, errors) == ("finished", out["pages"], out["errors"])
    report = json.loads(Path(out["report"]).read_text())
    assert report["status"] == "finished" and report["errors"] == out["errors"]
    assert report["failed"]
    failed_urls = {u for (u,) in sql(db, "select url from captures where status is null")}
    assert {f["url"] for f in out["failed"]} <= failed_urls

    assert_recorded_files_true(db, 1)
    finished = assert_finished_warcs_whole(bewaar.home / "warcs" / "demo")
    archived = {u for uris in finished.values() for u in uris}
    stored = {u for (u,) in sql(db, "select url from captures where status is not null")}
    assert stored <= archived  # every capture recorded as stored is in a WARC
    for url in archived:  # and only what the site served before it went
        path = "/" + url.split("/", 3)[3] if url.count("/") >= 3 else "/"
        if url.startswith(site.url):
            assert served_before.get(path) or site.hits.get(path), url
    # the package sealed from what was got (sealing after the crawl is on by default)
    assert out["after"]["seal"]["ok"] is True, out["after"]
