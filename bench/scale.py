"""Scale-out: the harvest benchmark's sites crawled by one and by two `bewaar worker` processes.

    .venv/bin/python bench/scale.py [--sites 20] [--pages 20] [--latency 0.05] [--concurrency 4]
                                    [--db postgresql://postgres@127.0.0.1:5432/postgres]

The same generated sites as bench/harvest.py (each its own 127.0.0.1:PORT, PAGES pages at
LATENCY seconds per response, served by one separate process). For W = 1, then W = 2, a fresh
PostgreSQL database and a fresh bucket on moto's S3 server (the stand-in for S3 that runs
here, on loopback) are made; the sites are registered and one crawl per site is queued
(`bewaar schedule run`, task_queue = "postgres"); then W `bewaar worker --concurrency C`
processes, each with its own BEWAAR_HOME (a machine's local disk), take the jobs: crawl,
collection, replay check, seal, WARCs and package into the bucket. Timed from the workers'
start to the last run finished. Printed per W: wall time, pages/s, runs finished and sealed,
the CPU seconds of each worker's process tree by program (where the time goes) and the share
of the machine's cores they used; then the speed-up of two workers over one.

On one 2-core machine two workers share the same cores, so the speed-up shows what the queue
costs and how well the workers keep the cores busy, not what a second machine would add.
No target is asserted.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
import harvest  # noqa: E402  (its site server and process-tree sampling)

PY = sys.executable


def _sql(url: str, sql: str, autocommit: bool = False) -> list[tuple[Any, ...]]:
    import psycopg

    with psycopg.connect(url, autocommit=autocommit, connect_timeout=10) as conn:
        cur = conn.execute(sql)
        return list(cur.fetchall()) if cur.description else []


def run_workers(n: int, ports: list[int], admin_url: str, s3_env: dict[str, str],
                concurrency: int, work: Path) -> dict[str, Any]:
    name = f"bench_scale_{uuid.uuid4().hex[:8]}"
    _sql(admin_url, f'CREATE DATABASE "{name}"', autocommit=True)
    db_url = admin_url.rsplit("/", 1)[0] + "/" + name
    bucket = f"scale-{uuid.uuid4().hex[:8]}"
    import boto3

    boto3.client("s3", endpoint_url=s3_env["AWS_ENDPOINT_URL"]).create_bucket(
        Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": "eu-west-1"})
    base = {k: v for k, v in os.environ.items() if not k.startswith(("BEWAAR_", "AWS_"))}
    base.update({**harvest.ORG, **s3_env})
    base.update(PYTHONPATH=str(ROOT), BEWAAR_DATABASE_URL=db_url, BEWAAR_TASK_QUEUE="postgres",
                BEWAAR_STORAGE_URL=f"s3://{bucket}/archief")

    def env(machine: str) -> dict[str, str]:
        home = work / f"home-{machine}"
        home.mkdir(exist_ok=True)
        return {**base, "BEWAAR_HOME": str(home)}

    def bewaar(*args: str) -> None:
        subprocess.run([PY, "-m", "bewaar.cli.main", *args], env=env("admin"), check=True,
                       capture_output=True, timeout=600)

    workers: list[subprocess.Popen[str]] = []
    try:
        bewaar("keys", "init")
        for i, port in enumerate(ports):
            bewaar("site", "add", f"site{i:04}", "--seed", f"http://127.0.0.1:{port}/")
        for i in range(len(ports)):
            bewaar("schedule", "run", f"site{i:04}")
        start = time.perf_counter()
        workers = [subprocess.Popen([PY, "-m", "bewaar.cli.main", "worker", "--concurrency",
                                     str(concurrency)], env=env(f"w{w}"), text=True,
                                    stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                    start_new_session=True) for w in range(n)]
        samplers = [harvest.PeakMemory(w.pid) for w in workers]
        deadline = time.monotonic() + 3600
        while time.monotonic() < deadline:
            done = _sql(db_url, "SELECT count(*) FROM job_runs WHERE status IN "
                                "('finished', 'failed')")[0][0]
            if done >= len(ports) or any(w.poll() is not None for w in workers):
                break
            time.sleep(0.5)
        took = time.perf_counter() - start
        for s in samplers:
            s.stop()
        runs = _sql(db_url, "SELECT r.status, r.pages, p.id IS NOT NULL FROM crawl_runs r "
                            "LEFT JOIN packages p ON p.run_id = r.id")
        cpu: list[dict[str, float]] = []
        for s in samplers:
            by_name: dict[str, float] = {}
            for seconds, prog in s.cpu.values():
                by_name[prog] = by_name.get(prog, 0.0) + seconds
            cpu.append({k: round(v, 1) for k, v in sorted(by_name.items(), key=lambda kv: -kv[1])})
        return {"workers": n, "seconds": took, "runs": len(runs),
                "finished": sum(1 for r in runs if r[0] == "finished"),
                "sealed": sum(1 for r in runs if r[2]), "pages": sum(r[1] or 0 for r in runs),
                "peak_mb": sum(s.peak_kb for s in samplers) / 1024, "cpu_s": cpu}
    finally:
        for w in workers:
            if w.poll() is None:
                os.killpg(w.pid, signal.SIGTERM)
        for w in workers:
            try:
                w.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(w.pid, signal.SIGKILL)
        _sql(admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)', autocommit=True)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--sites", type=int, default=20)
    ap.add_argument("--pages", type=int, default=20)
    ap.add_argument("--latency", type=float, default=0.05)
    ap.add_argument("--concurrency", type=int, default=4, help="jobs at once per worker")
    ap.add_argument("--db", default="postgresql://postgres@127.0.0.1:5432/postgres",
                    help="a PostgreSQL database to connect to while making the bench's own")
    args = ap.parse_args()
    from moto.server import ThreadedMotoServer

    s3 = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    s3.start()
    host, port = s3.get_host_and_port()
    s3_env = {"AWS_ENDPOINT_URL": f"http://{host}:{port}", "AWS_ACCESS_KEY_ID": "bench",
              "AWS_SECRET_ACCESS_KEY": "bench-secret", "AWS_DEFAULT_REGION": "eu-west-1"}
    os.environ.update(s3_env)  # for this process's boto3 client
    server = subprocess.Popen([PY, harvest.__file__, "--serve", "--sites", str(args.sites),
                               "--pages", str(args.pages), "--latency", str(args.latency)],
                              stdout=subprocess.PIPE, text=True)
    assert server.stdout is not None
    results = []
    try:
        ports: list[int] = json.loads(server.stdout.readline())
        for n in (1, 2):
            with TemporaryDirectory() as tmp:
                results.append(run_workers(n, ports, args.db, s3_env, args.concurrency,
                                           Path(tmp)))
    finally:
        server.terminate()
        server.wait(timeout=10)
        s3.stop()
    cores = os.cpu_count() or 1
    for r in results:
        busy = sum(sum(c.values()) for c in r["cpu_s"]) / r["seconds"] / cores
        print(f"{r['workers']} worker(s) x {args.concurrency} jobs: {r['seconds']:.1f} s, "
              f"{r['pages'] / r['seconds']:.0f} pages/s, {r['finished']}/{r['runs']} runs "
              f"finished, {r['sealed']} sealed, peak {r['peak_mb']:.0f} MB, cores busy "
              f"{busy:.0%}")
        for i, c in enumerate(r["cpu_s"]):
            print(f"  worker {i + 1} CPU-s: " + ", ".join(f"{k} {v}" for k, v in c.items()))
    one, two = results
    print(f"speed-up of two workers over one: {one['seconds'] / two['seconds']:.2f}x "
          f"({args.sites} sites x {args.pages} pages at {args.latency * 1000:.0f} ms, "
          f"{cores} cores)")


if __name__ == "__main__":
    main()
