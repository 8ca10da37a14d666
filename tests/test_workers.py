"""Workers on several machines: `bewaar worker` processes share one PostgreSQL (the task queue,
procrastinate) and one storage (a folder, or a bucket on moto's S3 server), each with its own
BEWAAR_HOME (its own local disk).

Each due job runs once; a worker killed with kill -9 mid-crawl (its whole process group, as a
lost machine) has its crawl resumed by the other worker, which finishes, seals and records it
once.
PostgreSQL as in tests/test_postgres.py (BEWAAR_TEST_POSTGRES_URL; required under .ci/run).
"""

from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import bagit
import psycopg
import pytest
from warcio.archiveiterator import ArchiveIterator

from tests.conftest import BEWAAR, Bewaar
from tests.sites import NormalSite
from tests.test_postgres import pg_url  # noqa: F401 - the fixture: a private database

WARCIO = str(Path(sys.executable).with_name("warcio"))


def _rows(url: str, sql: str, *args: Any) -> list[tuple[Any, ...]]:
    with psycopg.connect(url, connect_timeout=10) as conn:
        try:
            return list(conn.execute(sql, args).fetchall())
        except psycopg.errors.UndefinedTable:
            return []


def _wait(what: str, pred: Callable[[], bool], timeout: float,
          procs: list[subprocess.Popen[Any]] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        for p in procs or []:
            assert p.poll() is None, f"a process exited ({p.returncode}) while waiting for {what}"
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


class Machines:
    """Processes as if on separate machines: one BEWAAR_HOME each, one database and storage."""

    def __init__(self, bewaar: Bewaar, db_url: str, tmp: Path, **env: str) -> None:
        self.bewaar, self.db_url, self.tmp = bewaar, db_url, tmp
        self.storage = tmp / "shared-storage"
        self.env = {"BEWAAR_DATABASE_URL": db_url, "BEWAAR_TASK_QUEUE": "postgres",
                    "BEWAAR_STORAGE_URL": f"file://{self.storage}",
                    "BEWAAR_WORKER_HEARTBEAT": "0.5", "BEWAAR_WORKER_STALL_TIMEOUT": "4", **env}
        self.procs: list[subprocess.Popen[Any]] = []
        self.logs: dict[int, Path] = {}

    def home(self, name: str) -> Path:
        return self.tmp / f"machine-{name}"

    def run(self, *args: str, machine: str = "a", check: bool = True) -> Any:
        return self.bewaar(*args, check=check, env={**self.env,
                                                    "BEWAAR_HOME": str(self.home(machine))})

    def start(self, machine: str, *args: str) -> subprocess.Popen[Any]:
        log = self.tmp / f"{machine}-{len(self.procs)}.log"
        env = {**self.bewaar.env, **self.env, "BEWAAR_HOME": str(self.home(machine))}
        with open(log, "wb") as fh:
            proc = subprocess.Popen([*BEWAAR, *args], env=env, stdout=subprocess.DEVNULL,
                                    stderr=fh, start_new_session=True)
        self.procs.append(proc)
        self.logs[proc.pid] = log
        return proc

    def worker(self, machine: str) -> subprocess.Popen[Any]:
        proc = self.start(machine, "worker")
        _wait(f"worker {machine}", lambda: "ready on" in self.log(proc), 60, [proc])
        return proc

    def log(self, proc: subprocess.Popen[Any]) -> str:
        return self.logs[proc.pid].read_text(errors="replace")

    def stop(self) -> None:
        for p in self.procs:
            if p.poll() is None:
                with _suppress():
                    os.killpg(p.pid, signal.SIGTERM)
        for p in self.procs:
            try:
                p.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)
                p.wait(timeout=10)


class _suppress:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> bool:
        return exc[0] is ProcessLookupError


@pytest.fixture
def machines(bewaar: Bewaar, pg_url: str, tmp_path: Path) -> Iterator[Machines]:  # noqa: F811
    m = Machines(bewaar, pg_url, tmp_path, BEWAAR_WARC_MAX_SIZE="1000000",
                 BEWAAR_CONCURRENCY_PER_HOST="2")
    try:
        yield m
    finally:
        m.stop()


def _fetched(machines: Machines, s3: Any, url: str) -> Path:
    """A stored file (a path, or an s3:// URL read with boto3 into the test's folder)."""
    if not url.startswith("s3://"):
        return Path(url)
    bucket, _, key = url.removeprefix("s3://").partition("/")
    out = machines.tmp / "from-bucket" / key
    out.parent.mkdir(parents=True, exist_ok=True)
    s3.client().download_file(bucket, key, str(out))
    return out


def _package_dir(machines: Machines, s3: Any, package: str) -> Path:
    """The sealed package's bag: in the shared folder, or downloaded from the bucket."""
    if s3 is None:
        return machines.storage / "packages" / package / "bag"
    bucket, _, prefix = machines.env["BEWAAR_STORAGE_URL"].removeprefix("s3://").partition("/")
    client = s3.client()
    keys = [o["Key"] for page in client.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Prefix=f"{prefix}/packages/{package}/") for o in page.get("Contents", [])]
    assert keys, f"package {package} is not in the bucket"
    for key in keys:
        _fetched(machines, s3, f"s3://{bucket}/{key}")
    return machines.tmp / "from-bucket" / prefix / "packages" / package / "bag"


def test_a_worker_refuses_what_it_cannot_use(bewaar: Bewaar) -> None:
    off = bewaar("worker", check=False)
    assert off.returncode == 2 and 'task_queue = "postgres"' in off.stderr
    sqlite = bewaar("worker", check=False, env={"BEWAAR_TASK_QUEUE": "postgres"})
    assert sqlite.returncode == 2 and "needs a PostgreSQL database_url" in sqlite.stderr
    gone = bewaar("worker", check=False, env={
        "BEWAAR_TASK_QUEUE": "postgres",
        "BEWAAR_DATABASE_URL": "postgresql://bewaar:geheim-wachtwoord@127.0.0.1:1/bewaar"})
    assert gone.returncode == 2 and "cannot open the database" in gone.stderr
    assert "geheim-wachtwoord" not in gone.stderr + gone.stdout
    assert "***" in gone.stderr
    serve = bewaar("serve", "--port", "0", check=False, env={"BEWAAR_TASK_QUEUE": "postgres"})
    assert serve.returncode == 2 and "needs a PostgreSQL database_url" in serve.stderr


@pytest.mark.postgres
def test_two_schedulers_queue_each_fire_time_once(machines: Machines, pg_url: str) -> None:  # noqa: F811
    """Two `bewaar serve` processes schedule the same site every two seconds; one worker runs
    what they queue. Every queued job ran once, none was skipped as a duplicate, runs never
    overlapped, and each fire time was claimed by one scheduler."""
    env = {"BEWAAR_QA_AFTER_CRAWL": "false", "BEWAAR_SEAL_AFTER_CRAWL": "false"}
    machines.env.update(env)
    with NormalSite(pages=1, rich=False) as site:
        machines.run("site", "add", "demo", "--seed", site.url)
        machines.run("schedule", "set", "demo", "*/2 * * * * *")
        serves = [machines.start(m, "serve", "--port", "0", "--sync-seconds", "0.5")
                  for m in ("a", "b")]
        worker = machines.worker("c")
        procs = [*serves, worker]

        def finished() -> int:
            return len(_rows(pg_url, "select id from job_runs where status = 'finished'"))

        _wait("three scheduled crawls", lambda: finished() >= 3, 120, procs)
        for p in serves:
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(timeout=30)
        _wait("the last queued job", lambda: not _rows(
            pg_url, "select id from procrastinate_jobs where status in ('todo', 'doing')"),
            60, [worker])

    jobs = _rows(pg_url, "select id, status from procrastinate_jobs order by id")
    runs = _rows(pg_url, "select job_id, status, started_at, finished_at, owner from job_runs "
                         "order by started_at")
    assert len(jobs) >= 3 and all(s == "succeeded" for _, s in jobs), jobs
    by_job = collections.Counter(j for j, *_ in runs)
    assert by_job == {f"queue:{i}": 1 for i, _ in jobs}, runs  # each queued job ran once
    assert all(s == "finished" for _, s, *_ in runs), runs  # none skipped as a duplicate
    for (_, _, _, end, _), (_, _, start, _, _) in zip(runs, runs[1:], strict=False):
        assert end <= start  # one crawl of the site at a time
    claims = _rows(pg_url, "select run_time, count(*), count(distinct owner) from job_claims "
                           "where job_id = 'crawl:demo' group by run_time")
    assert len(claims) >= len(jobs)
    assert all(n == 1 for _, n, _ in claims)  # one scheduler won each fire time
    crawls = _rows(pg_url, "select count(*) from crawl_runs")
    assert crawls == [(len(jobs),)]


@pytest.mark.postgres
def test_the_same_fire_time_queued_twice_runs_once(home: Path, pg_url: str,  # noqa: F811
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    from datetime import UTC, datetime

    from archive.settings import load_settings
    from scheduler import tasks
    from scheduler.jobs import JOB_FUNCS

    monkeypatch.setenv("BEWAAR_TASK_QUEUE", "postgres")
    settings = load_settings()
    when = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)
    first = tasks.defer(settings, JOB_FUNCS["crawl"], ["demo"], claim=("crawl:demo", when))
    again = tasks.defer(settings, JOB_FUNCS["crawl"], ["demo"], claim=("crawl:demo", when))
    assert first is not None and first.startswith("queue:") and again is None
    # a later fire time while the first still waits: the queueing lock refuses a second one
    later = tasks.defer(settings, JOB_FUNCS["crawl"], ["demo"],
                        claim=("crawl:demo", when.replace(hour=4)))
    assert later is None
    other = tasks.defer(settings, JOB_FUNCS["crawl"], ["other"])
    assert other is not None
    rows = _rows(pg_url, "select args->>'args', queue_name, lock from procrastinate_jobs "
                         "order by id")
    assert rows == [('["demo"]', "crawls", "crawl:demo"), ('["other"]', "crawls", "crawl:other")]


def _records(paths: list[str]) -> list[tuple[str, str]]:
    out = []
    for p in paths:
        with open(p, "rb") as fh:
            for rec in ArchiveIterator(fh):
                if rec.rec_type in ("response", "revisit"):
                    out.append((rec.rec_headers.get_header("WARC-Target-URI"), rec.rec_type))
    return out


@pytest.mark.postgres
@pytest.mark.parametrize("storage", ["folder", "s3"])
def test_a_worker_killed_mid_crawl_has_its_crawl_resumed_by_another(
        storage: str, machines: Machines, pg_url: str,  # noqa: F811
        request: pytest.FixtureRequest) -> None:
    """Storage: one folder both workers write, or a bucket on moto's S3 server (tests/s3.py:
    the stand-in for S3, MinIO or Ceph, which cannot run here)."""
    s3 = None
    if storage == "s3":
        s3 = request.getfixturevalue("s3_server")
        machines.env.update(s3.env(s3.new_bucket()))
    with NormalSite(pages=150, latency=0.08) as site:
        machines.run("site", "add", "demo", "--seed", site.url)
        workers = {w.pid: (name, w) for name, w in (("a", machines.worker("a")),
                                                    ("b", machines.worker("b")))}
        machines.run("schedule", "run", "demo")

        def mid_file() -> bool:  # a WARC finished by rotation, the next one under way
            done = _rows(pg_url, "select count(*) from captures where run_id = 1")
            files = _rows(pg_url, "select count(*) from warc_files")
            return bool(done and files) and done[0][0] >= 40 and files[0][0] >= 1
        _wait("the crawl to get going", mid_file, 120, [w for _, w in workers.values()])
        owner = _rows(pg_url, "select owner from job_runs where status = 'running'")[0][0]
        lost, a = workers.pop(int(owner.split(":")[1]))  # the worker that crawls
        b = next(iter(workers.values()))[1]
        stored_before = {u for (u,) in _rows(
            pg_url, "select c.url from captures c join warc_files w "
                    "on w.filename = c.warc_filename where c.run_id = 1 and c.status is not null")}
        os.killpg(a.pid, signal.SIGKILL)  # worker a and its crawl process: the machine is gone
        a.wait(timeout=30)
        assert _rows(pg_url, "select status from crawl_runs") == [("running",)]  # mid-crawl
        if s3 is not None:  # with a bucket, nothing the others need is on the dead machine
            shutil.rmtree(machines.home(lost))
        hits_before = dict(site.hits)

        def sealed() -> bool:
            rows = _rows(pg_url, "select status from job_runs where status = 'finished'")
            return bool(rows)
        _wait("worker b to finish the crawl", sealed, 240, [b])

    runs = _rows(pg_url, "select id, owner, status, attempt, retry_of, crawl_run_id, job_id, "
                         "result from job_runs order by id")
    assert len(runs) == 2, runs
    dead, done = runs
    assert dead[2] == "interrupted" and done[2] == "finished"
    assert done[4] == dead[0] and done[3] == 2 and done[6] == dead[6]  # the same queued job
    assert done[5] == dead[5] == 1 and done[7]["resumed_from"] == 1
    assert done[7]["after_crawl"]["seal"]["ok"], done[7]["after_crawl"]
    assert _rows(pg_url, "select id, status from crawl_runs") == [(1, "finished")]
    assert _rows(pg_url, "select status, attempts from procrastinate_jobs") == [("succeeded", 2)]

    # What is recorded as stored is in the shared storage, whole; nothing twice, nothing lost.
    stored = [p for (p,) in _rows(pg_url, "select path from warc_files where run_id = 1")]
    where = str(machines.storage) if s3 is None else machines.env["BEWAAR_STORAGE_URL"]
    assert stored and all(p.startswith(where) or where in p for p in stored), stored
    files = [str(_fetched(machines, s3, p)) for p in stored]
    check = subprocess.run([WARCIO, "check", *files], capture_output=True, text=True)
    assert check.returncode == 0, check.stdout + check.stderr
    records = _records(files)
    twice = [u for u, n in collections.Counter(u for u, _ in records).items() if n > 1]
    assert not twice, twice
    archived = {u for u, _ in records}
    assert set(site.page_urls()) <= archived  # every page of the site
    assert not list(machines.storage.glob("warcs/demo/1/*.open"))
    for url in stored_before:  # what worker a had stored in finished files was not fetched again
        parts = urlsplit(url)
        if parts.hostname == "127.0.0.1":
            path = parts.path or "/"
            assert site.hits.get(path, 0) == hits_before.get(path, 0), url
    package = done[7]["after_crawl"]["seal"]["package_id"]
    bagit.Bag(str(_package_dir(machines, s3, package))).validate()
    audit = [a for (a,) in _rows(pg_url, "select action from audit_log order by id")]
    assert "job.interrupted" in audit and audit.count("package.seal") == 1


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.mark.postgres
def test_the_harvest_window_takes_the_due_sites_and_a_slow_one_holds_none_back(
        machines: Machines, pg_url: str) -> None:  # noqa: F811
    """harvest_window: the service queues one harvest of every site whose schedule fired; a
    worker runs it as `bewaar harvest` does. The slow site ends last, the dead one fails with
    its reason, the others are sealed; a site without a schedule is left alone."""
    machines.env.update({"BEWAAR_HARVEST_WINDOW": "*/3 * * * * *",
                         "BEWAAR_QA_AFTER_CRAWL": "false"})
    fast = [NormalSite(pages=5, latency=0.01).start() for _ in range(2)]
    slow = NormalSite(pages=4, latency=0.7).start()
    idle = NormalSite(pages=1).start()
    try:
        for i, site in enumerate(fast):
            machines.run("site", "add", f"fast{i}", "--seed", site.url)
        machines.run("site", "add", "slow", "--seed", slow.url)
        machines.run("site", "add", "dead", "--seed", f"http://127.0.0.1:{_closed_port()}/")
        machines.run("site", "add", "unscheduled", "--seed", idle.url)
        for name in ("fast0", "fast1", "slow", "dead"):
            machines.run("schedule", "set", name, "0 3 * * *")
        serve = machines.start("a", "serve", "--port", "0", "--sync-seconds", "0.5")
        worker = machines.worker("b")

        def harvested() -> bool:
            return bool(_rows(pg_url, "select id from job_runs where kind = 'harvest' and "
                                      "status = 'finished' and result->>'failed' is not null "
                                      "and json_array_length(result->'sites') > 0"))
        _wait("the harvest window", harvested, 240, [serve, worker])
    finally:
        for site in (*fast, slow, idle):
            site.stop()

    window = _rows(pg_url, "select result, job_id from job_runs where kind = 'harvest' "
                           "and status = 'finished' order by id")[0]
    assert window[1].startswith("queue:")  # run by the worker, from the queue
    assert window[0]["sites"] == ["dead", "fast0", "fast1", "slow"]
    runs = {name: (status, finished, error) for name, status, finished, error in _rows(
        pg_url, "select s.name, r.status, r.finished_at, r.error from crawl_runs r "
                "join sites s on s.id = r.site_id")}
    assert set(runs) == {"dead", "fast0", "fast1", "slow"}  # nothing of the unscheduled site
    assert runs["dead"][0] == "failed" and runs["dead"][2]
    for name in ("fast0", "fast1"):
        assert runs[name][0] == "finished"
        assert runs[name][1] < runs["slow"][1]  # done while the slow site still crawled
    assert runs["slow"][0] == "finished"
    sealed = {r["site"]: r["package"] for r in window[0]["runs"]}
    assert sealed["fast0"] and sealed["fast1"] and sealed["slow"] and not sealed["dead"]
    for name in ("fast0", "fast1", "slow"):
        bagit.Bag(str(machines.storage / "packages" / sealed[name] / "bag")).validate()
    # later windows found nothing due: each site was crawled once
    assert _rows(pg_url, "select count(*) from crawl_runs") == [(4,)]


@pytest.mark.postgres
def test_a_harvest_window_killed_with_its_worker_resumes_each_site_on_another(
        machines: Machines, pg_url: str) -> None:  # noqa: F811
    machines.env.update({"BEWAAR_HARVEST_WINDOW": "*/3 * * * * *",
                         "BEWAAR_QA_AFTER_CRAWL": "false"})
    sites = [NormalSite(pages=60, latency=0.05).start() for _ in range(3)]
    try:
        for i, site in enumerate(sites):
            machines.run("site", "add", f"site{i}", "--seed", site.url)
            machines.run("schedule", "set", f"site{i}", "0 3 * * *")
        workers = {w.pid: w for w in (machines.worker("a"), machines.worker("b"))}
        serve = machines.start("s", "serve", "--port", "0", "--sync-seconds", "0.5")

        def going() -> bool:
            rows = _rows(pg_url, "select count(distinct run_id) from captures")
            return bool(rows) and rows[0][0] >= 2
        _wait("the harvest window to crawl", going, 120, [serve, *workers.values()])
        owner = _rows(pg_url, "select owner from job_runs where kind = 'harvest' "
                              "and status = 'running'")[0][0]
        killed = workers.pop(int(owner.split(":")[1]))
        os.killpg(killed.pid, signal.SIGKILL)
        killed.wait(timeout=30)
        assert _rows(pg_url, "select count(*) from crawl_runs where status = 'running'") \
            != [(0,)]  # the window was cut mid-crawl

        def resumed() -> bool:
            return bool(_rows(pg_url, "select id from job_runs where kind = 'harvest' and "
                                      "status = 'finished' and attempt = 2"))
        _wait("the other worker to finish the window", resumed, 240,
              [serve, *workers.values()])
    finally:
        for site in sites:
            site.stop()

    first, second = _rows(pg_url, "select id, status, retry_of, result from job_runs "
                                  "where kind = 'harvest' and attempt in (1, 2) "
                                  "and result->>'sites' <> '[]' order by id")[:2]
    assert first[1] == "interrupted" and second[2] == first[0]
    runs = _rows(pg_url, "select id, status from crawl_runs order by id")
    assert runs == [(1, "finished"), (2, "finished"), (3, "finished")]  # the same runs resumed
    done = {r["run_id"]: r for r in second[3]["runs"]}
    assert set(done) == {1, 2, 3} and all(r["package"] for r in done.values()), done
    for run_id, _ in runs:
        stored = [p for (p,) in _rows(pg_url, "select path from warc_files where run_id = %s",
                                      run_id)]
        check = subprocess.run([WARCIO, "check", *stored], capture_output=True, text=True)
        assert check.returncode == 0, check.stdout + check.stderr
        counts = collections.Counter(u for u, _ in _records(stored))
        assert not [u for u, n in counts.items() if n > 1], run_id  # nothing twice
        assert sum(1 for u in counts if u.endswith(".html")) >= 60  # no page lost


def test_without_the_queue_the_service_runs_the_harvest_window_itself(
        bewaar: Bewaar, tmp_path: Path) -> None:
    """SQLite, task_queue "local": `bewaar serve` runs the window in its own process."""
    env = {"BEWAAR_HARVEST_WINDOW": "*/2 * * * * *", "BEWAAR_QA_AFTER_CRAWL": "false"}
    db = bewaar.home / "bewaar.sqlite3"
    with NormalSite(pages=3) as site:
        bewaar("site", "add", "demo", "--seed", site.url, "--schedule", "0 3 * * *")
        with open(tmp_path / "serve.log", "wb") as log:
            serve = subprocess.Popen([*BEWAAR, "serve", "--port", "0", "--sync-seconds", "0.5"],
                                     env={**bewaar.env, **env}, stdout=subprocess.DEVNULL,
                                     stderr=log, start_new_session=True)
        try:
            def harvested() -> bool:
                import sqlite3

                try:
                    con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5)
                    rows = con.execute("select result from job_runs where kind = 'harvest' "
                                       "and status = 'finished'").fetchall()
                    con.close()
                except sqlite3.OperationalError:
                    return False
                return any('"demo"' in r for (r,) in rows)
            _wait("the window", harvested, 180, [serve])
        finally:
            os.killpg(serve.pid, signal.SIGTERM)
            serve.wait(timeout=60)
    runs = bewaar("runs", "--json").json()
    assert [(r["site"], r["status"]) for r in runs] == [("demo", "finished")]
