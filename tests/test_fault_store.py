"""Fault: the object store goes away mid-crawl and comes back later.

moto's S3 server on 127.0.0.1 stands in for S3/MinIO (nothing else can run here): a private one
for this test, stopped after the crawl's first WARC is in the bucket and started again on the
same port afterwards (moto keeps its buckets in this process). Checked with boto3, hashlib,
warcio, bagit-python and SQL: the run ends `failed` saying what is not stored, nothing is
recorded under an s3:// URL that is not in the bucket as recorded, the files the store refused
stay whole on this machine under their recorded paths, and `bewaar seal RUN` (the documented
re-run) stores them and seals once the store is back.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import bagit
import pytest

from tests.conftest import BEWAAR
from tests.faults import read_warc, sql
from tests.s3 import S3Server
from tests.sites import NormalSite


def _moto(port: int = 0) -> Any:
    moto_server = pytest.importorskip("moto.server")
    server = moto_server.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    return server


def _check_rows(db: Path, store: S3Server, bucket: str) -> tuple[list[str], list[str]]:
    """Every WARC row: an s3:// one is in the bucket with its recorded size and sha256, a
    local one is a whole file here with them. Returns (s3 rows, local rows)."""
    in_bucket, local = [], []
    for path, size, sha in sql(db, "select path, size, sha256 from warc_files"):
        if path.startswith("s3://"):
            key = path.removeprefix(f"s3://{bucket}/")
            body = store.client().get_object(Bucket=bucket, Key=key)["Body"].read()
            assert len(body) == size and hashlib.sha256(body).hexdigest() == sha, path
            with tempfile.NamedTemporaryFile(suffix=".warc.gz") as fh:
                fh.write(body)
                fh.flush()
                read_warc(Path(fh.name))
            in_bucket.append(path)
        else:
            p = Path(path)
            assert p.is_file() and p.stat().st_size == size, path
            assert hashlib.sha256(p.read_bytes()).hexdigest() == sha, path
            read_warc(p)
            local.append(path)
    return in_bucket, local


def test_store_down_mid_crawl_fails_with_reason_and_seal_stores_it_later(bewaar: Any) -> None:
    server = _moto()
    host, port = server.get_host_and_port()
    store = S3Server(f"http://{host}:{port}")
    bucket = store.new_bucket()
    env = {**bewaar.env, **store.env(bucket), "BEWAAR_QA_AFTER_CRAWL": "false",
           "BEWAAR_WARC_MAX_SIZE": "1000000", "BEWAAR_CONCURRENCY_PER_HOST": "2",
           "AWS_MAX_ATTEMPTS": "1", "AWS_CONNECT_TIMEOUT": "2"}
    db = bewaar.home / "bewaar.sqlite3"
    try:
        with NormalSite(pages=80, latency=0.03) as site:
            bewaar("site", "add", "demo", "--seed", site.url)
            proc = subprocess.Popen([*BEWAAR, "crawl", "--site", "demo", "--json"], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            try:
                deadline = time.monotonic() + 120
                while time.monotonic() < deadline and proc.poll() is None:
                    if db.exists() and sql(db, "select count(*) from warc_files "
                                               "where path like 's3://%'")[0][0] >= 1:
                        break
                    time.sleep(0.05)
                else:
                    raise AssertionError("no WARC reached the bucket")
                server.stop()  # the store goes away mid-crawl
                stdout, stderr = proc.communicate(timeout=180)
            finally:
                if proc.poll() is None:
                    proc.kill()
                    proc.communicate(timeout=30)
        assert proc.returncode == 1, stderr
        out = json.loads(stdout)
        assert out["status"] == "failed" and "not stored" in out["error"], out
        assert "bewaar seal 1" in out["error"] and "Traceback" not in stderr
        [(status, error)] = sql(db, "select status, error from crawl_runs")
        assert status == "failed" and "not stored" in error

        server = _moto(port)  # the store is back, its bucket with it
        in_bucket, local = _check_rows(db, store, bucket)
        assert in_bucket and local  # stored before the fault; kept here during it

        sealed = subprocess.run([*BEWAAR, "seal", "1", "--json"], env=env, capture_output=True,
                                text=True, timeout=180)
        assert sealed.returncode == 0, sealed.stderr
        in_bucket, local = _check_rows(db, store, bucket)
        assert in_bucket and not local  # every WARC stored now
        [(status, error)] = sql(db, "select status, error from crawl_runs")
        assert (status, error) == ("finished", None)
        [(package,)] = sql(db, "select path from packages")
        assert package.startswith(f"s3://{bucket}/")
        prefix = package.removeprefix(f"s3://{bucket}/").rstrip("/") + "/"
        client = store.client()
        keys = [o["Key"] for p in client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=prefix) for o in p.get("Contents", [])]
        with tempfile.TemporaryDirectory() as tmp:
            for key in keys:  # the package as the bucket holds it, checked by bagit-python
                target = Path(tmp) / key.removeprefix(prefix)
                target.parent.mkdir(parents=True, exist_ok=True)
                client.download_file(bucket, key, str(target))
            bagit.Bag(str(Path(tmp) / "bag")).validate()
    finally:
        server.stop()
