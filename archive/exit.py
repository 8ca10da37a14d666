"""End a process through the interpreter's normal shutdown, without its garbage collections.

A ``bewaar`` command or a crawl worker has SQLAlchemy, rich, Scrapy, Twisted and lxml loaded
when its work is done. The interpreter's normal shutdown (join non-daemon threads, run the
``atexit`` handlers, flush the standard streams, clear every module) then runs several full
garbage collections over that whole heap. ``gc.freeze()`` (public, documented) moves every
object alive at that moment into the permanent generation, which no collection scans, so the
shutdown keeps every step a library relies on and loses only the scans.

Measured on the shared 2-core development machine under load (time from the work being done
until the parent has reaped the process; median of 20, two sessions, 1 December 2026):

- plain ``sys.exit``: 480-790 ms for ``bewaar runs``, 510-900 ms for the crawl worker;
- the former exit (``gc.collect``, then ``os._exit`` after the private ``threading._shutdown``
  and ``atexit._run_exitfuncs``): 75-310 ms and 100-180 ms;
- ``gc.freeze`` and ``SystemExit`` (this module): 31-67 ms and 39-72 ms;
- a bare ``os._exit``, the floor: 8-18 ms and 11-15 ms.

What a frozen object loses is only the cycle collector: an object in a reference cycle is not
finalised at exit. Nothing here relies on that: files are written with ``archive.files`` (closed
explicitly), log handlers are flushed by ``logging``'s own ``atexit`` handler, the standard
streams by the interpreter, and database connections are closed here before the freeze.
"""

from __future__ import annotations

import gc
import sys
from typing import NoReturn


def exit_now(code: object = 0) -> NoReturn:
    """Exit with ``code`` (as ``SystemExit`` takes it) once the work is done: database
    connections closed, then the interpreter's normal shutdown without its collections."""
    if "archive.db" in sys.modules:  # loaded only by commands that use the database
        sys.modules["archive.db"].close_all()
    gc.freeze()
    raise SystemExit(code)
