"""Crawl speed: `bewaar crawl` against `wget -r -p --warc-file` on the same local site, same run.

    .venv/bin/python bench/crawl.py [--pages 1000] [--latency-pages 500] [--latency 0.02]
                                    [--repeat 3] [--no-default] [--no-profile]

Cases: PAGES pages with no latency, crawled with the after-crawl steps off (collection only:
no replay check, seal or search index) and, alternating in the same run, with the whole
default command (replay check, seal and search index on; enrich off, as bench/harvest.py); and
LATENCY_PAGES pages with LATENCY seconds per response, steps off (``--latency-pages 0`` skips
it). Python runs as installed (bytecode compiled once, in a private PYTHONPYCACHEPREFIX, as
pip does at install time), not as a source tree under PYTHONDONTWRITEBYTECODE, which compiles
every module at every start. CPU seconds are the whole process tree's (RUSAGE_CHILDREN: the
command, its crawl worker and the replay check's pywb processes). Then, with py-spy installed (``pip install
py-spy``), one more run of each no-latency case is sampled: where the CPU goes, by stage and by
function (``--no-profile`` skips it). The site (tests/sites/normal.py, plain variant: pages
plus a few shared requisites) runs in its own process (``python -m tests.sites``) on 127.0.0.1.
Each tool crawls it REPEAT times, alternating, and the median run counts. Printed per case:
pages/s of both (end to end, process start included, on an initialised BEWAAR_HOME; and
bewaar's crawl phase alone, first fetch to last, from its crawl log), the ratios, and the peak
RSS of bewaar's processes. WARC writing throughput is bench/warc_write.py.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
# Runs a command and prints the peak RSS (kB) of its largest descendant and the CPU seconds
# of all its descendants.
MEASURE = ("import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
           "u = resource.getrusage(resource.RUSAGE_CHILDREN); "
           "print(u.ru_maxrss, u.ru_utime + u.ru_stime, file=sys.stderr); "
           "sys.exit(r.returncode)")
ORG = {"BEWAAR_ORGANISATION": "Ministerie van Proefzaken (fictief, bench)",
       "BEWAAR_ORGANISATION_ID": "00000009999999999000"}
STEPS_OFF = {"BEWAAR_QA_AFTER_CRAWL": "false", "BEWAAR_SEAL_AFTER_CRAWL": "false",
             "BEWAAR_SEARCH_AFTER_CRAWL": "false", "BEWAAR_ENRICH_AFTER_ARCHIVING": "false"}
DEFAULT = {"BEWAAR_ENRICH_AFTER_ARCHIVING": "false"}  # the archivist is measured elsewhere
# Where the CPU goes: a sample counts for the first of these frames (innermost first) on its
# stack, in the process it was taken in.
STAGES = [
    ("worker: WARC writing", "write_exchange (archive/warc/writer.py"),
    ("worker: fetch (h11, sockets)", "WirePool.fetch (crawler/wire.py"),
    ("worker: link extraction", "SiteSpider.parse (crawler/spider.py"),
    ("worker: imports", "_find_and_load (<frozen"),
    ("worker: Scrapy engine, other", "crawler/worker.py"),
    ("command: rows to the database", "RunState.handle (crawler/run.py"),
    ("command: collection", "add_to_collection (bewaar/services/crawls.py"),
    ("command: replay check", "check_run (replay/qa.py"),
    ("command: seal", "seal (bewaar/services/crawls.py"),
    ("command: search index", "_search_index (bewaar/services/crawls.py"),
    ("command: imports", "_find_and_load (<frozen"),
    ("command: other", "bewaar/cli/main.py"),
    ("pywb: start", "BaseCli.__init__ (pywb/apps/cli.py"),
    ("pywb: start", "_find_and_load (<frozen"),  # gevent's and pywb's imports
    ("pywb: requests", "WSGIHandler.handle (gevent/pywsgi.py"),
]
IDLE = re.compile(r"acquire_with_timeout|Hub\.run \(|\.wait \(|EpollSelector\.select|"
                  r"\bselect \(|\bpoll \(|_wait_for_tstate_lock|Thread\.join|readline|sleep")


def serve(pages: int, latency: float) -> tuple[subprocess.Popen[str], int]:
    proc = subprocess.Popen(
        [PY, "-m", "tests.sites", "--pages", str(pages), "--latency", str(latency),
         "--plain"],
        cwd=ROOT, stdout=subprocess.PIPE, text=True, env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    return proc, port


def run_wget(url: str, work: Path) -> tuple[float, int, float]:
    out = work / "wget"
    out.mkdir()
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(["wget", "-q", "-r", "-l", "inf", "-p", "-e", "robots=off", "--no-proxy",
                    "--warc-file", str(out / "site"), "-P", str(out / "files"), url],
                   cwd=out, check=False, timeout=3600)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    pages = sum(1 for p in (out / "files").rglob("*.html"))
    return took, pages, cpu


def bewaar_env(home: Path, pycache: Path, steps: dict[str, str]) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("BEWAAR_") and k != "PYTHONDONTWRITEBYTECODE"}
    # The default concurrency (16, 8 per host): on two cores more only adds overhead.
    env.update(ORG)
    env.update(steps)
    env.update(BEWAAR_HOME=str(home), PYTHONPATH=str(ROOT), PYTHONPYCACHEPREFIX=str(pycache))
    return env


def run_bewaar(url: str, work: Path, pycache: Path, steps: dict[str, str],
               profile: Path | None = None) -> tuple[float, float, int, int, float]:
    """(seconds, crawl phase seconds, pages, peak RSS kB, CPU seconds of the process tree)."""
    home = work / "bewaar-home"
    env = bewaar_env(home, pycache, steps)
    # A fresh BEWAAR_HOME: create its database first (once per installation, not per crawl).
    subprocess.run([PY, "-m", "bewaar.cli.main", "runs", "--json"], env=env, check=True,
                   capture_output=True, timeout=600)
    cmd = [PY, "-m", "bewaar.cli.main", "crawl", url, "--json"]
    if profile is not None:
        cmd = [spy(), "record", "--subprocesses", "--rate", "250", "--format", "raw",
               "--output", str(profile), "--", *cmd]
    start = time.perf_counter()
    proc = subprocess.run([PY, "-c", MEASURE, *cmd], env=env, capture_output=True, text=True,
                          timeout=3600)
    took = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"bewaar crawl failed:\n{proc.stderr[-2000:]}")
    # py-spy says what it did on stdout too ("py-spy> …"): the rest is the command's JSON.
    result = json.loads("\n".join(line for line in proc.stdout.splitlines()
                                  if not line.startswith("py-spy>")))
    rss_kb, cpu = proc.stderr.strip().splitlines()[-1].split()
    log = home / "runs" / str(result["run_id"]) / "crawl.log"
    stamps = [datetime.fromisoformat(line.split(" ", 1)[0].replace("Z", "+00:00"))
              for line in log.read_text().splitlines() if line]
    crawl_phase = (max(stamps) - min(stamps)).total_seconds() or took
    return took, crawl_phase, int(result["pages"]), int(rss_kb), float(cpu)


def spy() -> str:
    found = shutil.which("py-spy") or str(Path(PY).parent / "py-spy")
    return found if Path(found).exists() else ""


def where_cpu_goes(raw: Path, top: int = 12) -> dict[str, object]:
    """A py-spy raw profile summed by stage (``STAGES``) and by function (self time)."""
    stages: collections.Counter[str] = collections.Counter()
    funcs: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(errors="replace").splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        if not count.isdigit() or IDLE.search(frames[-1]):
            continue  # a thread waiting, not working
        n = int(count)
        at = max(i for i, f in enumerate(frames) if f.startswith("process "))
        name = frames[at]
        kind = ("worker" if "crawler.worker" in name else
                "pywb" if "wayback" in name or "warcserver" in name else "command")
        frames = frames[at + 1:]
        if not frames:
            continue
        total += n
        leaf = re.sub(r"\(/.*?(site-packages|main)/", "(", frames[-1])
        funcs[f"{kind}: {leaf}"] += n
        for label, marker in STAGES:
            if label.startswith(kind) and any(marker in f for f in frames):
                stages[label] += n
                break
        else:
            stages[f"{kind}: other"] += n
    share = (lambda c: {k: f"{100 * v / total:.0f}%" for k, v in c.most_common(top)}) \
        if total else (lambda c: {})
    return {"samples": total, "stages": share(stages), "functions": share(funcs)}


def case(pages: int, latency: float, repeat: int, pycache: Path,
         default: bool) -> dict[str, object]:
    """Crawl the site ``repeat`` times with each tool (and the default command), alternating,
    and keep the median run of each (a busy host slows single runs of either side by a third
    and more)."""
    server, port = serve(pages, latency)
    wget_runs: list[tuple[float, int, float]] = []
    kinds = {"steps_off": STEPS_OFF, **({"default": DEFAULT} if default else {})}
    runs: dict[str, list[tuple[float, float, int, int, float]]] = {k: [] for k in kinds}
    try:
        url = f"http://127.0.0.1:{port}/"
        with tempfile.TemporaryDirectory() as tmp:  # compiles the bytecode, as an install does
            run_bewaar(url, Path(tmp), pycache, STEPS_OFF)
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as tmp:
                wget_runs.append(run_wget(url, Path(tmp)))
            for kind, steps in kinds.items():
                with tempfile.TemporaryDirectory() as tmp:
                    runs[kind].append(run_bewaar(url, Path(tmp), pycache, steps))
    finally:
        server.terminate()
        server.wait(timeout=10)
    w_time, w_pages, w_cpu = sorted(wget_runs)[len(wget_runs) // 2]
    w_rate = w_pages / w_time
    out: dict[str, object] = {
        "pages": pages, "latency_s": latency, "runs": repeat,
        "wget_pages": w_pages, "wget_s": round(w_time, 2), "wget_pages_per_s": round(w_rate, 1),
        "wget_cpu_s": round(w_cpu, 2), "wget_s_all": [round(t[0], 2) for t in wget_runs],
    }
    for kind, rs in runs.items():
        b_time, b_phase, b_pages, _, b_cpu = sorted(rs)[len(rs) // 2]
        out[kind] = {
            "bewaar_pages": b_pages, "bewaar_s": round(b_time, 2),
            "bewaar_s_all": [round(r[0], 2) for r in rs],
            "bewaar_cpu_s": round(b_cpu, 2),
            "bewaar_pages_per_s": round(b_pages / b_time, 1),
            "bewaar_crawl_phase_pages_per_s": round(b_pages / b_phase, 1),
            "ratio_end_to_end": round((b_pages / b_time) / w_rate, 2),
            "ratio_crawl_phase": round((b_pages / b_phase) / w_rate, 2),
            "bewaar_peak_rss_mb": round(max(r[3] for r in rs) / 1024, 1),
        }
    return out


def profile(pages: int, pycache: Path, default: bool) -> dict[str, object]:
    """One sampled run of each no-latency case (py-spy over the whole process tree)."""
    server, port = serve(pages, 0.0)
    out: dict[str, object] = {}
    try:
        for kind, steps in {"steps_off": STEPS_OFF,
                            **({"default": DEFAULT} if default else {})}.items():
            with tempfile.TemporaryDirectory() as tmp:
                raw = Path(tmp) / "profile.txt"
                run_bewaar(f"http://127.0.0.1:{port}/", Path(tmp), pycache, steps, profile=raw)
                out[kind] = where_cpu_goes(raw)
    finally:
        server.terminate()
        server.wait(timeout=10)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--pages", type=int, default=1000)
    ap.add_argument("--latency-pages", type=int, default=500)
    ap.add_argument("--latency", type=float, default=0.02)
    ap.add_argument("--repeat", type=int, default=3, help="runs per tool and case (median kept)")
    ap.add_argument("--no-default", action="store_true",
                    help="skip the whole default command (replay check, seal, search)")
    ap.add_argument("--no-profile", action="store_true", help="skip the py-spy profile")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as pycache:
        results = [case(args.pages, 0.0, args.repeat, Path(pycache), not args.no_default)]
        if args.latency_pages:
            results.append(case(args.latency_pages, args.latency, args.repeat, Path(pycache),
                                False))
        profiles = None
        if not args.no_profile:
            profiles = profile(args.pages, Path(pycache), not args.no_default) if spy() else \
                "py-spy is not installed (pip install py-spy)"
    goals = {(0, "steps_off"): 0.5, (0, "default"): 0.35, (1, "steps_off"): 3.0}
    r: Any
    for i, r in enumerate(results):
        for kind in ("steps_off", "default"):
            b: Any = r.get(kind)
            if not isinstance(b, dict):
                continue
            goal = goals[(i, kind)]
            print(f"{r['pages']} pages, latency {r['latency_s'] * 1000:.0f} ms, "
                  f"{'after-crawl steps off' if kind == 'steps_off' else 'default command'}, "
                  f"median of {r['runs']}: wget {r['wget_pages_per_s']} pages/s "
                  f"({r['wget_s']} s, {r['wget_cpu_s']} CPU-s), bewaar {b['bewaar_pages_per_s']} "
                  f"pages/s ({b['bewaar_s']} s, {b['bewaar_cpu_s']} CPU-s) end to end "
                  f"({b['bewaar_crawl_phase_pages_per_s']} in the crawl phase); "
                  f"ratio {b['ratio_end_to_end']} ({b['ratio_crawl_phase']}) [target >= {goal}: "
                  f"{'met' if b['ratio_end_to_end'] >= goal else 'not met end to end'}]; "
                  f"peak RSS {b['bewaar_peak_rss_mb']} MB [target < 300 MB]")
    if isinstance(profiles, dict):
        for kind, prof in profiles.items():
            assert isinstance(prof, dict)
            print(f"where the CPU goes ({kind}, {prof['samples']} samples, share of all):")
            print("  by stage:    " + ", ".join(f"{k} {v}" for k, v in prof["stages"].items()))
            print("  by function: " + "\n               ".join(
                f"{v} {k}" for k, v in prof["functions"].items()))
    elif profiles:
        print(f"profile: {profiles}")
    print(json.dumps({"cases": results, "profile": profiles}, indent=2))


if __name__ == "__main__":
    main()
