"""Harvest at scale: `bewaar harvest` of N sites against 16 `wget -r -p --warc-file` in parallel.

    .venv/bin/python bench/harvest.py [--sites 200] [--pages 30] [--latency 0.05] [--wget 16]

N generated sites (tests/sites/normal.py, plain variant), each its own 127.0.0.1:PORT, PAGES
pages at LATENCY seconds per response, all served by one separate process. The same run
archives them with wget, WGET processes at a time (no check, no seal), and with `bewaar
harvest` (crawled, collection, replay-checked and sealed: the defaults) on a fresh
BEWAAR_HOME whose sites were registered beforehand. Printed: both wall times, the ratio,
pages/s, the peak memory of bewaar's whole process tree (summed PSS, sampled every 0.2 s) and
a projection to 1,600 sites of 5,000 pages a day on a 16-core machine.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PY = sys.executable
ORG = {"BEWAAR_ORGANISATION": "Ministerie van Proefzaken (fictief, bench)",
       "BEWAAR_ORGANISATION_ID": "00000009999999999000",
       "BEWAAR_ENRICH_AFTER_ARCHIVING": "false"}


def serve_forever(sites: int, pages: int, latency: float) -> None:
    """The ``--serve`` mode: every site in this one process, their ports on one line."""
    sys.path.insert(0, str(ROOT))
    from tests.sites import NormalSite

    servers = [NormalSite(pages=pages, latency=latency, page_words=400, image_size=8_000,
                          rich=False).start() for _ in range(sites)]
    print(json.dumps([s.port for s in servers]), flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        while True:
            time.sleep(3600)


def _tree(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat", "rb") as fh:
                    ppid = int(fh.read().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(d))
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def _pss_kb(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as fh:
            for line in fh:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1])
    except (OSError, ValueError):
        pass
    return 0


def _cpu_and_name(pid: int) -> tuple[float, str] | None:
    """CPU seconds (user + system) so far and a short name: the module or program it runs."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = [a.decode(errors="replace") for a in fh.read().split(b"\0") if a]
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    name = Path(argv[0]).name if argv else "?"
    if name.startswith("python") and len(argv) > 1 and not argv[1].startswith("-"):
        name = Path(argv[1]).name  # a console script: wayback
    if "-m" in argv[:-1]:
        name = " ".join(argv[argv.index("-m") + 1:argv.index("-m") + 3])
    return (int(fields[11]) + int(fields[12])) / ticks, name


class PeakMemory:
    """The peak of the summed PSS of a process and all its descendants, sampled; and the CPU
    seconds each of them used (as last seen)."""

    def __init__(self, pid: int) -> None:
        self.pid, self.peak_kb, self.peak_procs = pid, 0, 0
        self.cpu: dict[int, tuple[float, str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(0.2):
            pids = _tree(self.pid)
            total = sum(_pss_kb(p) for p in pids)
            for p in pids:
                seen = _cpu_and_name(p)
                if seen is not None:  # a process that is exiting has no cmdline: keep its name
                    name = self.cpu[p][1] if p in self.cpu and seen[1] == "?" else seen[1]
                    self.cpu[p] = (seen[0], name)
            if total > self.peak_kb:
                self.peak_kb, self.peak_procs = total, len(pids)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=5)


def run_wget(ports: list[int], work: Path, parallel: int) -> tuple[float, int]:
    def one(port: int) -> None:
        out = work / str(port)
        out.mkdir()
        subprocess.run(["wget", "-q", "-r", "-l", "inf", "-p", "-e", "robots=off", "--no-proxy",
                        "--warc-file", str(out / "site"), "-P", str(out / "files"),
                        f"http://127.0.0.1:{port}/"], cwd=out, check=False, timeout=3600)

    start = time.perf_counter()
    with ThreadPoolExecutor(parallel) as pool:
        list(pool.map(one, ports))
    took = time.perf_counter() - start
    return took, sum(1 for _ in work.rglob("*.html"))


def run_bewaar(ports: list[int], work: Path) -> dict[str, Any]:
    home = work / "bewaar-home"
    env = {k: v for k, v in os.environ.items() if not k.startswith("BEWAAR_")}
    env.update(ORG, BEWAAR_HOME=str(home), PYTHONPATH=str(ROOT),
               BEWAAR_ENRICH_AFTER_ARCHIVING="false")  # the harvest alone is measured
    register = ("import json, sys\n"
                "from bewaar.services.sites import add_site\n"
                "from bewaar.cli.common import settings\n"
                "s = settings()\n"
                "for i, port in enumerate(json.loads(sys.argv[1])):\n"
                "    add_site(s, 'bench', {'name': f'site{i:04}', "
                "'seeds': [f'http://127.0.0.1:{port}/']})\n")
    subprocess.run([PY, "-c", register, json.dumps(ports)], env=env, check=True, timeout=600)
    start = time.perf_counter()
    proc = subprocess.Popen([PY, "-m", "bewaar.cli.main", "harvest", "--json"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    mem = PeakMemory(proc.pid)
    stdout, stderr = proc.communicate(timeout=7200)
    took = time.perf_counter() - start
    mem.stop()
    if not stdout.strip():
        raise SystemExit(f"bewaar harvest failed (exit {proc.returncode}):\n{stderr[-3000:]}")
    runs = json.loads(stdout)["runs"]
    sealed = sum(1 for r in runs if r["status"] == "finished" and r["package"])
    by_name: dict[str, float] = {}
    for cpu, name in mem.cpu.values():
        by_name[name] = by_name.get(name, 0.0) + cpu
    return {"seconds": took, "pages": sum(r["pages"] for r in runs), "sites": len(runs),
            "sealed": sealed, "failed": sum(1 for r in runs if r["status"] != "finished"),
            "exit": proc.returncode, "peak_mb": mem.peak_kb / 1024,
            "peak_processes": mem.peak_procs,
            "cpu_s": {k: round(v, 1) for k, v in sorted(by_name.items(), key=lambda kv: -kv[1])}}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sites", type=int, default=200)
    ap.add_argument("--pages", type=int, default=30)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--wget", type=int, default=16, help="wget processes at once")
    ap.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.serve:
        serve_forever(args.sites, args.pages, args.latency)
        return
    server = subprocess.Popen([PY, __file__, "--serve", "--sites", str(args.sites), "--pages",
                               str(args.pages), "--latency", str(args.latency)],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    try:
        ports: list[int] = json.loads(server.stdout.readline())
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "wget").mkdir()
            w_time, w_pages = run_wget(ports, Path(tmp) / "wget", args.wget)
        with tempfile.TemporaryDirectory() as tmp:
            b = run_bewaar(ports, Path(tmp))
    finally:
        server.terminate()
        server.wait(timeout=10)
    ratio = b["seconds"] / w_time
    rate = b["pages"] / b["seconds"]
    cores = os.cpu_count() or 1
    daily = 1600 * 5000
    # Linear in cores: it assumes 16/cores times the crawl and after-step capacity measured here.
    hours = daily / (rate * 16 / cores) / 3600
    print(f"{args.sites} sites x {args.pages} pages at {args.latency * 1000:.0f} ms, {cores} cores "
          f"(shared machine):")
    print(f"  wget x{args.wget}: {w_time:.1f} s, {w_pages} pages, {w_pages / w_time:.1f} pages/s "
          "(crawl only)")
    print(f"  bewaar harvest: {b['seconds']:.1f} s, {b['pages']} pages, {rate:.1f} pages/s, "
          f"{b['sealed']}/{b['sites']} sealed, {b['failed']} failed, exit {b['exit']} "
          "(crawl, collection, replay check, seal)")
    print(f"  ratio {ratio:.2f}x wget's wall time [target <= 1.5x: "
          f"{'met' if ratio <= 1.5 else 'not met'}]; peak memory {b['peak_mb']:.0f} MB over "
          f"{b['peak_processes']} processes [target < 2048 MB: "
          f"{'met' if b['peak_mb'] < 2048 else 'not met'}]")
    print(f"  CPU seconds by process (sampled every 0.2 s): {b['cpu_s']}")
    # One harvest command and one crawl process, whatever the cores: each caps the rate at
    # pages / its CPU seconds (the replay check's pywb runs as up to four processes).
    caps = {name: b["pages"] / cpu * (4 if name in ("wayback", "warcserver") else 1)
            for name, cpu in b["cpu_s"].items() if cpu > 0}
    slowest = min(caps, key=lambda k: caps[k]) if caps else None
    if slowest is not None:
        print(f"  ceiling on 16 cores: {slowest!r} at {caps[slowest]:.0f} pages/s "
              f"(pages / its CPU seconds) = {daily / caps[slowest] / 3600:.1f} h a day")
    print(f"  projection: 1,600 sites x 5,000 pages/day = {daily:,} pages at {rate:.1f} pages/s "
          f"x 16/{cores} cores = {hours:.1f} h a day (linear in cores: an assumption)")
    print(json.dumps({"sites": args.sites, "pages_per_site": args.pages, "latency_s": args.latency,
                      "wget_s": round(w_time, 2), "wget_pages": w_pages,
                      "bewaar": {k: round(v, 2) if isinstance(v, float) else v
                                 for k, v in b.items()},
                      "ratio": round(ratio, 2), "projection_hours_per_day": round(hours, 1)},
                     indent=2))


if __name__ == "__main__":
    main()
