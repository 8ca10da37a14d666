"""A crawl is killed (its worker with SIGKILL, or the command): the WARCs stay valid and --resume
finishes the job."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.conftest import BEWAAR
from tests.sites import NormalSite

WARCIO = str(Path(sys.executable).with_name("warcio"))


def _query(db: Path, sql: str) -> list[Any]:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
    except sqlite3.OperationalError:
        return []
    try:
        return con.execute(sql).fetchall()
    except sqlite3.OperationalError:
        return []
    finally:
        con.close()


def _worker_once(proc: subprocess.Popen[Any], db: Path, ready: Callable[[int], bool]) -> int:
    """The pid of run 1's worker once ``ready(captures stored)``; the crawl must get there."""
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        rows = _query(db, "select pid from crawl_runs where id = 1")
        done = _query(db, "select count(*) from captures where run_id = 1")
        if rows and rows[0][0] and done and ready(done[0][0]):
            return int(rows[0][0])
        time.sleep(0.05)
    raise AssertionError("the crawl did not get going")


def test_kill_9_then_resume(bewaar: Any) -> None:
    env = {"BEWAAR_WARC_MAX_SIZE": "1000000", "BEWAAR_CONCURRENCY_PER_HOST": "2"}
    with NormalSite(pages=120, latency=0.05) as site:
        bewaar("site", "add", "demo", "--seed", site.url)
        proc = subprocess.Popen([*BEWAAR, "crawl", "--site", "demo", "--json"],
                                env={**bewaar.env, **env}, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        db = bewaar.home / "bewaar.sqlite3"

        def mid_file(done: int) -> bool:  # a WARC finished by rotation, the next one under way
            files = _query(db, "select count(*) from warc_files")
            open_now = list((bewaar.home / "warcs").glob("demo/*/*.warc.gz.open"))
            return done >= 40 and bool(files) and files[0][0] >= 1 \
                and bool(open_now) and open_now[0].stat().st_size > 2000

        pid = _worker_once(proc, db, mid_file)
        os.kill(pid, signal.SIGKILL)  # the worker, mid-crawl
        stdout, stderr = proc.communicate(timeout=120)
        assert proc.returncode == 0, stderr
        first = json.loads(stdout)
        assert first["status"] == "interrupted" and "--resume 1" in first["error"]

        warc_dir = Path(first["warc_files"][0]).parent
        assert not list(warc_dir.glob("*.open"))  # the open file was repaired and finished
        assert len(first["warc_files"]) >= 2  # one finished by rotation, one repaired
        check = subprocess.run([WARCIO, "check", *first["warc_files"]], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout
        for f in bewaar("run", "show", "1", "--json").json()["warc_files"]:
            # the repaired file is registered with the digests of what it holds after the cut
            assert f["sha512"] == hashlib.sha512(Path(f["path"]).read_bytes()).hexdigest()

        stored = [u for (u,) in _query(db, "select url from captures where run_id = 1 "
                                           "and status is not null")]
        assert stored
        hits_before = dict(site.hits)

        second = bewaar("crawl", "--resume", "1", "--json", env=env).json()
        assert second["run_id"] == 1 and second["status"] == "finished"
        for url in stored:  # nothing stored before the kill was fetched again
            path = urlsplit(url).path or "/"
            if urlsplit(url).hostname == "127.0.0.1":
                assert site.hits.get(path, 0) == hits_before.get(path, 0), path
        pages = _query(db, "select count(distinct url) from captures where run_id = 1 and is_page")
        assert pages[0][0] >= 121 + 2  # home + 120 pages + orphans
        check = subprocess.run([WARCIO, "check", *second["warc_files"]],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout
        assert set(first["warc_files"]) <= set(second["warc_files"])
        run = bewaar("run", "show", "1", "--json").json()
        assert run["status"] == "finished" and run["pages"] >= 123


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan that exited may wait a while to be reaped)."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def test_a_killed_command_stops_its_worker_then_resume(bewaar: Any) -> None:
    """The worker sends what it records to the command, which stores it: with the command gone
    nothing more could be recorded, so the worker stops instead of crawling on unrecorded."""
    with NormalSite(pages=120, latency=0.05) as site:
        bewaar("site", "add", "demo", "--seed", site.url)
        proc = subprocess.Popen([*BEWAAR, "crawl", "--site", "demo", "--json"],
                                env={**bewaar.env, "BEWAAR_CONCURRENCY_PER_HOST": "2"},
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        worker = _worker_once(proc, bewaar.home / "bewaar.sqlite3", lambda done: done >= 20)
        proc.kill()  # the command, not its worker
        proc.wait(timeout=30)
        deadline = time.monotonic() + 30
        while _running(worker) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not _running(worker), "the worker crawled on without its command"
        fetched = sum(site.hits.values())
        assert fetched < 120  # it stopped early ...
        time.sleep(0.5)
        assert sum(site.hits.values()) == fetched  # ... and fetches nothing more

        second = bewaar("crawl", "--resume", "1", "--json").json()
        assert second["status"] == "finished"
        check = subprocess.run([WARCIO, "check", *second["warc_files"]],
                               capture_output=True, text=True)
        assert check.returncode == 0, check.stdout
        run = bewaar("run", "show", "1", "--json").json()
        assert run["status"] == "finished" and run["pages"] >= 123
