"""`bewaar harvest`: a dozen sites archived at once in one crawl process. A dead site and a slow
one hold nobody back; a harvest killed with kill -9 resumes each unfinished site."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import bagit

from tests.conftest import BEWAAR
from tests.sites import NormalSite
from tests.test_crawl_crash import _query

WARCIO = str(Path(sys.executable).with_name("warcio"))




def _processes_in(home: Path) -> list[int]:
    """Live processes whose working directory is inside ``home`` (wayback runs in one)."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            cwd = os.readlink(f"/proc/{d}/cwd")
            with open(f"/proc/{d}/stat", "rb") as fh:
                zombie = fh.read().rsplit(b")", 1)[1].split()[0] == b"Z"
        except OSError:
            continue
        if not zombie and cwd.startswith(str(home)):
            found.append(int(d))
    return found


def _warcs_check(home: Path, site: str) -> None:
    files = [str(p) for p in (home / "warcs" / site).glob("*/*.warc.gz")]
    assert files, f"no WARC of {site}"
    check = subprocess.run([WARCIO, "check", *files], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr


def test_a_dozen_sites_at_once_one_dead_one_slow(bewaar: Any) -> None:
    dead = socket.socket()  # accepts connections in its backlog, never answers a byte
    dead.bind(("127.0.0.1", 0))
    dead.listen(16)
    sites = [NormalSite(pages=8, latency=0.01).start() for _ in range(10)]
    slow = NormalSite(pages=6, latency=0.4).start()
    try:
        for i, site in enumerate(sites):
            bewaar("site", "add", f"site{i:02}", "--seed", site.url)
        bewaar("site", "add", "slow", "--seed", slow.url)
        bewaar("site", "add", "dead", "--seed", f"http://127.0.0.1:{dead.getsockname()[1]}/")
        out = bewaar("harvest", "--json", check=False, timeout=180,
                     env={"BEWAAR_DOWNLOAD_TIMEOUT": "3", "BEWAAR_HARVEST_CONCURRENCY": "6"})
    finally:
        for site in [*sites, slow]:
            site.stop()
        dead.close()
    assert out.returncode == 1, out.stderr  # one site failed: the harvest found a problem
    runs = {r["site"]: r for r in json.loads(out.stdout)["runs"]}
    assert len(runs) == 12 and len({r["run_id"] for r in runs.values()}) == 12
    assert runs["dead"]["status"] == "failed" and runs["dead"]["package"] is None
    assert "timed out" in runs["dead"]["error"].lower() or "timeout" in runs["dead"]["error"].lower()
    assert "done" in out.stderr and "failed" in out.stderr  # the progress lines
    for name, run in runs.items():
        if name == "dead":
            continue
        assert run["status"] == "finished", run
        assert run["pages"] >= 7, run  # the home page and the pages it links to
        bag = bewaar.home / "packages" / run["package"] / "bag"
        bagit.Bag(str(bag)).validate()  # raises on any missing or altered file
        _warcs_check(bewaar.home, name)
    # each site is its own run, and `bewaar crawl`'s audit row per site, plus the harvest's
    db = bewaar.home / "bewaar.sqlite3"
    rows = _query(db, "select action, target, outcome from audit_log "
                      "where action in ('crawl.run', 'harvest.run', 'package.seal')")
    assert sorted(t for a, t, o in rows if a == "crawl.run") == sorted(runs)
    assert ("crawl.run", "dead", "failed") in rows
    assert [o for a, t, o in rows if a == "harvest.run"] == ["failed"]
    assert len([1 for a, t, o in rows if a == "package.seal" and o == "ok"]) == 11
    # one crawl process crawled them all
    assert len({pid for (pid,) in _query(db, "select distinct pid from crawl_runs")}) == 1


def test_a_harvest_killed_with_kill_9_resumes_each_unfinished_site(bewaar: Any) -> None:
    env = {"BEWAAR_CONCURRENCY_PER_HOST": "2", "BEWAAR_HARVEST_CONCURRENCY": "4"}
    sites = [NormalSite(pages=40, latency=0.05).start() for _ in range(4)]
    try:
        for i, site in enumerate(sites):
            bewaar("site", "add", f"site{i}", "--seed", site.url)
        db = bewaar.home / "bewaar.sqlite3"
        proc = subprocess.Popen([*BEWAAR, "harvest", "--json"], env={**bewaar.env, **env},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            running = _query(db, "select count(*) from crawl_runs where status = 'running'")
            stored = _query(db, "select count(distinct run_id) from captures")
            if running and running[0][0] == 4 and stored and stored[0][0] >= 2:
                break
            time.sleep(0.05)
        else:
            proc.kill()
            raise AssertionError("the harvest did not get going")
        os.killpg(proc.pid, signal.SIGKILL)  # the command and its crawl process
        proc.wait(timeout=30)
        deadline = time.monotonic() + 15  # nothing it started outlives it (its QA wayback)
        while _processes_in(bewaar.home) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not _processes_in(bewaar.home)
        left = _query(db, "select id from crawl_runs where status = 'running' order by id")
        assert len(left) == 4
        stored = [u for (u,) in _query(db, "select url from captures where status is not null")]
        assert stored
        hits_before = [dict(s.hits) for s in sites]

        out = bewaar("harvest", "--json", env=env, timeout=180)
        runs = json.loads(out.stdout)["runs"]
        assert sorted(r["run_id"] for r in runs) == [r for (r,) in left]  # the same runs
        assert all(r["status"] == "finished" and r["package"] for r in runs), runs
        assert _query(db, "select count(*) from crawl_runs") == [(4,)]  # no new runs
        for r in runs:
            assert r["pages"] >= 41  # the home page and its 40 pages
            bagit.Bag(str(bewaar.home / "packages" / r["package"] / "bag")).validate()
            _warcs_check(bewaar.home, r["site"])
        by_port = {urlsplit(s.url).port: (s, before) for s, before in zip(sites, hits_before, strict=True)}
        for url in stored:  # nothing the killed harvest had stored was fetched again
            parts = urlsplit(url)
            if parts.hostname == "127.0.0.1" and parts.port in by_port:
                site, before = by_port[parts.port]
                path = parts.path or "/"
                assert site.hits.get(path, 0) == before.get(path, 0), url
        resumed = _query(db, "select detail from audit_log where action = 'crawl.run' "
                             "and outcome = 'ok'")
        assert len(resumed) == 4 and all('"resume"' in d for (d,) in resumed)
    finally:
        for site in sites:
            site.stop()


def test_a_harvest_of_an_unknown_site_changes_nothing(bewaar: Any) -> None:
    with NormalSite(pages=2) as site:
        bewaar("site", "add", "known", "--seed", site.url)
        out = bewaar("harvest", "--site", "known", "--site", "nosuch", "--json", check=False)
        assert out.returncode == 2 and "nosuch" in out.stderr and not out.stdout.strip()
        assert site.hits == {}  # nothing was crawled, not even the known site
        db = bewaar.home / "bewaar.sqlite3"
        assert _query(db, "select count(*) from crawl_runs") == [(0,)]
        nothing = bewaar("harvest", "--resume", "--json")  # nothing was left unfinished
        assert json.loads(nothing.stdout)["runs"] == []
        assert site.hits == {}
