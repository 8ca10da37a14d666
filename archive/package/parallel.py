"""Spread per-file work (hashing, MDTO) over the cores, in batches.

``run_batched`` cuts the items into batches and runs them on every core:

- in forked worker processes when this process has no other thread (the command line), so
  each core has its own interpreter and no batch waits for another one's GIL: with threads,
  the MDTO parsing of one thread and the many short system calls of another hand the GIL back
  and forth, and two cores did the work of about one and a half;
- in threads otherwise (a server, whose other threads may hold locks a forked child would
  inherit locked). hashlib, file I/O and lxml release the GIL, so threads still help.

Batches, not single items, keep the hand-over rare: one job per small file costs more than
hashing it. Each worker gets its next batch as soon as it has fewer than two, so a slow batch
does not hold the others up; the results come back in batch order. This process reads the
items and runs ``on_done`` (writing files, say) while the workers hash, so neither waits for
the other.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import signal
import threading
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import chain, islice
from multiprocessing.connection import Connection, wait
from typing import Any, TypeVar

from archive.errors import BewaarError

T = TypeVar("T")
J = TypeVar("J")


class WorkerError(BewaarError):
    """A worker process ended without returning its results."""


def workers() -> int:
    return max(2, min(4, os.cpu_count() or 2))


def can_fork() -> bool:
    """Forking is safe only with no other thread alive (one could hold a lock the child needs)."""
    return hasattr(os, "fork") and threading.active_count() == 1


def run_batched(
    fn: Callable[[list[J]], list[T]], items: Iterable[J], *, batch: int = 64,
    weight: Callable[[J], int] | None = None, max_weight: int = 32 << 20,
    processes: int | None = None, on_done: Callable[[list[T]], None] | None = None,
    fork: bool | None = None,
) -> list[T]:
    """``fn`` over ``items`` in batches on every core; the results in the order of ``items``.

    A batch ends at ``batch`` items or, with ``weight`` (bytes, say), once it reaches
    ``max_weight``, so a few big files still spread over the cores. ``on_done`` sees each
    batch's results as they arrive, in this process. ``fork`` (default: when ``can_fork()``)
    runs the batches in forked processes: then items and results must be picklable, and
    ``fn`` must not write to files this process has open."""
    n = processes or workers()
    chunks = _chunks(items, batch, weight, max_weight)
    if fork is None:
        fork = can_fork()
    if fork:
        first = list(islice(chunks, 2))
        if len(first) < 2:  # one batch: not worth a process
            return [r for chunk in first for r in _report(fn(chunk), on_done)]
        return [r for res in _forked(fn, chain(first, chunks), n, on_done) for r in res]
    return _threaded(fn, chunks, n, on_done)


def _report(res: list[T], on_done: Callable[[list[T]], None] | None) -> list[T]:
    if on_done:
        on_done(res)
    return res


def _threaded(fn: Callable[[list[J]], list[T]], chunks: Iterator[list[J]], n: int,
              on_done: Callable[[list[T]], None] | None) -> list[T]:
    """A few batches in flight at a time (flat memory)."""
    out: list[T] = []
    pending: deque[Future[list[T]]] = deque()

    def collect(fut: Future[list[T]]) -> None:
        res = fut.result()
        out.extend(res)
        if on_done:
            on_done(res)

    with ThreadPoolExecutor(max_workers=n) as pool:
        try:
            for chunk in chunks:
                pending.append(pool.submit(fn, chunk))
                if len(pending) >= n * 2:
                    collect(pending.popleft())
            while pending:
                collect(pending.popleft())
        except BaseException:
            for fut in pending:
                fut.cancel()
            raise
    return out


def _forked(fn: Callable[[list[J]], list[T]], chunks: Iterator[list[J]], n: int,
            on_done: Callable[[list[T]], None] | None) -> list[list[T]]:
    """``n`` forked children take batches over their pipes, two in flight each, and answer
    ``(index, results)`` or ``(-1, exception)``. This process reads the items, hands out the
    batches and runs ``on_done``, all while the children work."""
    ctx = multiprocessing.get_context("fork")
    results: dict[int, list[T]] = {}
    in_flight: dict[Connection, int] = {}
    pids: list[int] = []
    try:
        for _ in range(n):
            ours, theirs = ctx.Pipe()
            pid = os.fork()
            if pid == 0:  # the child: work, answer, and leave without any of the parent's exits
                for other in [ours, *in_flight]:  # so each worker sees its own pipe close
                    other.close()
                _child(fn, theirs)
            theirs.close()
            in_flight[ours] = 0
            pids.append(pid)

        def take(conn: Connection) -> None:
            try:
                i, res = conn.recv()
            except (EOFError, OSError):
                raise WorkerError("a worker process ended before returning its results") from None
            if i < 0:
                raise res
            in_flight[conn] -= 1
            results[i] = _report(res, on_done)

        sent = 0
        for chunk in chunks:
            free = [c for c, k in in_flight.items() if k < 2]
            while not free:
                for conn in wait(list(in_flight)):
                    take(conn)  # type: ignore[arg-type]
                free = [c for c, k in in_flight.items() if k < 2]
            conn = min(free, key=in_flight.__getitem__)
            try:
                conn.send((sent, chunk))
            except OSError:
                while True:
                    take(conn)  # raises the worker's own error when it sent one
            in_flight[conn] += 1
            sent += 1
        while len(results) < sent:
            for conn in wait([c for c, k in in_flight.items() if k]):
                take(conn)  # type: ignore[arg-type]
        for conn in in_flight:
            with contextlib.suppress(OSError):
                conn.send(None)
    finally:
        for conn in in_flight:
            conn.close()
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)  # a finished one is a zombie; after an error, stop
            os.waitpid(pid, 0)
    return [results[i] for i in range(sent)]


def _child(fn: Callable[[list[J]], Any], conn: Connection) -> None:
    code = 0
    try:
        while (job := conn.recv()) is not None:
            i, chunk = job
            conn.send((i, fn(chunk)))
    except EOFError:
        pass  # the parent is gone or gave up
    except BaseException as exc:  # noqa: BLE001 - every failure goes back to the parent
        code = 1
        try:
            conn.send((-1, exc))
        except Exception:  # noqa: BLE001 - an exception that cannot be pickled
            conn.send((-1, WorkerError(f"{type(exc).__name__}: {exc}")))
    finally:
        conn.close()
        os._exit(code)


def _chunks(items: Iterable[J], batch: int, weight: Callable[[J], int] | None,
            max_weight: int) -> Iterator[list[J]]:
    if weight is None:
        it = iter(items)
        while chunk := list(islice(it, batch)):
            yield chunk
        return
    chunk, total = [], 0
    for item in items:
        chunk.append(item)
        total += weight(item)
        if len(chunk) >= batch or total >= max_weight:
            yield chunk
            chunk, total = [], 0
    if chunk:
        yield chunk
