"""Replay benchmark: QA throughput over a 1,000-page crawl, and replay latency through pywb.

    .venv/bin/python -m bench.replay [--pages 1000] [--samples 400]

Crawls a local generated site (tests/sites/normal.py) into a fresh BEWAAR_HOME, then:
  * QA: ``check_run`` over every page (HTML + CSS requisites), pages/s with the wayback workers
    up, and the anchor beside it: the same pages and requisites fetched from the live site
    with the same client and concurrency (what a perfect, zero-cost replay would give).
  * Latency: p50/p95 of single requests through ``bewaar replay serve``'s wayback, in the
    rewritten (mp_) and raw (id_) modes, beside the live site.
Not a timed test; prints numbers and ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _pct(values: list[float], q: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(q * len(values)))] * 1000


async def _live_anchor(pages: list[str], concurrency: int) -> float:
    """Fetch pages and their requisites from the live site with the QA's own HTTP client."""
    from urllib.parse import urlsplit

    from replay import fetch
    from replay.requisites import css_requisites, html_requisites

    seen: dict[str, asyncio.Task[list[str]]] = {}
    sem = asyncio.Semaphore(concurrency)

    async def get(url: str) -> fetch.Response | None:
        parts = urlsplit(url)
        async with sem:
            return await fetch.get(parts.hostname or "", parts.port or 80,
                                   parts.path + (f"?{parts.query}" if parts.query else ""))

    async def req(url: str) -> list[str]:
        r = await get(url)
        if r is None or "css" not in r.headers.get("content-type", ""):
            return []
        return css_requisites(r.body.decode("utf-8", "replace"), url)

    async def page(url: str) -> None:
        r = await get(url)
        todo = html_requisites(r.body, url) if r else []
        while todo:
            for u in todo:
                if u not in seen:
                    seen[u] = asyncio.ensure_future(req(u))
            children = await asyncio.gather(*(seen[u] for u in todo))
            todo = [c for cs in children for c in cs if c not in seen]

    t = time.monotonic()
    await asyncio.gather(*(page(u) for u in pages))
    return time.monotonic() - t


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--samples", type=int, default=400)
    args = ap.parse_args()

    home = Path(tempfile.mkdtemp(prefix="bench-replay-"))
    try:
        run(home, args.pages, args.samples)
    finally:
        shutil.rmtree(home, ignore_errors=True)


def run(home: Path, pages: int, samples: int) -> None:
    os.environ["BEWAAR_HOME"] = str(home)
    os.environ["BEWAAR_QA_AFTER_CRAWL"] = "false"
    os.environ["BEWAAR_SEAL_AFTER_CRAWL"] = "false"
    from archive.db import session_scope
    from archive.models import Site
    from archive.settings import load_settings
    from crawler import run_crawl
    from replay import check_run
    from replay.collections import write_config
    from replay.qa import workers_for_machine
    from replay.wayback import Wayback
    from tests.sites.normal import NormalSite

    settings = load_settings()
    with NormalSite(pages=pages) as site:
        with session_scope(settings) as db:
            db.add(Site(name="bench", seeds=[site.url], include=[], exclude=[],
                        max_pages=pages + 100))
        t = time.monotonic()
        crawl = run_crawl(settings, site_name="bench")
        print(f"crawl: {crawl.pages} pages in {time.monotonic() - t:.1f} s (setup)")

        qa = check_run(settings, crawl.run_id)
        n = len(qa.pages)
        busy = qa.seconds - qa.start_seconds
        print(f"QA: {n} pages, {qa.requests} replay requests, {qa.failed} failed; "
              f"{qa.start_seconds:.1f} s to start {workers_for_machine()} wayback workers, "
              f"{busy:.2f} s replaying")
        print(f"QA throughput: {qa.pages_per_second:.0f} pages/s "
              f"({n / qa.seconds:.0f} pages/s including start-up); target >= 100")
        page_urls = [p.url for p in qa.pages]
        live = asyncio.run(_live_anchor(page_urls, 16 * workers_for_machine()))
        print(f"anchor, same work against the live site: {n / live:.0f} pages/s; "
              f"ratio QA/live = {(n / busy) / (n / live):.2f}")

        write_config(settings)
        rnd = random.Random(1)
        sample = [rnd.choice(page_urls) for _ in range(samples)]
        with Wayback(settings.collections_dir) as wb, \
                httpx.Client(headers={"Connection": "close"}) as client:
            for label, tmpl in (("replay mp_ (rewritten)", "{b}/bench/2030mp_/{u}"),
                                ("replay id_ (raw)", "{b}/bench/2030id_/{u}"),
                                ("live site (anchor)", "{u}")):
                times = []
                for u in sample:
                    t = time.perf_counter()
                    r = client.get(tmpl.format(b=wb.url, u=u))
                    times.append(time.perf_counter() - t)
                    assert r.status_code == 200, (u, r.status_code)
                print(f"latency {label}: p50 {_pct(times, 0.5):.1f} ms, "
                      f"p95 {_pct(times, 0.95):.1f} ms, mean {statistics.mean(times)*1000:.1f} ms")


if __name__ == "__main__":
    main()
