"""Fault: PostgreSQL restarts mid-crawl under a `bewaar worker` (with task_queue = "postgres" the
database is the task engine's broker too, so this is the broker restarting as well).

A private PostgreSQL for this test (initdb and pg_ctl into a temporary folder, run as the
`postgres` OS user, on a free port): the machine's shared one is never restarted. Checked with
SQL, warcio and bagit-python: the worker reconnects (or exits non-zero saying why, and a second
start finishes the work); a crawl whose writes failed resumes its run once the database is back
(before, the job was left `running` for ever and never taken up again); what is recorded as
stored is whole, every page is archived and none twice, and the run is sealed.
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import bagit
import psycopg
import pytest

from tests.conftest import BEWAAR, Bewaar
from tests.faults import cannot_run, read_warc, sha256_of
from tests.sites import NormalSite

PG_BIN = Path("/usr/lib/postgresql/15/bin")


class PrivatePostgres:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.data = folder / "data"
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = int(s.getsockname()[1])
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _pg(self, *args: str, timeout: float = 60) -> None:
        done = subprocess.run(["runuser", "-u", "postgres", "--", *args], capture_output=True,
                              text=True, timeout=timeout)
        assert done.returncode == 0, (args, done.stdout, done.stderr)

    def start(self) -> None:
        self._pg(str(PG_BIN / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
                 "--no-sync", "-E", "UTF8")
        self._start()

    def _start(self) -> None:
        self._pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"),
                 "-w", "-t", "60", "-o",
                 f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off",
                 "start")

    def restart(self, down: float) -> None:
        """Stop (fast: every connection cut), stay down ``down`` seconds, start again."""
        self._pg(str(PG_BIN / "pg_ctl"), "-D", str(self.data), "-m", "fast", "-w", "-t", "60",
                 "stop")
        time.sleep(down)
        self._start()

    def stop(self) -> None:
        if (self.data / "postmaster.pid").exists():
            subprocess.run(["runuser", "-u", "postgres", "--", str(PG_BIN / "pg_ctl"), "-D",
                            str(self.data), "-m", "immediate", "-w", "-t", "60", "stop"],
                           capture_output=True, timeout=90)

    def rows(self, sql: str, *args: Any) -> list[tuple[Any, ...]]:
        try:
            with psycopg.connect(self.url, connect_timeout=5) as conn:
                return list(conn.execute(sql, args).fetchall())
        except (psycopg.errors.UndefinedTable, psycopg.OperationalError):
            return []


@pytest.fixture
def private_pg() -> Iterator[PrivatePostgres]:
    if not (PG_BIN / "initdb").exists() or shutil.which("runuser") is None:
        cannot_run(f"no {PG_BIN / 'initdb'} or runuser: cannot start a private PostgreSQL")
    if os.geteuid() != 0:
        cannot_run("a private PostgreSQL is started as the postgres OS user: needs root")
    folder = Path(tempfile.mkdtemp(prefix="bewaar-pg-"))
    shutil.chown(folder, "postgres", "postgres")
    pg = PrivatePostgres(folder)
    try:
        pg.start()
        yield pg
    finally:
        pg.stop()
        shutil.rmtree(folder, ignore_errors=True)


def _wait(what: str, pred: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def test_postgres_restart_mid_crawl_under_a_worker(bewaar: Bewaar, private_pg: PrivatePostgres,
                                                   tmp_path: Path) -> None:
    pg = private_pg
    storage = tmp_path / "shared-storage"
    env = {**bewaar.env, "BEWAAR_DATABASE_URL": pg.url, "BEWAAR_TASK_QUEUE": "postgres",
           "BEWAAR_STORAGE_URL": f"file://{storage}", "BEWAAR_WORKER_HEARTBEAT": "0.5",
           "BEWAAR_WORKER_STALL_TIMEOUT": "4", "BEWAAR_QA_AFTER_CRAWL": "false",
           "BEWAAR_WARC_MAX_SIZE": "1000000", "BEWAAR_CONCURRENCY_PER_HOST": "2",
           "BEWAAR_HOME": str(tmp_path / "machine-a")}
    procs: list[subprocess.Popen[Any]] = []

    def start_worker(n: int) -> tuple[subprocess.Popen[Any], Path]:
        log = tmp_path / f"worker-{n}.log"
        with open(log, "wb") as fh:
            proc = subprocess.Popen([*BEWAAR, "worker"], env=env, stdout=subprocess.DEVNULL,
                                    stderr=fh, start_new_session=True)
        procs.append(proc)
        _wait("the worker", lambda: "ready on" in log.read_text(errors="replace")
              or proc.poll() is not None, 60)
        assert proc.poll() is None, log.read_text()
        return proc, log

    def run(*args: str) -> None:
        done = subprocess.run([*BEWAAR, *args], env=env, capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, done.stderr

    try:
        with NormalSite(pages=150, latency=0.05) as site:
            run("site", "add", "demo", "--seed", site.url)
            worker, log = start_worker(1)
            run("schedule", "run", "demo")
            _wait("the crawl to get going", lambda: bool(pg.rows(
                "select 1 from captures where run_id = 1 having count(*) >= 40"))
                and bool(pg.rows("select 1 from warc_files")), 120)
            # Mid-crawl: every connection of the worker and its crawl is cut, and for two
            # seconds none can be made (the crawl records a batch every half second).
            pg.restart(down=2)

            def settled() -> bool:
                return worker.poll() is not None or bool(pg.rows(
                    "select 1 from job_runs where status in ('finished', 'failed')"))
            _wait("the worker to finish the crawl or exit", settled, 120)
            first_log = log.read_text(errors="replace")
            if worker.poll() is not None:  # it stopped: non-zero, saying why
                assert worker.returncode != 0, first_log
                assert "database" in first_log.lower(), first_log
                worker, log = start_worker(2)  # a second start finishes the work
                _wait("the second worker to finish the crawl", lambda: bool(pg.rows(
                    "select 1 from job_runs where status = 'finished'")), 240)
    finally:
        for p in procs:
            if p.poll() is None:
                os.killpg(p.pid, signal.SIGTERM)
        for p in procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)

    assert pg.rows("select id, status, error from crawl_runs") == [(1, "finished", None)]
    jobs = pg.rows("select status, error, result from job_runs order by id")
    assert [s for s, _, _ in jobs] == ["finished"], jobs  # the one job, not left running
    result = jobs[0][2]
    # The crawl's own writes failed in the two seconds (a batch every half second): it resumed.
    assert result.get("database_lost") and result["resumed_from"] == 1, (result, first_log)
    assert "the database went away" in first_log
    assert result["after_crawl"]["seal"]["ok"], result
    stored = pg.rows("select path, size, sha256 from warc_files where run_id = 1")
    assert stored
    uris = []
    for path, size, sha in stored:  # recorded as stored: there, whole, as recorded
        p = Path(path)
        assert p.stat().st_size == size and sha256_of(p) == sha, path
        uris += read_warc(p)
    twice = [u for u, n in collections.Counter(uris).items() if n > 1]
    assert not twice, twice  # what was written but not recorded was cut off, not kept twice
    assert set(site.page_urls()) <= set(uris)
    for url, name, offset in pg.rows('select url, warc_filename, "offset" from captures '
                                     "where run_id = 1 and warc_filename is not null"):
        assert any(Path(p).name == name for p, _, _ in stored), (url, name, offset)
    [(package,)] = pg.rows("select path from packages")
    bagit.Bag(str(Path(package) / "bag")).validate()
