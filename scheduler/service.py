"""The scheduling service: APScheduler 3 with its job store in the project database.

Several service processes may share one database. Each fire time of a stored job is claimed in
``job_claims`` before it runs, so exactly one process runs it; the per-target database lock
(``scheduler.locks``) keeps two runs of one site or source apart, scheduled or on demand.

With ``task_queue = "postgres"`` the service only schedules: a claimed fire time, a "run now"
and a retry are deferred to the task queue (``scheduler.tasks``) and `bewaar worker` processes
run them (``QueueingExecutor``).
"""

from __future__ import annotations

import contextlib
import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.executors.base import run_job
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.job import Job
from apscheduler.jobstores.base import ConflictingIdError, JobLookupError
from apscheduler.jobstores.memory import MemoryJobStore
from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.date import DateTrigger
from sqlalchemy import Engine, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from archive.db import open_db
from archive.models import ChatSchedule, JobClaim, JobRun, Site, utcnow
from archive.settings import Settings
from scheduler import locks, recovery
from scheduler.cron import TIMEZONE, parse_cron
from scheduler.jobs import JOB_FUNCS, Runtime, set_runtime
from scheduler.schedules import job_id

log = logging.getLogger(__name__)
JOBS_TABLE = "apscheduler_jobs"


def claim_key(run_time: datetime) -> str:
    """A fire time as it is claimed in ``job_claims``."""
    return run_time.astimezone(UTC).isoformat(timespec="microseconds")


class SharedJobStore(SQLAlchemyJobStore):
    """The SQLAlchemy job store, shared by several service processes: a job another process
    already removed (a one-off job after its run) or replaced is no error here."""

    def update_job(self, job: Job) -> None:
        try:
            super().update_job(job)
        except JobLookupError:
            log.debug("job %s is gone from the shared store", job.id)

    def remove_job(self, job_id: str) -> None:
        try:
            super().remove_job(job_id)
        except JobLookupError:
            log.debug("job %s was already removed from the shared store", job_id)


class ClaimingExecutor(ThreadPoolExecutor):
    """A thread pool that runs a job's fire time only if this process claims it first."""

    def __init__(self, runtime: Runtime, max_workers: int = 4) -> None:
        super().__init__(max_workers)
        self.runtime = runtime

    def _claim(self, job_id_: str, run_time: datetime) -> bool:
        with self.runtime.sessions() as db:
            return locks.insert_once(db, JobClaim(job_id=job_id_, run_time=claim_key(run_time),
                                                  owner=self.runtime.owner))

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        claimed = [t for t in run_times if self._claim(job.id, t)]
        if not claimed:
            log.debug("job %s at %s was claimed by another service process", job.id, run_times)
            self._run_job_success(job.id, [])
            return
        runtime = self.runtime

        def call() -> Any:
            set_runtime(runtime)
            try:
                return run_job(job, job._jobstore_alias, claimed, self._logger.name)
            finally:
                set_runtime(None)

        def done(f: Any) -> None:
            exc = f.exception()
            if exc:
                self._run_job_error(job.id, exc, getattr(exc, "__traceback__", None))
            else:
                self._run_job_success(job.id, f.result())

        self._pool.submit(call).add_done_callback(done)


class QueueingExecutor(ThreadPoolExecutor):
    """With the task queue on: a fire time this process claims first is deferred to the queue
    (``scheduler.tasks.defer``), for a `bewaar worker` to run; nothing runs here."""

    def __init__(self, runtime: Runtime) -> None:
        super().__init__(2)
        self.runtime = runtime

    def _do_submit_job(self, job: Job, run_times: list[datetime]) -> None:
        from scheduler import tasks

        settings, owner = self.runtime.settings, self.runtime.owner

        def call() -> list[str | None]:
            return [tasks.defer(settings, job.func_ref, list(job.args), dict(job.kwargs),
                                claim=(job.id, t), owner=owner) for t in run_times]

        def done(f: Any) -> None:
            exc = f.exception()
            if exc:
                self._run_job_error(job.id, exc, getattr(exc, "__traceback__", None))
            else:
                self._run_job_success(job.id, [])

        self._pool.submit(call).add_done_callback(done)


class Service:
    """Scheduler, schedule sync, heartbeats and recovery for one service process."""

    def __init__(
        self,
        settings: Settings,
        *,
        sync_seconds: float = 10.0,
        lock_ttl: float = 60.0,
        misfire_grace: int = 3600,
        max_workers: int = 4,
    ) -> None:
        self.settings = settings
        self.sessions: sessionmaker[Session] = open_db(settings)
        engine = self.sessions.kw["bind"]
        assert isinstance(engine, Engine)
        self.owner = locks.make_owner()
        self.sync_seconds = sync_seconds
        self.lock_ttl = lock_ttl
        self.runtime = Runtime(settings, self.sessions, self.owner, lock_ttl)
        if settings.harvest_window:
            parse_cron(settings.harvest_window)  # a bad window stops the start (ScheduleError)
        self.queued = settings.task_queue == "postgres"  # jobs go to `bewaar worker`s
        if self.queued:
            from scheduler import tasks

            tasks.ensure_schema(settings)
        executor: ThreadPoolExecutor = (QueueingExecutor(self.runtime) if self.queued
                                        else ClaimingExecutor(self.runtime, max_workers))
        self.scheduler = BackgroundScheduler(
            jobstores={
                "default": SharedJobStore(engine=engine, tablename=JOBS_TABLE),
                "internal": MemoryJobStore(),
            },
            executors={
                "default": executor,
                "internal": ThreadPoolExecutor(2),
            },
            job_defaults={"coalesce": True, "misfire_grace_time": misfire_grace,
                          "max_instances": 1},
            timezone=TIMEZONE,
        )
        self.recovered: list[dict[str, Any]] = []
        # APScheduler's shutdown holds its job-store lock while it waits for running jobs, so
        # a ``maintain`` that reaches for that lock during shutdown would wait forever. Shutdown
        # therefore first stops maintenance: it takes this lock, which ``maintain`` only tries.
        self._maintaining = threading.Lock()

    # Life cycle ------------------------------------------------------------------------
    def start(self) -> None:
        self.scheduler.start()
        self.recovered = self.recover()
        self.sync()
        internal = {"jobstore": "internal", "executor": "internal", "coalesce": True,
                    "max_instances": 1, "misfire_grace_time": None, "replace_existing": True}
        self.scheduler.add_job(self.heartbeat, "interval", seconds=max(1.0, self.lock_ttl / 4),
                               id="heartbeat", **internal)
        self.scheduler.add_job(self.maintain, "interval", seconds=self.sync_seconds,
                               id="maintain", **internal)
        log.info("scheduler started as %s", self.owner)

    def shutdown(self, wait: bool = True) -> None:
        with self._maintaining:  # waits for a maintenance pass in progress; no new one starts
            if self.scheduler.running:
                self.scheduler.shutdown(wait=wait)
        locks.LIVE_OWNERS.discard(self.owner)

    @property
    def running(self) -> bool:
        return bool(self.scheduler.running)

    # Periodic work ----------------------------------------------------------------------
    def heartbeat(self) -> None:
        locks.refresh(self.sessions, self.owner, self.lock_ttl)
        with self.sessions() as db:
            db.execute(
                update(JobRun)
                .where(JobRun.owner == self.owner, JobRun.status == "running")
                .values(heartbeat_at=utcnow())
            )
            db.commit()

    def maintain(self) -> None:
        """Sync schedules, recover runs of dead processes, forget old claims; wake the loop so
        jobs another process added to the shared store are seen."""
        if not self._maintaining.acquire(blocking=False):
            return  # shutting down (or a pass is still running)
        try:
            if not self.scheduler.running:
                return
            self.sync()
            self.recover()
            with self.sessions() as db:
                old = utcnow() - timedelta(days=7)
                db.execute(delete(JobClaim).where(JobClaim.claimed_at < old))
                db.commit()
            self.scheduler.wakeup()
        except Exception:
            log.exception("scheduler maintenance failed")
        finally:
            self._maintaining.release()

    def recover(self) -> list[dict[str, Any]]:
        return recovery.recover(self.sessions, self.owner, self.lock_ttl, self._enqueue_retry)

    def _enqueue_retry(self, func: str, args: list[Any], kwargs: dict[str, Any]) -> str:
        return self.add_job(func, args, kwargs, trigger=DateTrigger(utcnow()), prefix="retry")

    # Schedules --------------------------------------------------------------------------
    def desired(self) -> dict[str, tuple[str, str, str]]:
        """job id -> (function, target, cron) from the database."""
        want: dict[str, tuple[str, str, str]] = {}
        window = self.settings.harvest_window
        if window:  # one harvest of the due sites instead of a crawl per schedule
            want[job_id("harvest", "window")] = (JOB_FUNCS["harvest"], "window", window)
        with self.sessions() as db:
            for name, cron in db.execute(
                select(Site.name, Site.schedule).where(Site.schedule.is_not(None))
            ):
                if cron and not window:
                    want[job_id("crawl", name)] = (JOB_FUNCS["crawl"], name, cron)
            for source, cron in db.execute(select(ChatSchedule.source, ChatSchedule.cron)):
                want[job_id("chat", source)] = (JOB_FUNCS["chat"], source, cron)
        return want

    def sync(self) -> None:
        """Make the stored jobs match the schedules in the database."""
        want = self.desired()
        have = {j.id: j for j in self.scheduler.get_jobs(jobstore="default")
                if j.id.startswith(("crawl:", "chat:", "harvest:"))}
        for jid, (func, target, cron) in want.items():
            job = have.get(jid)
            if job is not None and job.name == cron:
                continue
            try:
                trigger = parse_cron(cron)
            except Exception as exc:  # a bad row must not stop the others
                log.error("schedule %s: %s", jid, exc)
                continue
            try:
                if job is None:
                    self.scheduler.add_job(func, trigger=trigger, args=[target], id=jid,
                                           name=cron, jobstore="default", replace_existing=True)
                else:
                    self.scheduler.modify_job(jid, jobstore="default", name=cron)
                    self.scheduler.reschedule_job(jid, jobstore="default", trigger=trigger)
            except Exception as exc:  # another service process changed it at the same time
                log.info("schedule %s changed concurrently: %s", jid, exc)
        for jid in set(have) - set(want):
            with contextlib.suppress(Exception):
                self.scheduler.remove_job(jid, jobstore="default")

    # On demand ----------------------------------------------------------------------------
    def add_job(self, func: str, args: list[Any], kwargs: dict[str, Any] | None = None, *,
                trigger: BaseTrigger | None = None, prefix: str = "now") -> str:
        if self.queued and trigger is None:
            return _deferred(self.settings, func, args, kwargs)
        jid = f"{prefix}:{uuid.uuid4().hex}"
        self.scheduler.add_job(func, trigger=trigger or DateTrigger(utcnow()), args=args,
                               kwargs=kwargs or {}, id=jid, name=prefix, jobstore="default",
                               misfire_grace_time=None)
        return jid

    def run_now(self, kind: str, target: str) -> str:
        """Start a crawl or chat export now (in the background); returns the job id."""
        return self.add_job(JOB_FUNCS[kind], [target], prefix=f"now-{kind}")


def enqueue(settings: Settings, func: str, args: list[Any], kwargs: dict[str, Any] | None = None,
            *, trigger: BaseTrigger | None = None, job_id_: str | None = None) -> str:
    """Store a job in the shared job store without running a scheduler here; a running service
    picks it up within its sync interval. With the task queue on (and no trigger) the job is
    queued for a `bewaar worker` at once."""
    if settings.task_queue == "postgres" and trigger is None:
        return _deferred(settings, func, args, kwargs)
    sessions = open_db(settings)
    engine = sessions.kw["bind"]
    idle = BackgroundScheduler(timezone=TIMEZONE)  # never started: only builds the Job
    store = SharedJobStore(engine=engine, tablename=JOBS_TABLE)
    store.start(idle, "default")
    trigger = trigger or DateTrigger(utcnow())
    jid = job_id_ or f"now:{uuid.uuid4().hex}"
    job = Job(idle, id=jid, func=func, args=args, kwargs=kwargs or {}, trigger=trigger,
              executor="default", name="enqueued", misfire_grace_time=None, coalesce=True,
              max_instances=1,
              next_run_time=trigger.get_next_fire_time(None, datetime.now(TIMEZONE)))
    job._jobstore_alias = "default"
    try:
        store.add_job(job)
    except ConflictingIdError:
        store.update_job(job)
    return jid


def _deferred(settings: Settings, func: str, args: list[Any],
              kwargs: dict[str, Any] | None) -> str:
    """Queue a job for a worker now; the id is ``queue:ID``, or ``queued-already`` when a job
    for the same target waits in the queue."""
    from scheduler import tasks

    return tasks.defer(settings, func, args, kwargs) or "queued-already"
