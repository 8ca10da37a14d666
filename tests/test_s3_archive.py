"""An operator keeps the archive in an S3 bucket (storage_url = s3://bucket/prefix).

moto's S3 server on 127.0.0.1 stands in for S3/MinIO/Ceph (none can run here: no internet, and
MinIO is not on the package registries); boto3 talks real HTTP to it (tests/s3.py). Everything
is checked with independent tools: boto3 directly for what the bucket holds, warcio on a
downloaded WARC, bagit-python on a downloaded package, httpx against pywb's replay.

One real crawl (module fixture) is shared by the checks that only read it; the tampering test
restores what it changed.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import socket
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import ROOT, TEST_ORGANISATION, TEST_QUIET, Bewaar
from tests.s3 import SECRET, S3Bucket, S3Server
from tests.sites.normal import NormalSite
from tests.wayback import serve

bagit = pytest.importorskip("bagit")
warcio_archive = pytest.importorskip("warcio.archiveiterator")

CACHE_BOUND = 60_000  # bytes: smaller than what one crawl stores, so the bound must evict


def _bewaar(home: Path, server: S3Server, bucket: str | None, **extra: str) -> Bewaar:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("BEWAAR_", "AWS_")) or k.startswith("BEWAAR_TEST")}
    env.update(TEST_ORGANISATION)
    env.update(TEST_QUIET, BEWAAR_HOME=str(home), PYTHONPATH=str(ROOT),
               BEWAAR_STORAGE_CACHE_SIZE=str(CACHE_BOUND), BEWAAR_LOG_LEVEL="DEBUG")
    env.update(server.env(bucket))
    env.update(extra)
    return Bewaar(home=home, env=env)


def _db(home: Path) -> sqlite3.Connection:
    return sqlite3.connect(home / "bewaar.sqlite3")


def _files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


@pytest.fixture(scope="module")
def stored(s3_server: S3Server, tmp_path_factory: pytest.TempPathFactory
           ) -> Iterator[tuple[Bewaar, NormalSite, S3Bucket, dict[str, Any]]]:
    """`bewaar crawl` of a local site with the archive in a bucket: QA and seal after it."""
    bucket = S3Bucket(s3_server, s3_server.new_bucket())
    home = tmp_path_factory.mktemp("s3-archive") / "home"
    b = _bewaar(home, s3_server, bucket.name)
    with NormalSite(pages=6) as site:
        b("site", "add", "normal", "--seed", site.url)
        result = b("crawl", "--site", "normal", "--json").json()
        yield b, site, bucket, result


def test_the_crawl_is_stored_in_the_bucket(stored: tuple[Bewaar, NormalSite, S3Bucket,
                                                         dict[str, Any]],
                                           tmp_path: Path) -> None:
    b, site, bucket, result = stored
    assert result["status"] == "finished", result
    after = result["after"]
    assert after["qa"]["passed"] is True, after  # the replay check read the WARCs from the bucket
    assert after["seal"]["ok"] is True, after
    keys = bucket.object_keys()
    warcs = [k for k in keys if k.startswith("depot/warcs/normal/") and k.endswith(".warc.gz")]
    cdxj = [k for k in keys if k.startswith("depot/indexes/normal/") and k.endswith(".cdxj")]
    package_id = after["seal"]["package_id"]
    package = [k for k in keys if k.startswith(f"depot/packages/{package_id}/")]
    assert warcs and len(cdxj) == len(warcs) and package, keys
    assert not any(".bewaar-probe-" in k for k in keys)  # the start-up probe cleaned up
    assert result["warc_files"] == [f"s3://{bucket.name}/{k}" for k in warcs]
    # The database records the bucket's URLs, never this machine's paths.
    with _db(b.home) as db:
        rows = db.execute("SELECT path, cdxj_path, sha256, size FROM warc_files").fetchall()
        (package_path,) = db.execute("SELECT path FROM packages").fetchone()
    assert package_path == f"s3://{bucket.name}/depot/packages/{package_id}"
    assert all(p.startswith("s3://") and c.startswith("s3://") for p, c, _, _ in rows), rows
    # warcio reads the WARC as the bucket holds it; its digest is the recorded one
    client = bucket.server.client()
    data = client.get_object(Bucket=bucket.name, Key=warcs[0])["Body"].read()
    assert hashlib.sha256(data).hexdigest() == rows[0][2] and len(data) == rows[0][3]
    uris = [r.rec_headers.get_header("WARC-Target-URI")
            for r in warcio_archive.ArchiveIterator(io.BytesIO(data))
            if r.rec_type == "response"]
    assert site.url in uris and f"{site.url}p/1.html" in uris
    assert b"CDXJ" not in data and gzip.decompress(data)[:8] == b"WARC/1.1"
    # bagit-python validates the package downloaded from the bucket
    target = tmp_path / package_id
    for k in package:
        out = target / k.removeprefix(f"depot/packages/{package_id}/")
        out.parent.mkdir(parents=True, exist_ok=True)
        client.download_file(bucket.name, k, str(out))
    bag = bagit.Bag(str(target / "bag"))
    bag.validate()
    assert any(n.startswith("data/warcs/") for n in bag.payload_files())
    # Local disk: no finished WARC or package left in the working area; the cache is bounded.
    assert not [p for p in _files(b.home / "warcs") if p.name.endswith(".warc.gz")]
    assert not [p for p in _files(b.home / "packages") if not p.name.startswith(".")]
    cached = sum(p.stat().st_size for p in _files(b.home / "object-cache"))
    stored_bytes = sum(o["Size"] for o in client.list_objects_v2(Bucket=bucket.name)["Contents"])
    assert stored_bytes > CACHE_BOUND >= cached
    # DEBUG logging on, and still no secret key in the logs, reports or the database
    _no_secret(b, json.dumps(result))


def test_replay_reads_the_bucket(stored: tuple[Bewaar, NormalSite, S3Bucket, dict[str, Any]]
                                 ) -> None:
    """pywb reads the WARCs' byte ranges from the bucket itself: no local copy is needed."""
    b, site, _, _ = stored
    for p in _files(b.home / "object-cache"):
        if p.name.endswith(".warc.gz"):
            p.unlink()
    assert not list((b.home / "collections" / "normal" / "archive").glob("*.warc.gz"))
    page = site.render("/p/2.html", "127.0.0.1")[2]
    with serve(b) as base:
        r = httpx.get(f"{base}/normal/2100id_/{site.url}p/2.html", timeout=30)
        assert r.status_code == 200 and r.content == page
    assert not [p for p in _files(b.home / "object-cache") if p.name.endswith(".warc.gz")]


def test_another_machine_replays_from_the_shared_database_and_bucket(
        stored: tuple[Bewaar, NormalSite, S3Bucket, dict[str, Any]],
        s3_server: S3Server, tmp_path: Path) -> None:
    """A replay machine with its own empty home, the crawling machine's database and the same
    bucket builds its collection from the bucket's CDXJ files when `bewaar replay serve` starts."""
    b, site, bucket, _ = stored
    other = _bewaar(tmp_path / "replay-home", s3_server, bucket.name,
                    BEWAAR_DATABASE_URL=f"sqlite:///{b.home / 'bewaar.sqlite3'}",
                    BEWAAR_LOG_LEVEL="WARNING")  # serve() reads stderr only at the end
    other.home.mkdir()
    page = site.render("/p/3.html", "127.0.0.1")[2]
    with serve(other) as base:
        r = httpx.get(f"{base}/normal/2100id_/{site.url}p/3.html", timeout=30)
        assert r.status_code == 200 and r.content == page
    runs = (other.home / "collections" / "normal" / "indexes" / "runs.txt").read_text().split()
    assert runs == [str(stored[3]["run_id"])]


def test_a_resume_reads_what_the_run_stored_from_the_bucket(
        stored: tuple[Bewaar, NormalSite, S3Bucket, dict[str, Any]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    """What a resumed run (on this or another machine) serves from its stored WARCs instead of
    fetching it again comes from the bucket, through the cache."""
    from archive import storage
    from archive.settings import load_settings
    from crawler.job import CrawlJob
    from crawler.ledger import stored_captures

    b, site, bucket, result = stored
    for key, value in bucket.server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("BEWAAR_HOME", str(b.home))
    storage._buckets.clear()
    settings = load_settings(home=b.home, storage_url=bucket.url,
                             storage_cache_size=CACHE_BOUND)
    for p in _files(b.home / "object-cache"):
        p.unlink()
    with _db(b.home) as db:
        (site_id,) = db.execute("SELECT id FROM sites WHERE name = 'normal'").fetchone()
    job = CrawlJob(run_id=result["run_id"], site_id=site_id, site_name="normal", kind="crawl",
                   seeds=[site.url]).bind(settings)
    with storage.in_use(settings):
        got = stored_captures(settings, job)
        page = got.response(f"{site.url}p/3.html")
    assert page is not None and page[0] == 200
    assert page[2] == site.render("/p/3.html", "127.0.0.1")[2]
    assert all(p.is_relative_to(b.home / "object-cache") for p in got.paths.values())


def test_verify_fixity_and_exports_read_the_bucket(
        stored: tuple[Bewaar, NormalSite, S3Bucket, dict[str, Any]], tmp_path: Path) -> None:
    b, _, bucket, result = stored
    package_id = result["after"]["seal"]["package_id"]
    assert b("verify", package_id, "--json").json()["valid"] is True
    url = f"s3://{bucket.name}/depot/packages/{package_id}"
    assert b("verify", url, "--json").json()["valid"] is True
    fixity = b("fixity", "--json").json()
    assert fixity["ok"] is True and fixity["files"] >= 2, fixity
    wacz = tmp_path / "run.wacz"
    b("export", "wacz", str(result["run_id"]), "-o", str(wacz))
    import zipfile

    with zipfile.ZipFile(wacz) as zf:
        names = zf.namelist()
        assert any(n.startswith("archive/") and n.endswith(".warc.gz") for n in names)
        assert "datapackage.json" in names
    sip = b("export", "sip", package_id, "-o", str(tmp_path / "sip"), "--json").json()
    assert (tmp_path / "sip" / "pakbon.xml").is_file(), sip
    assert list((tmp_path / "sip").rglob("*.warc.gz"))


def test_damage_in_the_bucket_is_found(
        stored: tuple[Bewaar, NormalSite, S3Bucket, dict[str, Any]]) -> None:
    """A changed WARC object fails fixity; a changed package object fails verify; a missing
    one too. Every object is put back afterwards."""
    b, _, bucket, result = stored
    client = bucket.server.client()
    package_id = result["after"]["seal"]["package_id"]
    warc_key = result["warc_files"][0].removeprefix(f"s3://{bucket.name}/")
    pkg_key = next(k for k in bucket.object_keys()
                   if k.startswith(f"depot/packages/{package_id}/bag/data/run/"))
    originals = {k: client.get_object(Bucket=bucket.name, Key=k)["Body"].read()
                 for k in (warc_key, pkg_key)}
    try:
        damaged = bytearray(originals[warc_key])
        damaged[len(damaged) // 2] ^= 0xFF
        client.put_object(Bucket=bucket.name, Key=warc_key, Body=bytes(damaged))
        res = b("fixity", "--json", check=False)
        assert res.returncode == 1, res.stderr
        problems = [f["problem"] for f in res.json()["findings"]]
        assert "WARC sha256 changed" in problems, problems
        client.put_object(Bucket=bucket.name, Key=pkg_key, Body=originals[pkg_key] + b"x")
        res = b("verify", package_id, "--json", check=False)
        assert res.returncode == 1 and res.json()["valid"] is False, res.stdout
        client.delete_object(Bucket=bucket.name, Key=warc_key)
        res = b("fixity", "--json", check=False)
        assert res.returncode == 1
        assert "WARC is missing from the bucket" in [f["problem"] for f in res.json()["findings"]]
    finally:
        for k, data in originals.items():
            client.put_object(Bucket=bucket.name, Key=k, Body=data)
    assert b("fixity", "--json").json()["ok"] is True
    assert b("verify", package_id, "--json").json()["valid"] is True


# Bad input: said at start, exit 2, no credential printed ----------------------------------
def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _no_secret(b: Bewaar, *outputs: str) -> None:
    for text in outputs:
        assert SECRET not in text
    for path in _files(b.home):
        if path.suffix in (".log", ".json", ".txt", ".sqlite3"):
            assert SECRET.encode() not in path.read_bytes(), path


@pytest.mark.parametrize("case", ["unreachable", "no-bucket", "wrong-key", "read-only"])
def test_a_bucket_that_cannot_be_used_stops_the_command_at_start(
        case: str, s3_server: S3Server, tmp_path: Path) -> None:
    bucket = s3_server.new_bucket()
    creds: dict[str, str] = {}
    extra: dict[str, str] = {}
    if case == "unreachable":
        extra["AWS_ENDPOINT_URL"] = f"http://127.0.0.1:{_closed_port()}"
        extra["AWS_MAX_ATTEMPTS"] = "1"
    elif case == "no-bucket":
        bucket = "archief-bestaat-niet"
    elif case == "wrong-key":
        creds = {"key": "AKIAWRONGWRONGWRONG1", "secret": SECRET}
    elif case == "read-only":
        creds = s3_server.read_only_user(bucket)
        extra["AWS_SECRET_ACCESS_KEY"] = creds["secret"]
    expected = {"unreachable": "cannot reach the object store", "no-bucket": "no such bucket",
                "wrong-key": "credentials are refused", "read-only": "not written"}[case]
    b = _bewaar(tmp_path / "home", s3_server, bucket, **extra)
    if creds:
        b.env["AWS_ACCESS_KEY_ID"] = creds["key"]
        b.env["AWS_SECRET_ACCESS_KEY"] = creds["secret"]
    secret = b.env["AWS_SECRET_ACCESS_KEY"]
    with NormalSite(pages=2) as site, s3_server.enforce_auth() if creds else contextlib.nullcontext():
        res = b("crawl", site.url, "--json", check=False, timeout=120)
        fix = b("fixity", check=False, timeout=120)
        replay = b("replay", "serve", "--port", "0", check=False, timeout=120)
        assert site.hits == {}  # refused before the first request
    for r in (res, fix, replay):
        assert r.returncode == 2, (r.stdout, r.stderr)
        assert expected in r.stderr and bucket in r.stderr, r.stderr
        assert secret not in r.stdout + r.stderr
    _no_secret(b, res.stdout, res.stderr, fix.stderr, replay.stderr)
    with _db(b.home) as db:
        assert db.execute("SELECT count(*) FROM crawl_runs").fetchone() == (0,)
        audit = " ".join(str(r) for r in db.execute("SELECT * FROM audit_log"))
    assert secret not in audit


# A failed upload --------------------------------------------------------------------------
def test_a_failed_upload_keeps_the_file_and_a_rerun_stores_it(s3_server: S3Server,
                                                              tmp_path: Path) -> None:
    """The bucket takes the start-up probe but refuses the WARCs (an IAM policy): the run
    ends failed saying so, the finished WARC stays here, recorded by its local path, nothing
    is in the bucket; `bewaar seal RUN` once the bucket takes writes stores it, then seals."""
    bucket = s3_server.new_bucket()
    iam = __import__("boto3").client("iam", endpoint_url=s3_server.endpoint,
                                     region_name="eu-west-1", aws_access_key_id="testing",
                                     aws_secret_access_key=SECRET)
    iam.create_user(UserName="prober")
    iam.put_user_policy(UserName="prober", PolicyName="p", PolicyDocument=json.dumps({
        "Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Action": ["s3:HeadBucket", "s3:ListBucket", "s3:GetObject",
                                           "s3:DeleteObject"],
             "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]},
            {"Effect": "Allow", "Action": ["s3:PutObject"],
             "Resource": [f"arn:aws:s3:::{bucket}/depot/.bewaar-probe-*"]}]}))
    key = iam.create_access_key(UserName="prober")["AccessKey"]
    b = _bewaar(tmp_path / "home", s3_server, bucket, BEWAAR_SEAL_AFTER_CRAWL="false",
                BEWAAR_QA_AFTER_CRAWL="false", AWS_ACCESS_KEY_ID=key["AccessKeyId"],
                AWS_SECRET_ACCESS_KEY=key["SecretAccessKey"], AWS_MAX_ATTEMPTS="1")
    with NormalSite(pages=2) as site, s3_server.enforce_auth():
        res = b("crawl", site.url, "--json", check=False)
    out = res.json()
    assert out["status"] == "failed" and "not stored" in out["error"], out
    assert key["SecretAccessKey"] not in res.stdout + res.stderr
    assert not [k for k in S3Bucket(s3_server, bucket).object_keys() if "/warcs/" in k]
    with _db(b.home) as db:
        (path,) = db.execute("SELECT path FROM warc_files").fetchone()
    assert not path.startswith("s3://") and Path(path).is_file()
    # the bucket takes writes again (moto without its IAM check): the re-run stores and seals
    b.env.update(AWS_ACCESS_KEY_ID="testing", AWS_SECRET_ACCESS_KEY=SECRET)
    sealed = b("seal", str(out["run_id"]), "--json").json()
    with _db(b.home) as db:
        (path,) = db.execute("SELECT path FROM warc_files").fetchone()
        (package_path,) = db.execute("SELECT path FROM packages").fetchone()
        status = db.execute("SELECT status, error FROM crawl_runs").fetchone()
    assert path.startswith(f"s3://{bucket}/depot/warcs/") and package_path.startswith("s3://")
    assert status == ("finished", None)  # what the crawl was, now that its files are stored
    keys = S3Bucket(s3_server, bucket).object_keys()
    assert path.removeprefix(f"s3://{bucket}/") in keys
    assert any(k.startswith(f"depot/packages/{sealed['id']}/") for k in keys)
    assert b("verify", sealed["id"], "--json").json()["valid"] is True


def test_the_cache_is_bounded_least_recently_used_first(tmp_path: Path) -> None:
    import time

    from archive.storage import ObjectCache

    c = ObjectCache(tmp_path / "cache", limit=2500)
    paths = []
    for i, name in enumerate(["a", "b", "c"]):
        src = tmp_path / name
        src.write_bytes(bytes(1000))
        paths.append(c.adopt(src, f"warcs/s/{name}"))
        os.utime(paths[-1], (time.time() - 100 + i, time.time() - 100 + i))
    c.used(paths[0])  # "a" was used last: "b" is the least recently used
    assert c.evict() == 1000
    assert [p.exists() for p in paths] == [True, False, True] and c.size() <= 2500
    c.limit = 0
    c.evict(keep=[paths[2]])  # a file in use stays, even past the bound
    assert [p.exists() for p in paths] == [False, False, True]


# Destruction ------------------------------------------------------------------------------
def test_destruction_deletes_the_objects_and_leaves_a_tombstone(
        bewaar: Bewaar, home: Path, s3: S3Bucket) -> None:
    from tests.test_destruction_execute import (
        NO_QA,
        approved_list,
        crawl,
        people,
        selectielijst,
    )

    bewaar.env.update(s3.env())
    selectielijst(home)
    people()
    with NormalSite(pages=2) as site:
        run = crawl(bewaar, "tijdelijk", site.url, "V0")
    with _db(home) as db:
        (package_id, package_path) = db.execute("SELECT id, path FROM packages").fetchone()
        warcs = [r[0] for r in db.execute("SELECT path FROM warc_files WHERE run_id = ?",
                                          (run,))]
    assert package_path.startswith("s3://") and warcs
    before = s3.object_keys()
    assert any(k.startswith(f"depot/packages/{package_id}/") for k in before)
    n, _ = approved_list(bewaar)
    out = bewaar("destroy", "execute", n, "--user", "carla", "--json", env=NO_QA).json()
    assert out["state"] == "executed" and [d["package"] for d in out["destroyed"]] == [package_id]
    after = s3.object_keys()
    assert not [k for k in after if k.startswith(f"depot/packages/{package_id}/")]
    assert not [k for k in after if k.startswith(("depot/warcs/", "depot/indexes/"))], after
    # the tombstone stays, in the database and beside where the package was in the bucket
    stone = f"depot/packages/{package_id}.destroyed.json"
    assert stone in after
    body = json.loads(s3.server.client().get_object(Bucket=s3.name, Key=stone)["Body"].read())
    assert body["package"] == package_id
    with _db(home) as db:
        assert db.execute("SELECT package_id FROM tombstones").fetchall() == [(package_id,)]
    # the verklaring van vernietiging is a package in the bucket too
    assert any(k.startswith(f"depot/packages/{out['verklaring']}/") for k in after)
    assert not [p for p in _files(home / "object-cache") if package_id in str(p)
                and not p.name.endswith(".destroyed.json")]


def test_the_cache_counts_a_linked_file_once(tmp_path: Path) -> None:
    """A package's WARC is a hard link to the cached WARC: one file on disk, counted once, and
    freed only when both names go."""
    from archive.storage import ObjectCache

    c = ObjectCache(tmp_path / "cache", limit=1500)
    src = tmp_path / "w"
    src.write_bytes(bytes(1000))
    warc = c.adopt(src, "warcs/s/w.warc.gz")
    copy = c.path("packages/p/bag/data/warcs/w.warc.gz")
    copy.parent.mkdir(parents=True)
    os.link(warc, copy)
    assert c.size() == 1000 and c.evict() == 0 and warc.exists() and copy.exists()
    other = tmp_path / "o"
    other.write_bytes(bytes(1000))
    newer = c.adopt(other, "warcs/s/o.warc.gz")
    os.utime(newer, (time_now() + 10, time_now() + 10))
    assert c.evict() == 1000  # both names of the older file go; the newer stays
    assert not warc.exists() and not copy.exists() and newer.exists()


def time_now() -> float:
    import time

    return time.time()
