"""The crawl worker process, started as early as possible.

A worker spends about a second importing Scrapy and Twisted. ``bewaar crawl`` starts one before
the command line itself is imported (``prestart``), so both imports run side by side on two
cores; ``run_crawl`` then takes that worker (``take``) or starts one. A worker waits for its job
on stdin and exits quietly when stdin closes without one. This module imports only the standard
library: it runs before everything else.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys

WORKER = [sys.executable, "-m", "crawler.worker"]

_waiting: subprocess.Popen[bytes] | None = None


def start_worker() -> subprocess.Popen[bytes]:
    """A worker with pipes on stdin (the job), stdout (progress) and stderr (until the job names
    its log file)."""
    return subprocess.Popen(WORKER, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, cwd=os.getcwd())


def prestart() -> None:
    """Start a worker now for a crawl this process will run soon."""
    global _waiting
    if _waiting is None:
        _waiting = start_worker()
        atexit.register(_discard)


def take() -> subprocess.Popen[bytes]:
    """The worker started early, if it is still waiting; otherwise a new one."""
    global _waiting
    proc, _waiting = _waiting, None
    if proc is not None and proc.poll() is None:
        return proc
    if proc is not None:
        wait_closed(proc)
    return start_worker()


def _discard() -> None:
    """A worker that no crawl took (``--help``, a bad argument) is stopped at exit."""
    global _waiting
    proc, _waiting = _waiting, None
    if proc is not None:
        proc.kill()
        wait_closed(proc)


def wait_closed(proc: subprocess.Popen[bytes]) -> None:
    """Reap a worker that has exited or been killed, and close our ends of its pipes."""
    proc.wait()
    for pipe in (proc.stdin, proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()
