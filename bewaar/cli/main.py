"""The ``bewaar`` console script (also ``python -m bewaar.cli.main``).

It imports almost nothing itself: for ``bewaar crawl`` it first starts the crawl worker, which
then imports Scrapy on one core while the command line imports itself on the other. It exits
without the interpreter's module teardown (see ``_exit``).
"""

from __future__ import annotations

import sys


def _runs_a_crawl(args: list[str]) -> bool:
    return bool(args) and args[0] == "crawl" and not {"-h", "--help"} & set(args)


def main() -> None:
    if _runs_a_crawl(sys.argv[1:]):
        from crawler.prestart import prestart

        prestart()
    from bewaar.cli.app import run

    try:
        run()
        code: object = 0
    except SystemExit as exc:
        code = exc.code
    _exit(code)


def _exit(code: object) -> None:
    """Exit as the interpreter would, minus its teardown of every imported module (a quarter
    of a second with SQLAlchemy, Scrapy and lxml loaded): the command's work is done, its
    output flushed, its database connections closed and its exit handlers run."""
    import atexit
    import logging
    import os
    import threading

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
    if "archive.db" in sys.modules:
        sys.modules["archive.db"].close_all()
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)


if __name__ == "__main__":
    main()
