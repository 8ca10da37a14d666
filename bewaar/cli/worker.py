"""``bewaar worker``: run the queued jobs (crawls, harvests, chat exports) on this machine."""

from __future__ import annotations

import os
import sys
from typing import Annotated

import typer

from bewaar.cli.common import fail, settings


def worker(
    queue: Annotated[list[str] | None, typer.Option(
        "--queue", help="Take jobs from this queue only (repeat for more): crawls (crawls and "
                        "harvests), chats or default. Default: every queue.")] = None,
    concurrency: Annotated[int, typer.Option(
        min=1, max=64, help="Jobs this worker runs at once (each crawl in its own crawl "
                            "process).")] = 1,
) -> None:
    """Run the jobs `bewaar serve` schedules, from the task queue in PostgreSQL.

    Needs task_queue = "postgres" and a postgresql:// database_url; any number of workers, on
    any machines that share the database and storage_url, each with its own BEWAAR_HOME. A
    worker that stops (kill -9, a lost machine) is noticed after worker_stall_timeout seconds
    without a heartbeat: another worker takes its jobs up and resumes its crawls. Stop it with
    Ctrl-C or SIGTERM: it finishes the jobs it runs first. Exit 2 when the database cannot be
    reached or the queue is off.

    Example:

        BEWAAR_TASK_QUEUE=postgres bewaar worker --concurrency 2
        bewaar worker --queue crawls
    """
    from archive.errors import SettingsError
    from scheduler import tasks

    cfg = settings()
    if not tasks.enabled(cfg):
        raise fail('bewaar worker needs task_queue = "postgres" (BEWAAR_TASK_QUEUE=postgres) '
                   "and a postgresql:// database_url; with task_queue = \"local\" `bewaar "
                   "serve` runs the jobs itself")
    unknown = [q for q in queue or [] if q not in tasks.ALL_QUEUES]
    if unknown:
        raise fail(f"unknown queue {unknown[0]!r}; the queues are {', '.join(tasks.ALL_QUEUES)}")

    def ready(owner: str) -> None:
        names = ", ".join(queue) if queue else "every queue"
        sys.stderr.write(f"bewaar worker {owner} ready on {names} (pid {os.getpid()}, "
                         f"{concurrency} at once, database {tasks.shown_url(cfg)})\n")
        sys.stderr.flush()

    try:
        tasks.run_worker(cfg, queues=queue, concurrency=concurrency, ready=ready)
    except SettingsError as exc:
        raise fail(str(exc)) from None
    except KeyboardInterrupt:
        pass


def register(app: typer.Typer) -> None:
    app.command("worker")(worker)
