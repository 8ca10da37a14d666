"""Leave a process the way the interpreter would, minus its teardown of every imported module.

With SQLAlchemy, Scrapy and lxml loaded that teardown takes a quarter of a second, which every
``bewaar`` command and every crawl worker would otherwise spend after its work is done.
"""

from __future__ import annotations

import atexit
import gc
import logging
import os
import sys
import threading


def exit_now(code: object = 0) -> None:
    """Exit with ``code`` (as ``SystemExit`` takes it) once the work is done: threads stopped
    and joined, exit handlers run, garbage finalised (an unclosed file closes and flushes),
    database connections closed, logs and output flushed."""
    if code is None:
        status = 0
    elif isinstance(code, int):
        status = code
    else:
        print(code, file=sys.stderr)
        status = 1
    # The interpreter's own first step at exit: stop thread pools, wait for non-daemon threads.
    shutdown = getattr(threading, "_shutdown", None)
    if shutdown is not None:
        shutdown()
    else:
        for thread in threading.enumerate():
            if thread is not threading.current_thread() and not thread.daemon:
                thread.join()
    atexit._run_exitfuncs()
    gc.collect()
    if "archive.db" in sys.modules:
        sys.modules["archive.db"].close_all()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
