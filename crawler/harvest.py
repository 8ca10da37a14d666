"""``run_harvest``: many sites crawled at once in ONE worker process (``crawler.worker --many``).

Heritrix-like: one Scrapy reactor holds a crawler per site (its own spider, settings, WARC
writer, scope and per-host download slots), at most ``concurrency`` at a time. This process
sends a site's job when a slot is free (``start_job``: the run made or reopened, as ``bewaar
crawl`` does), stores every run's rows as its worker lines arrive (each tagged with its run id,
``RunState``), and ends each run as soon as its ``done`` line comes (``finish_run``): a slow or
dead site holds only its own slot. A site that cannot start (no seeds, still crawled by a live
process) is reported and skipped; the others go on.

A harvest killed outright leaves its runs ``running`` with the pid of a process that is gone
(one stopped with Ctrl-C: ``interrupted``): ``unfinished_runs`` finds them, and the next harvest
resumes each (same run id, its WARCs repaired, what it stored not fetched again), as ``bewaar
crawl --resume`` does.
"""

from __future__ import annotations

import contextlib
import json
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from typing import IO

from sqlalchemy import select

from archive.db import session_scope
from archive.errors import BewaarError
from archive.models import CrawlRun, Site
from archive.settings import Settings
from crawler.job import encode_job
from crawler.run import CrawlResult, RunState, _alive, _check_writable, finish_run, start_job

WORKER = [sys.executable, "-m", "crawler.worker", "--many"]

# (site, its run's result or None when it could not start, why it could not start)
OnEnd = Callable[[str, CrawlResult | None, str | None], None]


def unfinished_runs(settings: Settings, sites: list[str]) -> dict[str, int]:
    """Each named site's newest run, when it did not end: ``interrupted``, or left ``running``
    by a crawl process that is gone (patch runs and imports are not counted)."""
    out: dict[str, int] = {}
    with session_scope(settings) as db:
        rows = db.execute(
            select(Site.name, CrawlRun.id, CrawlRun.status, CrawlRun.pid).select_from(CrawlRun)
            .join(Site, Site.id == CrawlRun.site_id)
            .where(Site.name.in_(sites), CrawlRun.kind == "crawl").order_by(CrawlRun.id))
        newest = {name: (run_id, status, pid) for name, run_id, status, pid in rows}
    for name, (run_id, status, pid) in newest.items():
        if status == "interrupted" or (status == "running" and not (pid and _alive(pid))):
            out[name] = run_id
    return out


def run_harvest(settings: Settings, sites: list[str], *, on_end: OnEnd,
                resume: dict[str, int] | None = None, concurrency: int | None = None,
                progress: Callable[[int, int], None] | None = None) -> None:
    """Crawl ``sites`` (resuming the run ``resume`` names for a site), ``concurrency`` at once;
    ``on_end`` is called for each site as its run ends, ``progress(running, waiting)`` as the
    numbers change. Returns when every site has ended."""
    _check_writable(settings)
    resume = dict(resume or {})
    limit = concurrency or settings.harvest_concurrency
    log_path = settings.runs_dir / f"harvest-{datetime.now(UTC):%Y%m%dT%H%M%S}.log"
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(WORKER, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=log)
    assert proc.stdin is not None and proc.stdout is not None
    stdin: IO[bytes] | None = proc.stdin
    waiting = list(sites)
    states: dict[int, RunState] = {}
    site_of: dict[int, str] = {}

    def send(line: bytes) -> bool:
        nonlocal stdin
        if stdin is None:
            return False
        try:
            stdin.write(line + b"\n")
            stdin.flush()
            return True
        except (BrokenPipeError, ValueError):
            stdin = None
            return False

    def close_stdin() -> None:
        nonlocal stdin
        if stdin is not None:
            with contextlib.suppress(BrokenPipeError):
                stdin.close()
            stdin = None

    def launch() -> None:
        while waiting and len(states) < limit and stdin is not None:
            name = waiting.pop(0)
            try:
                job = start_job(settings, proc.pid, site_name=None if name in resume else name,
                                resume_run_id=resume.get(name))
            except BewaarError as exc:  # this site cannot start; the others go on
                on_end(name, None, str(exc))
                continue
            states[job.run_id] = RunState(settings, job)
            site_of[job.run_id] = name
            if not send(encode_job(job, settings)):
                break
        if not waiting:
            close_stdin()  # the worker stops once its crawls have ended
        if progress is not None:
            progress(len(states), len(waiting))

    def end(run_id: int, returncode: int | None) -> None:
        state = states.pop(run_id)
        on_end(site_of[run_id], finish_run(settings, state, returncode), None)

    def read() -> None:
        assert proc.stdout is not None
        for raw in proc.stdout:
            try:
                msg = json.loads(raw)
            except ValueError:
                continue
            run_id = msg.get("run")
            state = states.get(run_id) if isinstance(run_id, int) else None
            if state is None:
                continue
            state.handle(msg)
            if msg.get("type") == "done":
                end(run_id, None)
                launch()

    try:
        send(json.dumps({"settings": settings.model_dump(mode="json"),
                         "log": str(log_path)}).encode())
        launch()
        try:
            read()
        except KeyboardInterrupt:
            # Ctrl-C reached the worker too: its crawls stop gracefully and report. No new
            # site starts; a second Ctrl-C stops waiting (the runs are repaired on resume).
            for name in waiting:
                on_end(name, None, "not started: the harvest was interrupted")
            waiting.clear()
            close_stdin()
            try:
                read()
            except KeyboardInterrupt:
                proc.kill()
    except BaseException:  # the record cannot be kept (the database failed): stop the crawls
        proc.kill()
        proc.wait()
        raise
    finally:
        close_stdin()
    proc.wait()
    proc.stdout.close()
    for run_id in list(states):  # the worker stopped before these ended: interrupted
        end(run_id, proc.returncode)
    for name in waiting:
        on_end(name, None, f"the crawl worker stopped (exit {proc.returncode}) before this "
                           "site started")
