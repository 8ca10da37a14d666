"""Scheduling as the service runs it: real APScheduler, seconds-scale triggers, the database lock,
claims across two service instances, and recovery after `kill -9` of `bewaar serve`."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from archive.db import open_db
from archive.models import AuditEvent, JobClaim, JobRun
from archive.settings import load_settings
from scheduler.jobs import JobContext, tracked
from scheduler.locks import as_utc
from scheduler.service import Service, enqueue
from tests.conftest import BEWAAR

JOB = "tests.test_service_scheduler:record_tick"
SLOW = "tests.test_service_scheduler:slow_once"


@tracked("test")
def record_tick(ctx: JobContext, name: str, sleep: float = 0.0) -> dict[str, Any]:
    """A job with an effect outside the scheduler: a file per run under HOME/ticks."""
    out = ctx.settings.home / "ticks"
    out.mkdir(parents=True, exist_ok=True)
    (out / f"{name}-{ctx.job_run_id}").write_text(str(os.getpid()))
    time.sleep(sleep)
    return {"tick": ctx.job_run_id}


@tracked("test")
def slow_once(ctx: JobContext, name: str) -> dict[str, Any]:
    """First attempt: signal that it started, then work for a long time. Retries finish at once."""
    marker = ctx.settings.home / f"{name}.started"
    if ctx.attempt == 1:
        marker.write_text(str(os.getpid()))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.1)
    return {"finished_attempt": ctx.attempt}


def wait_for(check: Callable[[], Any], timeout: float = 30, what: str = "condition") -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = check()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def job_runs(home: Path, target: str | None = None) -> list[JobRun]:
    sessions = open_db(load_settings(home=home))
    with sessions() as db:
        q = select(JobRun).order_by(JobRun.id)
        if target:
            q = q.where(JobRun.target == target)
        return list(db.scalars(q))


@pytest.fixture
def services(home: Path) -> Iterator[list[Service]]:
    started: list[Service] = []
    yield started
    for s in started:
        s.shutdown(wait=True)


def test_cron_job_fires_every_second_and_is_recorded(home: Path, services: list[Service]) -> None:
    settings = load_settings()
    service = Service(settings, sync_seconds=0.5)
    service.start()
    services.append(service)
    service.scheduler.add_job(JOB, "cron", second="*", args=["alpha"], id="test:alpha",
                              jobstore="default")
    wait_for(lambda: len([r for r in job_runs(home, "alpha") if r.status == "finished"]) >= 3,
             what="three finished runs")
    runs = [r for r in job_runs(home, "alpha") if r.status == "finished"]
    ticks = sorted(p.name for p in (home / "ticks").iterdir())
    for run in runs:
        assert f"alpha-{run.id}" in ticks  # the job really ran
        assert run.finished_at is not None and as_utc(run.finished_at) >= as_utc(run.started_at)
        assert run.result["tick"] == run.id and run.error is None
    with open_db(settings)() as db:
        actions = {e.action for e in db.scalars(select(AuditEvent))}
    assert {"test.start", "test.finished"} <= actions


def test_failed_job_is_recorded_with_its_error(home: Path, services: list[Service]) -> None:
    settings = load_settings()
    service = Service(settings, sync_seconds=0.5)
    service.start()
    services.append(service)
    # A crawl of a site that does not exist fails inside the job: recorded, not fatal.
    service.run_now("crawl", "no-such-site")
    run = wait_for(lambda: [r for r in job_runs(home, "no-such-site") if r.finished_at],
                   what="the failed run")[0]
    assert run.status == "failed" and run.error and run.kind == "crawl"


def test_one_run_per_target_at_a_time(home: Path, services: list[Service]) -> None:
    settings = load_settings()
    service = Service(settings, sync_seconds=0.5)
    service.start()
    services.append(service)
    service.add_job(JOB, ["beta"], {"sleep": 2.0})
    wait_for(lambda: job_runs(home, "beta"), what="the first run to start")
    service.add_job(JOB, ["beta"])  # "crawl now" while the scheduled run is busy
    runs = wait_for(lambda: [r for r in job_runs(home, "beta") if r.status == "skipped"]
                    and job_runs(home, "beta"), what="the second run to be refused")
    skipped = [r for r in runs if r.status == "skipped"]
    assert len(skipped) == 1 and "already running" in (skipped[0].error or "")
    wait_for(lambda: any(r.status == "finished" for r in job_runs(home, "beta")), what="finish")


def _overlaps(runs: list[JobRun]) -> list[tuple[int, int]]:
    spans = sorted((as_utc(r.started_at), as_utc(r.finished_at or datetime.max), r.id)
                   for r in runs if r.status != "skipped")
    return [(a[2], b[2]) for a, b in zip(spans, spans[1:], strict=False) if b[0] < a[1]]


def two_instances_share_one_database(home: Path, services: list[Service]) -> None:
    settings = load_settings()
    first = Service(settings, sync_seconds=0.5)
    second = Service(settings, sync_seconds=0.5)
    for s in (first, second):
        s.start()
        services.append(s)
    assert first.owner != second.owner
    first.scheduler.add_job(JOB, "cron", second="*", args=["gamma"], kwargs={"sleep": 0.3},
                            id="test:gamma", jobstore="default")
    second.scheduler.wakeup()
    wait_for(lambda: len(job_runs(home, "gamma")) >= 6, timeout=40, what="six runs of gamma")
    for s in list(services):
        s.shutdown(wait=True)
    services.clear()
    runs = job_runs(home, "gamma")
    with open_db(settings)() as db:
        claims = list(db.scalars(select(JobClaim).where(JobClaim.job_id == "test:gamma")))
    # Every fire time was claimed once and ran once, by whichever instance claimed it.
    assert len(claims) == len({c.run_time for c in claims}) == len(runs)
    assert {c.owner for c in claims} <= {first.owner, second.owner}
    assert _overlaps(runs) == []
    assert all(r.status == "finished" for r in runs)


def test_two_instances_never_run_the_same_job_twice(home: Path, services: list[Service]) -> None:
    two_instances_share_one_database(home, services)


def _start_serve(bewaar_env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    fh = log.open("ab")
    proc = subprocess.Popen([*BEWAAR, "serve", "--port", "0", "--sync-seconds", "0.5"],
                            env=bewaar_env, stdout=fh, stderr=fh, stdin=subprocess.DEVNULL,
                            start_new_session=True)
    wait_for(lambda: "serving on" in log.read_text() or proc.poll() is not None, timeout=60,
             what="bewaar serve to start")
    assert proc.poll() is None, log.read_text()
    return proc


def test_kill_9_during_a_job_then_restart_recovers(bewaar, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    bewaar("site", "add", "justid", "--seed", "https://www.justid.nl/", "--schedule", "0 3 * * *")
    settings = load_settings(home=bewaar.home)
    enqueue(settings, SLOW, ["delta"])  # as a schedule firing: stored in the shared job store
    log = tmp_path / "serve.log"
    proc = _start_serve(bewaar.env, log)
    try:
        wait_for(lambda: (bewaar.home / "delta.started").exists(), timeout=60, what="job start")
        first = wait_for(lambda: job_runs(bewaar.home, "delta"), what="the job run row")[0]
        assert first.status == "running"
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert job_runs(bewaar.home, "delta")[0].status == "running"  # nobody cleaned up

    proc = _start_serve(bewaar.env, log)
    try:
        runs = wait_for(
            lambda: [r for r in job_runs(bewaar.home, "delta") if r.status == "finished"]
            and job_runs(bewaar.home, "delta"), timeout=60, what="the retried run")
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    interrupted, retried = runs[0], runs[-1]
    assert interrupted.status == "interrupted" and "interrupted" in (interrupted.error or "")
    assert retried.retry_of == interrupted.id and retried.attempt == 2
    assert retried.result["finished_attempt"] == 2
    assert "recovered: job run" in log.read_text()
    # The schedules are intact.
    schedules = bewaar("schedule", "list", "--json").json()
    assert [(s["target"], s["cron"]) for s in schedules] == [("justid", "0 3 * * *")]
