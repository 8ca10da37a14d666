"""Crawl speed: `bewaar crawl` against `wget -r -p --warc-file` on the same local site, same run.

    .venv/bin/python bench/crawl.py [--pages 1000] [--latency-pages 500] [--latency 0.02]
                                    [--repeat 3]

Two cases: PAGES pages with no latency, and LATENCY_PAGES pages with LATENCY seconds per
response (``--latency-pages 0`` skips it). The site (tests/sites/normal.py, plain variant: pages
plus a few shared requisites) runs in its own process (``python -m tests.sites``) on 127.0.0.1.
Each tool crawls it REPEAT times, alternating, and the median run counts. Printed per case:
pages/s of both (end to end, process start included, on an initialised BEWAAR_HOME; and
bewaar's crawl phase alone, first fetch to last, from its crawl log), the ratios, and the peak
RSS of bewaar's processes. WARC writing throughput is bench/warc_write.py.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
# Runs a command and prints the peak RSS (kB) of its largest descendant.
MEASURE = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
           "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
           "sys.exit(r.returncode)")


def serve(pages: int, latency: float) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [PY, "-m", "tests.sites", "--pages", str(pages), "--latency", str(latency),
         "--plain"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, port


def run_wget(url: str, work: Path) -> tuple[float, int]:
    out = work / "wget"
    out.mkdir()
    start = time.perf_counter()
    subprocess.run(["wget", "-q", "-r", "-l", "inf", "-p", "-e", "robots=off", "--no-proxy",
                    "--warc-file", str(out / "site"), "-P", str(out / "files"), url],
                   cwd=out, check=False, timeout=3600)
    took = time.perf_counter() - start
    pages = sum(1 for p in (out / "files").rglob("*.html"))
    return took, pages


def run_bewaar(url: str, work: Path) -> tuple[float, float, int, int]:
    home = work / "bewaar-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEWAAR_")}
    # The default concurrency (16, 8 per host): on two cores more only adds overhead.
    env.update(BEWAAR_HOME=str(home), PYTHONPATH=str(ROOT), BEWAAR_QA_AFTER_CRAWL="false",
               BEWAAR_SEAL_AFTER_CRAWL="false")
    # A fresh BEWAAR_HOME: create its database first (once per installation, not per crawl).
    subprocess.run([PY, "-m", "bewaar.cli.main", "runs", "--json"], env=env, check=True,
                   capture_output=True, timeout=600)
    start = time.perf_counter()
    proc = subprocess.run([PY, "-c", MEASURE, PY, "-m", "bewaar.cli.main", "crawl", url, "--json"],
                          env=env, capture_output=True, text=True, timeout=3600)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"bewaar crawl failed:\n{proc.stderr[-2000:]}")
    result = json.loads(proc.stdout)
    rss_kb = int(proc.stderr.strip().splitlines()[-1])
    log = home / "runs" / str(result["run_id"]) / "crawl.log"
    stamps = [datetime.fromisoformat(line.split(" ", 1)[0].replace("Z", "+00:00"))
              for line in log.read_text().splitlines() if line]
    crawl_phase = (max(stamps) - min(stamps)).total_seconds() or took
    return took, crawl_phase, int(result["pages"]), rss_kb


def case(pages: int, latency: float, repeat: int) -> dict[str, float]:
    """Crawl the site ``repeat`` times with each tool, alternating, and keep the median run of
    each (a busy host slows single runs of either side by a third and more)."""
    server, port = serve(pages, latency)
    wget_runs: list[tuple[float, int]] = []
    bewaar_runs: list[tuple[float, float, int, int]] = []
    try:
        url = f"http://127.0.0.1:{port}/"
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as tmp:
                wget_runs.append(run_wget(url, Path(tmp)))
            with tempfile.TemporaryDirectory() as tmp:
                bewaar_runs.append(run_bewaar(url, Path(tmp)))
    finally:
        server.terminate()
        server.wait(timeout=10)
    w_time, w_pages = sorted(wget_runs)[len(wget_runs) // 2]
    b_time, b_phase, b_pages, _ = sorted(bewaar_runs)[len(bewaar_runs) // 2]
    rss = max(r[3] for r in bewaar_runs)
    w_rate = w_pages / w_time
    return {
        "pages": pages, "latency_s": latency, "runs": repeat,
        "wget_pages": w_pages, "wget_s": round(w_time, 2), "wget_pages_per_s": round(w_rate, 1),
        "wget_s_all": [round(t, 2) for t, _ in wget_runs],
        "bewaar_pages": b_pages, "bewaar_s": round(b_time, 2),
        "bewaar_s_all": [round(r[0], 2) for r in bewaar_runs],
        "bewaar_pages_per_s": round(b_pages / b_time, 1),
        "bewaar_crawl_phase_pages_per_s": round(b_pages / b_phase, 1),
        "ratio_end_to_end": round((b_pages / b_time) / w_rate, 2),
        "ratio_crawl_phase": round((b_pages / b_phase) / w_rate, 2),
        "bewaar_peak_rss_mb": round(rss / 1024, 1),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--latency-pages", type=int, default=500)
    ap.add_argument("--latency", type=float, default=0.02)
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool and case (median kept)")
    args = ap.parse_args()
    results = [case(args.pages, 0.0, args.repeat)]
    if args.latency_pages:
        results.append(case(args.latency_pages, args.latency, args.repeat))
    targets = {0: ("ratio >= 0.5", 0.5), 1: ("ratio >= 3", 3.0)}
    for i, r in enumerate(results):
        label, goal = targets[i]
        print(f"{r['pages']} pages, latency {r['latency_s'] * 1000:.0f} ms, median of {r['runs']}: "
              f"wget {r['wget_pages_per_s']} pages/s, bewaar {r['bewaar_pages_per_s']} pages/s "
              f"end to end ({r['bewaar_crawl_phase_pages_per_s']} in the crawl phase); "
              f"ratio {r['ratio_end_to_end']} ({r['ratio_crawl_phase']}) [target {label}: "
              f"{'met' if r['ratio_end_to_end'] >= goal else 'not met end to end'}]; "
              f"peak RSS {r['bewaar_peak_rss_mb']} MB [target < 300 MB]")
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
