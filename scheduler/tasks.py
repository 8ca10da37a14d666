"""The distributed task engine: jobs queued in PostgreSQL (procrastinate), run by ``bewaar worker``.

With ``task_queue = "postgres"`` every job the service would run itself (a scheduled or requested
crawl, a chat export, a harvest window) is deferred here instead, and ``bewaar worker`` processes
on any machine that shares the database and ``storage_url`` run it, calling the same job
functions (``scheduler.jobs``: a ``JobRun`` row and audit rows per run, the per-target lock).
``task_queue = "local"`` (the default, and the only choice on SQLite) keeps the in-process
thread pool of ``bewaar serve``.

Why procrastinate (decided against Celery and Dramatiq): the project's PostgreSQL is the one
server every machine shares already, so the queue adds no broker to run, back up or secure; a
job is deferred in the same database as the ``job_claims`` row that says its fire time was
claimed. It has what hours-long crawls need: worker heartbeats with a query for the jobs of
workers that went silent (a ``kill -9``, a lost machine), retried here (``retry_stalled``)
after ``worker_stall_timeout``, which a broker's visibility or consumer timeout (RabbitMQ's 30
minutes) would get wrong both ways; job locks (one job per site at a time) and queueing locks
(no second waiting job for a site). Redis here keeps nothing on disk.

Exactly once: a fire time is first claimed in ``job_claims`` (a unique key: of two schedulers,
one wins), then deferred with the queueing lock ``kind:target``; the job function takes the
database lock ``kind:target`` as it does in the service. A retried stalled job finds the
``JobRun`` its dead worker left ``running`` (``JobRun.job_id = "queue:ID"``) and takes it over:
marked interrupted, the crawl resumed from what its run recorded as stored
(``scheduler.jobs.crawl_site``).

The engine's schema is procrastinate's own ``schema.sql``, applied at start when its tables are
missing (under an advisory lock, so two processes starting together apply it once), as the
library's documentation recommends (``procrastinate schema --apply``).
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import threading
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import make_url, update
from sqlalchemy.orm import Session, sessionmaker

from archive.db import open_db
from archive.errors import SettingsError
from archive.models import JobClaim, JobRun, utcnow
from archive.settings import Settings
from scheduler import locks

log = logging.getLogger(__name__)

TASK = "bewaar.job"
# Queue of each job kind; `bewaar worker --queue` takes some of them.
QUEUES = {"crawl": "crawls", "harvest": "crawls", "chat": "chats"}
DEFAULT_QUEUE = "default"
ALL_QUEUES = (*dict.fromkeys(QUEUES.values()), DEFAULT_QUEUE)
MAX_ATTEMPTS = 3  # a job whose worker died this often is given up (as scheduler.recovery)
_SCHEMA_LOCK = 72_190_019  # pg_advisory_lock key while the schema is applied


def enabled(settings: Settings) -> bool:
    return settings.task_queue == "postgres"


def conninfo(settings: Settings) -> str:
    """The libpq URL of the project database (SQLAlchemy's ``+driver`` removed)."""
    url = make_url(settings.db_url)
    if not url.drivername.startswith("postgresql"):
        raise SettingsError('task_queue = "postgres" needs a PostgreSQL database_url')
    return url.set(drivername="postgresql").render_as_string(hide_password=False)


def shown_url(settings: Settings) -> str:
    return make_url(settings.db_url).render_as_string(hide_password=True)


def kind_of(func: str) -> str:
    """The job kind of a ``module:function`` reference (its ``@tracked`` kind)."""
    fn = resolve(func)
    return str(getattr(fn, "job_kind", "") or DEFAULT_QUEUE)


def queue_of(func: str) -> str:
    return QUEUES.get(kind_of(func), DEFAULT_QUEUE)


def resolve(func: str) -> Callable[..., Any]:
    module, _, name = func.partition(":")
    fn: Callable[..., Any] = getattr(importlib.import_module(module), name)
    return fn


# Schema --------------------------------------------------------------------------------------
def ensure_schema(settings: Settings) -> bool:
    """Apply procrastinate's schema when its tables are missing; True when it was applied.
    Raises ``SettingsError`` (password hidden) when the database cannot be reached."""
    import psycopg
    from procrastinate.schema import SchemaManager

    try:
        with psycopg.connect(conninfo(settings), autocommit=True, connect_timeout=10) as conn:
            if _has_schema(conn):
                return False
            conn.execute("SELECT pg_advisory_lock(%s)", (_SCHEMA_LOCK,))
            try:
                if _has_schema(conn):
                    return False
                with conn.transaction():
                    conn.execute(SchemaManager.get_schema())
                log.info("applied procrastinate's schema")
                return True
            finally:
                conn.execute("SELECT pg_advisory_unlock(%s)", (_SCHEMA_LOCK,))
    except psycopg.Error as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise SettingsError(f"cannot reach the task queue's database {shown_url(settings)}: "
                            f"{_scrub(reason, settings)}") from None


def _has_schema(conn: Any) -> bool:
    row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
    return bool(row and row[0])


def _scrub(text: str, settings: Settings) -> str:
    password = make_url(settings.db_url).password
    return text.replace(str(password), "***") if password else text


def check(settings: Settings) -> sessionmaker[Session]:
    """At start: the database reachable and migrated, the queue's schema there. Raises
    ``SettingsError`` with the reason (exit 2)."""
    if not enabled(settings):
        raise SettingsError('the task queue is off: set task_queue = "postgres" (and a '
                            "postgresql:// database_url) to run jobs in `bewaar worker`")
    sessions = open_db(settings)
    ensure_schema(settings)
    return sessions


# The app ---------------------------------------------------------------------------------------
def make_app(settings: Settings, *, sync: bool = False) -> Any:
    """A procrastinate App on the project database with the one task ``bewaar.job``."""
    import procrastinate

    if sync:
        connector: Any = procrastinate.SyncPsycopgConnector(conninfo=conninfo(settings),
                                                            min_size=1, max_size=2)
    else:
        connector = procrastinate.PsycopgConnector(conninfo=conninfo(settings),
                                                   min_size=1, max_size=4)
    app = procrastinate.App(connector=connector)
    app.task(name=TASK, pass_context=True)(_run)
    return app


def _claim(settings: Settings, claim: tuple[str, datetime], owner: str) -> bool:
    from scheduler.service import claim_key

    with open_db(settings)() as db:
        return locks.insert_once(db, JobClaim(job_id=claim[0], run_time=claim_key(claim[1]),
                                              owner=owner))


def defer(settings: Settings, func: str, args: list[Any], kwargs: dict[str, Any] | None = None,
          *, claim: tuple[str, datetime] | None = None, owner: str = "enqueue") -> str | None:
    """Queue ``func(*args, **kwargs)`` for a worker; returns ``"queue:ID"``, or None when the
    fire time ``claim`` (job id, run time) was claimed already or a job for the same target is
    waiting already (its queueing lock)."""
    from procrastinate.exceptions import AlreadyEnqueued

    if claim is not None and not _claim(settings, claim, owner):
        log.debug("job %s at %s was claimed by another scheduler", *claim)
        return None
    kind = kind_of(func)
    target = str(args[0]) if args else func
    ensure_schema(settings)
    app = make_app(settings, sync=True)
    with app.open():
        task = app.tasks[TASK].configure(queue=QUEUES.get(kind, DEFAULT_QUEUE),
                                         lock=f"{kind}:{target}",
                                         queueing_lock=f"{kind}:{target}")
        try:
            job_id = task.defer(func=func, args=list(args), kwargs=dict(kwargs or {}))
        except AlreadyEnqueued:
            log.info("%s %s is waiting in the queue already", kind, target)
            return None
    return f"queue:{job_id}"


# Running jobs in a worker ------------------------------------------------------------------------
class WorkerState:
    """What the tasks of one ``bewaar worker`` process share: settings, database, its owner
    name (host:pid:nonce) and the heartbeat thread that keeps its locks and job runs fresh."""

    def __init__(self, settings: Settings, sessions: sessionmaker[Session]) -> None:
        self.settings = settings
        self.sessions = sessions
        self.owner = locks.make_owner()
        self.ttl = settings.worker_stall_timeout
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="heartbeat", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
        locks.LIVE_OWNERS.discard(self.owner)

    def beat(self) -> None:
        locks.refresh(self.sessions, self.owner, self.ttl)
        with self.sessions() as db:
            db.execute(update(JobRun)
                       .where(JobRun.owner == self.owner, JobRun.status == "running")
                       .values(heartbeat_at=utcnow()))
            db.commit()

    def _beat(self) -> None:
        while not self._stop.wait(self.settings.worker_heartbeat):
            try:
                self.beat()
            except Exception:  # noqa: BLE001 - the next beat tries again
                log.exception("worker heartbeat failed")


_state: WorkerState | None = None


def _run(context: Any, func: str, args: list[Any], kwargs: dict[str, Any]) -> Any:
    """The one task: run job function ``func`` as the service would, in this worker."""
    from scheduler.jobs import Runtime, set_runtime

    state = _state
    if state is None:
        raise RuntimeError("bewaar.job runs inside `bewaar worker` only")
    job = context.job
    rt = Runtime(state.settings, state.sessions, state.owner, state.ttl,
                 queue_job=int(job.id), queue_attempt=int(job.attempts) + 1)
    set_runtime(rt)
    try:
        return resolve(func)(*args, **kwargs)
    finally:
        set_runtime(None)


async def retry_stalled(app: Any, settings: Settings, sessions: sessionmaker[Session]) -> list[int]:
    """Put the jobs of workers silent for ``worker_stall_timeout`` back in the queue (another
    worker takes them up); one retried too often ends failed. Returns the retried job ids."""
    from procrastinate import jobs as pjobs
    from procrastinate.exceptions import ConnectorException

    retried = []
    manager = app.job_manager
    await manager.prune_stalled_workers(settings.worker_stall_timeout)
    stalled = await manager.get_stalled_jobs(
        seconds_since_heartbeat=settings.worker_stall_timeout)
    for job in stalled:
        try:
            if job.attempts + 1 >= MAX_ATTEMPTS:
                await manager.finish_job(job=job, status=pjobs.Status.FAILED, delete_job=False)
                _give_up(sessions, int(job.id))
                log.error("job %s (%s) lost its worker %s times: given up", job.id,
                          job.task_kwargs.get("func"), job.attempts + 1)
                continue
            if job.queueing_lock:  # a later fire time's job for the target waits: this one,
                # taken up again, does its work (and resumes the run), so that one goes
                for waiting in await manager.list_jobs_async(
                        queueing_lock=job.queueing_lock, status="todo"):
                    await manager.cancel_job_by_id_async(int(waiting.id))
            await manager.retry_job(job=job)
        except ConnectorException as exc:  # another worker retried it first
            log.debug("stalled job %s: %s", job.id, exc)
            continue
        retried.append(int(job.id))
        log.warning("job %s (%s %s) lost its worker: queued again", job.id,
                    job.task_kwargs.get("func"), job.task_kwargs.get("args"))
    return retried


def _give_up(sessions: sessionmaker[Session], job_id: int) -> None:
    with sessions() as db:
        db.execute(update(JobRun)
                   .where(JobRun.job_id == f"queue:{job_id}", JobRun.status == "running")
                   .values(status="interrupted", finished_at=utcnow(),
                           error=f"interrupted: its worker stopped {MAX_ATTEMPTS} times; "
                                 "given up"))
        db.commit()


def run_worker(settings: Settings, *, queues: list[str] | None = None, concurrency: int = 1,
               ready: Callable[[str], None] | None = None) -> None:
    """Run jobs until SIGINT/SIGTERM: procrastinate's worker, this process's heartbeat, and a
    loop that retries the jobs of stalled workers."""
    global _state
    from sqlalchemy.orm import configure_mappers

    from archive.models import load_all

    load_all()  # every model declared before the job and heartbeat threads query any
    configure_mappers()
    sessions = check(settings)
    state = _state = WorkerState(settings, sessions)
    app = make_app(settings)
    beat = settings.worker_heartbeat

    async def main() -> None:
        async with app.open_async():
            watcher = asyncio.create_task(_watch(app, settings, sessions, beat))
            try:
                if ready is not None:
                    ready(state.owner)
                await app.run_worker_async(
                    queues=queues or None, concurrency=concurrency, name=state.owner,
                    update_heartbeat_interval=beat,
                    stalled_worker_timeout=settings.worker_stall_timeout,
                    fetch_job_polling_interval=min(5.0, beat), delete_jobs="never",
                    install_signal_handlers=True)
            finally:
                watcher.cancel()

    state.start()
    try:
        asyncio.run(main())
    finally:
        state.stop()
        _state = None


async def _watch(app: Any, settings: Settings, sessions: sessionmaker[Session],
                 every: float) -> None:
    while True:
        try:
            await retry_stalled(app, settings, sessions)
        except asyncio.CancelledError:
            raise
        except Exception:  # noqa: BLE001 - the next round tries again
            log.exception("retrying stalled jobs failed")
        await asyncio.sleep(every)


def wait_until(pred: Callable[[], bool], timeout: float, every: float = 0.2) -> bool:
    """Poll ``pred`` until true or ``timeout`` seconds passed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return True
        time.sleep(every)
    return pred()
